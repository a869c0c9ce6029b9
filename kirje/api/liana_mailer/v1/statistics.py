"""v1 Statistics: the account's statistics and the deliverability rating of its deliveries.

getStatistics counts recipients and lists not deleted, every delivery (hidden ones too), and
the mail events: messages accepted (sent), opens, clicks, bounces and uses of an unsubscribe
link. getDeliverabilityRatings rates the newest deliveries not hidden, newest first; the
rating and its rates are kirje.domain.delivery_reports.deliverability (complaints are 0:
Kirje takes no feedback-loop reports yet).
"""

from __future__ import annotations

from kirje.api.liana_mailer.dispatch import Call
from kirje.api.liana_mailer.views import local_time


def get_statistics(ctx: Call) -> dict:
    found = ctx.delivery_reports.statistics()
    return {
        "recipients": found.contacts,
        "lists": found.lists,
        "deliveries": found.deliveries,
        "sent": found.sent,
        "opens": found.opens,
        "clicks": found.clicks,
        "bounces": found.bounces,
        "unsubscribes": found.unsubscribes,
    }


def get_deliverability_ratings(ctx: Call, count: int = 1, offset: int = 0) -> list[dict]:
    """count: 1-100 deliveries (default 1), after skipping offset."""
    return [
        {
            "delivery_id": rated.delivery_id,
            "subject": rated.subject,
            "created": local_time(rated.created_at),
            "sent": rated.deliverability.tried,
            "bounce_rate": rated.deliverability.bounce_rate,
            "complaint_rate": rated.deliverability.complaint_rate,
            "unsubscribe_rate": rated.deliverability.unsubscribe_rate,
            "rating": rated.deliverability.rating,
        }
        for rated in ctx.delivery_reports.ratings(count, offset)
    ]
