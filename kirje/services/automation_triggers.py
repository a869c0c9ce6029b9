"""The automation trigger point: where stored events are handed to the automations.

The automation engine is not built yet; until it is, nothing is registered and handing over
does nothing. Entry points that store events call `events_arrived` after their commit, so an
automation never acts on an event that a rollback took back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from kirje.domain.event_imports import ArrivedEvent

log = logging.getLogger(__name__)

AutomationHook = Callable[[int, Sequence[ArrivedEvent]], None]


class AutomationTriggers:
    def __init__(self) -> None:
        self._hooks: list[AutomationHook] = []

    def register(self, hook: AutomationHook) -> None:
        self._hooks.append(hook)

    def unregister(self, hook: AutomationHook) -> None:
        self._hooks.remove(hook)

    @property
    def are_listened_to(self) -> bool:
        """Whether anything is registered (callers need not build the events otherwise)."""
        return bool(self._hooks)

    def events_arrived(self, account_id: int, events: Sequence[ArrivedEvent]) -> None:
        if not events:
            return
        for hook in list(self._hooks):
            try:
                hook(account_id, events)
            except Exception:
                # The events are stored and acknowledged; an automation's failure is its own.
                log.exception("automation hook %r failed", hook)
