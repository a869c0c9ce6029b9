"""v1 Mailing: deliveries cancelled, rescheduled, hidden, deleted and shown on RSS feeds, their
listings and tracked links, and what was tracked of a mail (opens, clicks, subscriptions).

The seed documents these by title and request sample only (every response object is collapsed),
so the shapes here are Kirje's, named after the report fields the seed does print."""

from __future__ import annotations

import csv
import io

import msgspec

from kirje.api.liana_mailer.dispatch import Call, keyed_options
from kirje.api.liana_mailer.local_times import parse_local_time
from kirje.api.liana_mailer.views import local_time
from kirje.domain.deliveries import DeliveryLink, DeliveryOverview
from kirje.domain.errors import Invalid

# getMailLinkTrackingData's header, as the seed prints it. Kirje keeps no addresses, language
# headers or places of the people who click: those columns stay empty.
LINK_TRACKING_HEADER = (
    "link_id;clicked_at;useragent;acceptlanguage;remote_addr;hostname;continent_code;"
    "org_name;country_code;country_code3;country_name;region;city;postal_code;latitude;"
    "longitude;dma_code;area_code;member_id;member_email"
)
_UNKNOWN_CLICK_COLUMNS = 15  # acceptlanguage ... area_code


class RescheduleOptions(msgspec.Struct, forbid_unknown_fields=True):
    # When the new delivery starts (Helsinki time without an offset); absent: at once.
    scheduled: str | None = None
    # Whether those sent the message before get it again; absent: as the original chose.
    recipients_reset: bool | None = None


# Deliveries


def cancel_delivery(ctx: Call, delivery_id: int) -> int:
    ctx.deliveries.cancel(delivery_id)
    return 1


def cancel_related_delivery(ctx: Call, delivery_id: int) -> int:
    ctx.deliveries.cancel_related(delivery_id)
    return 1


def delete_delivery(ctx: Call, delivery_id: int) -> int:
    """Inferred (the seed names it only): what to try when cancelDelivery fails."""
    ctx.deliveries.delete(delivery_id)
    return 1


def hide_delivery(ctx: Call, delivery_id: int) -> int:
    ctx.deliveries.hide(delivery_id)
    return 1


def reschedule_delivery_to_mailing_list(
    ctx: Call, delivery_id: int, list_id: int | None = None, options: dict | None = None
) -> int:
    chosen = keyed_options(options, RescheduleOptions, "options")
    delivery = ctx.deliveries.reschedule(
        delivery_id,
        list_id,
        scheduled_at=parse_local_time(chosen.scheduled, "scheduled") if chosen.scheduled else None,
        recipients_reset=chosen.recipients_reset,
    )
    return delivery.id


def get_delivery(ctx: Call, delivery_id: int | None = None) -> list[dict]:
    return [delivery_view(item) for item in ctx.deliveries.overviews(delivery_id)]


def get_scheduled_deliveries(ctx: Call) -> list[dict]:
    return [delivery_view(item) for item in ctx.deliveries.scheduled()]


def get_related_deliveries(ctx: Call, delivery_id: int | None = None) -> list[dict]:
    return [delivery_view(item) for item in ctx.deliveries.related(delivery_id)]


def is_sending_blocked(ctx: Call) -> bool:
    # Kirje has no sending quota or abuse lock on an account: nothing ever blocks it.
    return False


# RSS feeds


def set_archived_state(
    ctx: Call, delivery_id: int, archive: list[str | list[str]] | None = None
) -> list[str]:
    if archive is None:
        raise Invalid("parameter 2 (archive) is required: the feed names")
    return ctx.deliveries.show_on_feeds(delivery_id, _flat(archive))


def set_syndicated_state(
    ctx: Call,
    delivery_id: int,
    archive: list[str | list[str]] | None = None,
    ingress: str | None = None,
) -> list[str]:
    return ctx.deliveries.syndicate(delivery_id, _flat(archive or []), ingress)


def get_syndications(ctx: Call, delivery: int | None = None) -> list[str]:
    if delivery is None:
        raise Invalid("parameter 1 (delivery) is required")
    return ctx.deliveries.feeds(delivery)


def _flat(names: list[str | list[str]]) -> list[str]:
    """The seed types the feeds "array of arrays": a nested list's names count as well."""
    return [name for item in names for name in (item if isinstance(item, list) else [item])]


# Links and tracking


def get_link_data(ctx: Call, delivery_id: int) -> list[dict]:
    return [link_view(link) for link in ctx.deliveries.links_of_delivery(delivery_id)]


def get_all_links(ctx: Call) -> list[dict]:
    return [link_view(link) for link in ctx.deliveries.all_links()]


def get_mail_link_data(ctx: Call, mail_id: int) -> list[dict]:
    return [link_view(link) for link in ctx.deliveries.links_of_message(mail_id)]


def get_mail_link_tracking_data(ctx: Call, mail_id: int, since: str | None = None) -> str:
    """Every click on the mail's links (since a Helsinki time): `from` in the seed."""
    clicks = ctx.deliveries.clicks_of_message(mail_id, _since(since))
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\n")
    for click in clicks:
        writer.writerow(
            [
                click.link_id if click.link_id is not None else "",
                local_time(click.at),
                click.user_agent or "",
                *[""] * _UNKNOWN_CLICK_COLUMNS,
                click.contact_id if click.contact_id is not None else "",
                click.email or "",
            ]
        )
    rows = buffer.getvalue().removesuffix("\n")
    return f"{LINK_TRACKING_HEADER}\n{rows}" if rows else LINK_TRACKING_HEADER


def get_mail_open_tracking_data(ctx: Call, mail_id: int, since: str | None = None) -> list[dict]:
    return [
        {
            "delivery_id": open_.delivery_id,
            "opened_at": local_time(open_.at),
            "useragent": open_.user_agent,
            "member_id": open_.contact_id,
            "member_email": open_.email,
        }
        for open_ in ctx.deliveries.opens_of_message(mail_id, _since(since))
    ]


def get_mail_name(ctx: Call, mail_id: int) -> str:
    message = ctx.messages.get(mail_id)
    return message.name or message.subject


def get_mail_tracking_state(ctx: Call, mail_id: int) -> dict:
    ctx.messages.get(mail_id)
    # Every mail Kirje sends carries the open pixel and tracked links.
    return {"opens": True, "links": True}


def get_subscription_data(ctx: Call, since: str | None = None) -> list[dict]:
    return [
        {
            "member_id": s.contact_id,
            "email": s.email,
            "list_id": s.list_id,
            "time": local_time(s.at),
            "origin": s.origin,
        }
        for s in ctx.history.subscriptions(_since(since))
    ]


def get_tell_a_friend_data(ctx: Call, delivery_id: int | None = None) -> list:
    """The seed's shape (an object and two arrays), empty: Kirje's mail has no tell-a-friend."""
    if delivery_id is not None:
        ctx.deliveries.get(delivery_id)
    return [{}, [], []]


def _since(text: str | None):
    return parse_local_time(text, "from") if text else None


# Shapes


def delivery_view(item: DeliveryOverview) -> dict:
    delivery, counts = item.delivery, item.counts
    return {
        "id": delivery.id,
        "mail_id": delivery.message_id,
        "mail_name": item.message_name,
        "subject": item.subject,
        "type": delivery.kind.value,
        "status": delivery.state.value,
        "list_id": delivery.list_ids[0] if delivery.list_ids else None,
        "list_ids": list(delivery.list_ids),
        "created": local_time(delivery.created_at),
        "scheduled": local_time(delivery.scheduled_at),
        "started": local_time(delivery.started_at),
        "finished": local_time(delivery.finished_at),
        # The ledger: everyone the delivery goes to, and where each one stands.
        "members": counts.total,
        "delivered": counts.sent,
        "failed": counts.failed,
        "unknown": counts.unknown,
        "cancelled": counts.cancelled,
        "pending": counts.in_progress,
        "hidden": delivery.hidden,
        "related_to": delivery.related_to,
        "archive": list(delivery.archives or []),
    }


def link_view(link: DeliveryLink) -> dict:
    return {
        "id": link.id,
        "url": link.url,
        "delivery_id": link.delivery_id,
        "mail_id": link.message_id,
        "clicks": link.clicks,
        "clickers": link.clickers,
    }
