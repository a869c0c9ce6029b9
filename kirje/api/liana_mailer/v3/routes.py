"""The v3 routing table: resource path pattern -> function taking the parsed query string (and
the path's ids). Marks as in shared/api/liana-mailer.md: seed paths are printed in seed 001,
inferred ones are our reading; correcting one is a one-line change."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from kirje.api.liana_mailer.v3 import deliveries, events


@dataclass(frozen=True)
class Route:
    """`{name}` in a pattern is a numeric id, passed to the function by that name."""

    pattern: str
    function: Callable
    mark: Literal["seed", "inferred"]
    _regex: re.Pattern = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[0-9]{1,18})", re.escape(self.pattern))
        object.__setattr__(self, "_regex", re.compile(regex))

    def match(self, path: str) -> dict[str, int] | None:
        found = self._regex.fullmatch(path)
        return None if found is None else {k: int(v) for k, v in found.groupdict().items()}


ROUTES: tuple[Route, ...] = (
    Route("events", events.list_events, "seed"),
    Route("deliveries/{delivery_id}/openers", deliveries.openers, "seed"),
    Route("deliveries/{delivery_id}/clickers", deliveries.clickers, "seed"),
)


def find_route(path: str) -> tuple[Route, dict[str, int]] | None:
    """The route of a resource path (without /api/v3/) and the ids in it."""
    for route in ROUTES:
        ids = route.match(path.strip("/"))
        if ids is not None:
            return route, ids
    return None
