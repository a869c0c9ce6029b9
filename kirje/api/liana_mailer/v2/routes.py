"""The v2 routing table: resource path -> function taking the keyed JSON body. Paths marked
inferred in shared/api/liana-mailer.md are our reading; correcting one is a one-line change."""

from __future__ import annotations

from collections.abc import Callable

from kirje.api.liana_mailer.v2 import deliveries, imports

IMPLEMENTED: dict[str, Callable] = {
    "import/mailinglist": imports.import_mailinglist,
    "deliveries/batch-send": deliveries.batch_send,
    "deliveries/event-send": deliveries.event_send,
    "deliveries/webpage-send": deliveries.webpage_send,  # inferred path
}
