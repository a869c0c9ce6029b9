"""The v2 routing table: resource path -> function taking the keyed JSON body. Paths marked
inferred in shared/api/liana-mailer.md are our reading; correcting one is a one-line change."""

from __future__ import annotations

from collections.abc import Callable

from kirje.api.liana_mailer.v2 import imports

IMPLEMENTED: dict[str, Callable] = {
    "import/mailinglist": imports.import_mailinglist,
}
