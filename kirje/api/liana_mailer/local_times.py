"""Times as LianaMailer clients write them: ISO 8601, and Helsinki time when no offset is given."""

from __future__ import annotations

from datetime import datetime

from kirje.api.liana_mailer.views import HELSINKI
from kirje.domain.errors import Invalid


def parse_local_time(text: str, name: str) -> datetime:
    """`2019-12-20 14:00:00`, `2020-01-15T12:00:00+02:00`, `...+0200` or `...Z`; a date alone is
    its midnight. Without an offset the time is Helsinki's, the dialect's home zone."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except (ValueError, AttributeError):
        raise Invalid(f"{name} {text!r} is not a time (e.g. 2019-12-20 14:00:00)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=HELSINKI)
