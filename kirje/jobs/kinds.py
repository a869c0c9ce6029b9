"""Which handler runs each job kind: the registry a worker looks a claimed job up in."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from kirje.domain.jobs import JobResult

if TYPE_CHECKING:
    from kirje.jobs.context import JobContext

Handler = Callable[["JobContext"], JobResult]

# Modules that register job kinds when imported; a worker imports them all before it runs jobs.
KIND_MODULES: tuple[str, ...] = (
    "kirje.jobs.ping",
    "kirje.jobs.imports",
    "kirje.jobs.event_handles",
    "kirje.jobs.deliveries",
)

_handlers: dict[str, Handler] = {}


def register(kind: str, handler: Handler) -> Handler:
    """Makes handler run the jobs of this kind; registering one kind twice is a mistake."""
    existing = _handlers.get(kind)
    if existing is not None and existing is not handler:
        raise ValueError(f"job kind {kind!r} already has a handler: {existing!r}")
    _handlers[kind] = handler
    return handler


def handler_for(kind: str) -> Handler | None:
    load_kinds()
    return _handlers.get(kind)


def load_kinds() -> None:
    for module in KIND_MODULES:
        importlib.import_module(module)
