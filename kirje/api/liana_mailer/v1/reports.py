"""v1 Reports: delivery reports and their CSV, the recipients behind each number, tracked
links and opens, delivery sizes and mail templates, and the account's mail over time (sent
mail counted, clicks since a moment, a recipient's history).

The report object has exactly the columns of getDeliveriesRangeCSV's header (api doc 5.5);
what each number counts is in kirje.domain.delivery_reports. Readings where the seed is
silent:

* owner is the customer (account) id; user_id and user_display_name are null and tags empty:
  Kirje does not record which API user made a delivery, nor tags.
* scheduled is the time the delivery was scheduled for, else its creation (it went out then).
* list_* describe the delivery's first list (null without one); campaign is its draft's name.
* html and plain count recipients by format: Kirje sends every recipient one multipart
  message with HTML, so html = members and plain = 0. smscount, smsreceived and
  direct_subscriptions are 0: Kirje sends no SMS and puts no subscribe link in mail.
* archive is the delivery's RSS feed names, comma-separated (null: none); rss whether it has any.
* done is true once the delivery finished sending (not when cancelled or failed).
* Times are Helsinki local time, `YYYY-MM-DD HH:MM:SS`, as everywhere in v1.
* CSV as the seed shows it: every field in double quotes, `;` between fields, `\n` between
  lines, the header first, no newline at the end; getDeliveriesRangeCSV ends each line with
  `;` as its sample header does. true/false are written 1/0, null as an empty field.
* getSentMailCount counts messages a receiving server accepted (hard-bounced ones too, as
  getStatistics' sent does); its search keys are ours: from and to (on the sending time, to
  exclusive), delivery_id, list_id (deliveries to that list); unknown keys are refused.
* getClickers answers {total, offset, clickers}: each click (not each person) since `from`,
  oldest first, 1000 at most per call, its fields named as getTrackingLinkInfo names them.
* getRecipientHistory lists each delivery whose message the recipient's server accepted,
  hidden ones too: opened is the first open's time (null: never), bounced whether any
  bounce came back for it.
* getReceivedSMS: Kirje receives no SMS, so the CSV is its header alone.
"""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

import msgspec

from kirje.api.liana_mailer.dispatch import Call, keyed_options
from kirje.api.liana_mailer.local_times import parse_local_time
from kirje.api.liana_mailer.views import HELSINKI, local_time
from kirje.domain.deliveries import DeliveryState
from kirje.domain.delivery_reports import (
    MAX_REPORTS,
    DeliveryReport,
    GroupMember,
    RecipientGroup,
    ReportOrder,
    ReportRange,
    SentMailSearch,
)
from kirje.domain.errors import Invalid
from kirje.mail.previews import size_in_bytes, text_part

REPORT_COLUMNS = (
    "id",
    "mail_id",
    "owner",
    "members",
    "delivered",
    "bounced",
    "created",
    "scheduled",
    "subject",
    "clicks",
    "clickers",
    "opens",
    "openers",
    "noopeners",
    "list_id",
    "list_name",
    "list_deleted",
    "list_hidden",
    "archive",
    "rss",
    "html",
    "plain",
    "campaign",
    "smscount",
    "excluded",
    "unsubscribed",
    "direct_unsubscriptions",
    "direct_subscriptions",
    "done",
    "smsreceived",
    "type",
    "user_id",
    "user_display_name",
    "tags",
)

# getDeliveriesRange's sort names and what they sort by.
SORTS: dict[str, ReportOrder] = {
    "created": ReportOrder.CREATED,
    "subject": ReportOrder.SUBJECT,
    "id": ReportOrder.ID,
    "members": ReportOrder.MEMBERS,
    "bounced": ReportOrder.BOUNCED,
    "campaign": ReportOrder.MESSAGE_NAME,
    "list_id": ReportOrder.LIST_ID,
    "scheduled": ReportOrder.SCHEDULED,
}

# The member conditions and the recipients each lists.
CONDITIONS: dict[str, RecipientGroup] = {
    "openers": RecipientGroup.OPENED,
    "noopeners": RecipientGroup.NOT_OPENED,
    "clickers": RecipientGroup.CLICKED,
    "bounced": RecipientGroup.BOUNCED,
    "unsubscribed": RecipientGroup.UNSUBSCRIBED,
    "direct_unsubscriptions": RecipientGroup.UNSUBSCRIBED_BY_LINK,
    "delivered": RecipientGroup.DELIVERED,
    "undelivered": RecipientGroup.UNDELIVERED,
    "success": RecipientGroup.SUCCEEDED,
    "bad": RecipientGroup.FAILED,
    "excluded": RecipientGroup.EXCLUDED,
}
# Conditions Kirje has no data for, so they list no one: it sends no SMS, has no
# tell-a-friend and puts no subscribe link in mail.
EMPTY_CONDITIONS = frozenset(
    {
        "smsreceived",
        "direct_subscriptions",
        "tafclickers",
        "tafsent",
        "tafsubscriptions",
        "taflinkclickers",
    }
)
SENT_MAIL_KEYS = "from, to, delivery_id, list_id"
# getReceivedSMS's CSV header, as the seed's sample answers it (not quoted).
RECEIVED_SMS_HEADER = "source;msg;time;dest;keyword"
# Every recipient gets one multipart message with HTML.
FORMAT = "html"
MEMBER_COLUMNS = ("email", "sms", "format", "extra")
TIMED_COLUMNS = ("email", "sms", "date", "format", "extra1", "extra2")
# Groups whose `extra` is the ledger's last reply (or the row's state without one).
_REPLY_GROUPS = frozenset(
    {RecipientGroup.FAILED, RecipientGroup.UNDELIVERED, RecipientGroup.EXCLUDED}
)
_LEDGER_GROUPS = frozenset(
    {
        RecipientGroup.DELIVERED,
        RecipientGroup.UNDELIVERED,
        RecipientGroup.SUCCEEDED,
        RecipientGroup.FAILED,
        RecipientGroup.EXCLUDED,
        RecipientGroup.NOT_OPENED,
    }
)


# Reports


def get_delivery_report(ctx: Call, delivery_id: int) -> dict:
    return report_view(ctx.delivery_reports.report(delivery_id))


def get_deliveries(ctx: Call, delivery_ids: list[int] | None = None) -> list[dict]:
    if delivery_ids is None:
        raise Invalid("parameter 1 (delivery_ids) is required: an array of delivery ids")
    return [report_view(report) for report in ctx.delivery_reports.reports(delivery_ids)]


def get_deliveries_range(
    ctx: Call, start: str | int | None = None, end: str | int | None = None, sort: str | None = None
) -> list[dict]:
    """start: a date (created on or after it) or an offset; end: a date (created up to the
    end of that day, or up to that time when one is given) or the most results (at most
    1000, the default). Hidden deliveries are left out."""
    reports = ctx.delivery_reports.listing(report_range(start, end, sort))
    return [report_view(report) for report in reports]


def get_deliveries_range_csv(
    ctx: Call, start: str | int | None = None, end: str | int | None = None, sort: str | None = None
) -> str:
    reports = ctx.delivery_reports.listing(report_range(start, end, sort))
    rows = ([view[column] for column in REPORT_COLUMNS] for view in map(report_view, reports))
    return csv_text(REPORT_COLUMNS, rows, line_end=";")


def get_delivery_statuses(ctx: Call, deliveries: list[int] | None = None) -> list[dict]:
    if deliveries is None:
        raise Invalid("parameter 1 (deliveries) is required: an array of delivery ids")
    return [
        {
            "id": report.delivery.id,
            "status": report.delivery.state.value,
            "members": report.totals.members,
            "delivered": report.totals.delivered,
            "failed": report.totals.failed,
            "excluded": report.totals.excluded,
            "waiting": report.totals.waiting,
            "started": local_time(report.delivery.started_at),
            "finished": local_time(report.delivery.finished_at),
        }
        for report in ctx.delivery_reports.reports(deliveries)
    ]


def get_archived_deliveries(
    ctx: Call, archive: str, number: int, order: int | None = None
) -> list[dict]:
    """The newest deliveries on the archive (RSS feed); order 2: the oldest first."""
    if not archive.strip():
        raise Invalid("parameter 1 (archive) must name an archive")
    reports = ctx.delivery_reports.archived(archive.strip(), number, oldest_first=order == 2)
    return [report_view(report) for report in reports]


def get_automation_deliveries(ctx: Call) -> list[dict]:
    """The newest 1000 deliveries Kirje made by itself: welcome and confirmation mails."""
    return [report_view(report) for report in ctx.delivery_reports.automatic()]


def report_view(report: DeliveryReport) -> dict:
    delivery, totals, listed = report.delivery, report.totals, report.mailing_list
    archives = delivery.archives or []
    return {
        "id": delivery.id,
        "mail_id": delivery.message_id,
        "owner": delivery.account_id,
        "members": totals.members,
        "delivered": totals.delivered,
        "bounced": totals.bounced,
        "created": local_time(delivery.created_at),
        "scheduled": local_time(delivery.scheduled_at or delivery.created_at),
        "subject": report.subject,
        "clicks": totals.clicks,
        "clickers": totals.clickers,
        "opens": totals.opens,
        "openers": totals.openers,
        "noopeners": totals.noopeners,
        "list_id": listed.id if listed else None,
        "list_name": listed.name if listed else None,
        "list_deleted": listed.is_deleted if listed else None,
        "list_hidden": listed.is_hidden if listed else None,
        "archive": ",".join(archives) or None,
        "rss": bool(archives),
        "html": totals.members,
        "plain": 0,
        "campaign": report.message_name or None,
        "smscount": 0,
        "excluded": totals.excluded,
        "unsubscribed": totals.unsubscribed,
        "direct_unsubscriptions": totals.unsubscribed_by_link,
        "direct_subscriptions": 0,
        "done": delivery.state is DeliveryState.DONE,
        "smsreceived": 0,
        "type": delivery.kind.value,
        "user_id": None,
        "user_display_name": None,
        "tags": [],
    }


def report_range(start: str | int | None, end: str | int | None, sort: str | None) -> ReportRange:
    """getDeliveriesRange's parameters, whose meaning goes by their type: a date bounds the
    creation time, a number is an offset (start) or the most results (end; 0: the default)."""
    order, descending = _sort(sort)
    chosen = ReportRange(order=order, descending=descending)
    first, last = _number_or_text(start), _number_or_text(end)
    if isinstance(first, int):
        chosen = replace(chosen, offset=first)
    elif first is not None:
        chosen = replace(chosen, since=_bound(first, "start", after=False))
    if isinstance(last, int):
        chosen = replace(chosen, limit=last or MAX_REPORTS)
    elif last is not None:
        chosen = replace(chosen, until=_bound(last, "end", after=True))
    return chosen


def _number_or_text(value: str | int | None) -> str | int | None:
    """A number may come as a numeric string; an empty string is no value."""
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return None
        if value.lstrip("-").isdigit():
            return int(value)
    return value


def _bound(text: str | int, name: str, *, after: bool) -> datetime:
    """A date is its Helsinki midnight (for an end: the next one, so the day is included);
    a time without an offset is Helsinki time (for an end: up to the end of that second)."""
    text = str(text)
    try:
        day = date.fromisoformat(text)
    except ValueError:
        day = None
    if day is not None:
        midnight = datetime(day.year, day.month, day.day, tzinfo=HELSINKI)
        return midnight + timedelta(days=1) if after else midnight
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise Invalid(
            f"{name} {text!r} is neither a date (2019-12-20), a time (2019-12-20 14:00:00)"
            " nor a number"
        ) from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=HELSINKI)
    return moment + timedelta(seconds=1) if after else moment


def _sort(sort: str | None) -> tuple[ReportOrder, bool]:
    """`created`, `created ASC` or `members DESC`; none given: newest first."""
    words = (sort or "").split()
    if not words:
        return ReportOrder.CREATED, True
    allowed = ", ".join(SORTS)
    field = words[0].lower()
    if field not in SORTS or len(words) > 2:
        raise Invalid(f"sort {sort!r}: one of {allowed}, optionally followed by ASC or DESC")
    direction = words[1].upper() if len(words) == 2 else "ASC"
    if direction not in ("ASC", "DESC"):
        raise Invalid(f"sort {sort!r}: the direction is ASC or DESC")
    return SORTS[field], direction == "DESC"


# Members by condition


def get_delivery_members_conditionally(
    ctx: Call,
    delivery_id: int,
    condition: str | None = None,
    translations: dict[str, str] | None = None,
    extra: int | str | None = None,
) -> list[dict]:
    """The recipients meeting the condition, one object each: id, email, sms, format, extra
    (see `_extra`) and the account's properties. Translations name CSV headers, so they
    change nothing here."""
    names = _property_names(ctx)
    found = _members(ctx, delivery_id, condition, extra, per_link=False)
    group = CONDITIONS.get(condition or "")
    return [
        {
            "id": member.contact_id,
            "email": member.email,
            "sms": member.sms,
            "format": FORMAT,
            "extra": _extra(group, member),
            "properties": {name: member.properties.get(name) for name in names},
        }
        for member in found
    ]


def get_delivery_members_conditionally_csv(
    ctx: Call,
    delivery_id: int,
    condition: str | None = None,
    translations: dict[str, str] | None = None,
    extra: int | str | None = None,
) -> str:
    """The same recipients as CSV: email, sms, format, extra, then one column per property
    of the account. `translations` renames header columns ({"email": "Sähköposti"})."""
    names = _property_names(ctx)
    found = _members(ctx, delivery_id, condition, extra, per_link=False)
    group = CONDITIONS.get(condition or "")
    header = [(translations or {}).get(name, name) for name in (*MEMBER_COLUMNS, *names)]
    rows = (
        [
            member.email,
            member.sms,
            FORMAT,
            _extra(group, member),
            *(member.properties.get(name) for name in names),
        ]
        for member in found
    )
    return csv_text(header, rows)


def get_delivery_members_conditionally_with_time(
    ctx: Call, delivery_id: int, condition: str | None = None, extra: str | int | None = None
) -> str:
    """CSV of the recipients with the time each first met the condition (the first open,
    click, bounce or unsubscribe; for the others when the mail was accepted). extra1/extra2:
    openers: opens / -; clickers, one row per link clicked: link id / URL; bounced: hard or
    soft / the bounce; others read from the ledger: state / the server's last reply."""
    found = _members(ctx, delivery_id, condition, extra, per_link=True)
    group = CONDITIONS.get(condition or "")
    rows = (
        [
            member.email,
            member.sms,
            local_time(member.first_at),
            FORMAT,
            *_timed_extras(group, member),
        ]
        for member in found
    )
    return csv_text(TIMED_COLUMNS, rows)


def _members(
    ctx: Call, delivery_id: int, condition: str | None, extra: int | str | None, *, per_link: bool
) -> list[GroupMember]:
    if not condition:
        raise Invalid(f"parameter 2 (condition) is required: one of {_condition_names()}")
    if condition in EMPTY_CONDITIONS:
        ctx.deliveries.get(delivery_id)
        return []
    if condition not in CONDITIONS:
        raise Invalid(
            f"parameter 2 (condition): unknown {condition!r}, one of {_condition_names()}"
        )
    group = CONDITIONS[condition]
    return ctx.delivery_reports.members(
        delivery_id,
        group,
        link_ids=_link_ids(extra) if group is RecipientGroup.CLICKED else (),
        per_link=per_link,
    )


def _condition_names() -> str:
    return ", ".join([*CONDITIONS, *sorted(EMPTY_CONDITIONS)])


def _link_ids(extra: int | str | None) -> list[int]:
    """One link id, or several in a string with commas ("104,106")."""
    if extra is None:
        return []
    parts = [part.strip() for part in str(extra).split(",") if part.strip()]
    if not all(part.isdigit() for part in parts):
        raise Invalid(f"extra {extra!r}: link ids, separated by commas")
    return [int(part) for part in parts]


def _extra(group: RecipientGroup | None, member: GroupMember) -> int | str:
    """openers: opens; clickers: clicks (on the links asked for); bounced: hard or soft;
    bad, undelivered, excluded: the server's last reply, or the ledger state without one."""
    if group is RecipientGroup.OPENED or group is RecipientGroup.CLICKED:
        return member.times
    if group is RecipientGroup.BOUNCED:
        return member.bounce_kind or ""
    if group in _REPLY_GROUPS:
        return member.reply or member.state
    return ""


def _timed_extras(group: RecipientGroup | None, member: GroupMember) -> list[Any]:
    if group is RecipientGroup.OPENED:
        return [member.times, ""]
    if group is RecipientGroup.CLICKED and member.link is not None:
        return [member.link.id, member.link.url]
    if group is RecipientGroup.BOUNCED:
        return [member.bounce_kind, member.reply]
    if group in _LEDGER_GROUPS:
        return [member.state, member.reply]
    return ["", ""]


def _property_names(ctx: Call) -> list[str]:
    return [prop.name for prop in ctx.properties.all()]


# Links and opens


def get_tracking_link_info(ctx: Call, id: int, summary: int = 0) -> list[dict]:
    """Each click of the link, oldest first; summary 1: one entry with its totals."""
    if summary:
        found = ctx.delivery_reports.link_summary(id)
        return [
            {
                "link_id": found.link.id,
                "delivery_id": found.link.delivery_id,
                "url": found.link.url,
                "clicks": found.clicks,
                "clickers": found.clickers,
            }
        ]
    return [
        {
            "link_id": click.link_id,
            "member_id": click.contact_id,
            "member_email": click.email,
            "clicked_at": local_time(click.at),
            "useragent": click.user_agent,
        }
        for click in ctx.delivery_reports.link_clicks(id)
    ]


def get_opening_track_info(ctx: Call, id: int, opened: int = 1) -> list[dict]:
    """The delivery's openers with their opens; opened 0: its delivered non-openers."""
    return [
        {
            "member_id": summary.contact_id,
            "member_email": summary.email,
            "opens": summary.opens,
            "first_opened": local_time(summary.first_open),
            "last_opened": local_time(summary.last_open),
        }
        for summary in ctx.delivery_reports.openers(id, opened=bool(opened))
    ]


# The account's mail over time


class SentMailFilters(msgspec.Struct, forbid_unknown_fields=True):
    """getSentMailCount's search parameters (the seed names none: these are ours)."""

    # Helsinki times (or with an offset): sent at or after `from`, before `to`.
    since: str | None = msgspec.field(name="from", default=None)
    until: str | None = msgspec.field(name="to", default=None)
    delivery_id: int | None = None
    list_id: int | None = None


def get_sent_mail_count(ctx: Call, params: dict | None = None) -> int:
    """Messages the account sent (accepted by the receiving server, hard-bounced ones too),
    narrowed by `from`, `to`, `delivery_id` and `list_id` (deliveries to that list)."""
    chosen = keyed_options(params, SentMailFilters, f"params (keys: {SENT_MAIL_KEYS})")
    search = SentMailSearch(
        since=_moment(chosen.since, "from"),
        until=_moment(chosen.until, "to"),
        delivery_id=chosen.delivery_id,
        list_id=chosen.list_id,
    )
    return ctx.delivery_reports.sent_count(search)


def _moment(text: str | None, name: str) -> datetime | None:
    return None if text is None else parse_local_time(text, name)


def get_clickers(ctx: Call, since: str | None = None, offset: int = 0) -> dict:
    """Every click since `from` (Helsinki time), oldest first: at most 1000 from the offset,
    with the total for paging on. Clicks of erased recipients are left out."""
    if since is None:
        raise Invalid("parameter 1 (from) is required: a time like 2019-12-20 14:00:00")
    page = ctx.delivery_reports.clicks_since(parse_local_time(since, "from"), offset)
    return {
        "total": page.total,
        "offset": page.offset,
        "clickers": [
            {
                "member_id": click.contact_id,
                "member_email": click.email,
                "delivery_id": click.delivery_id,
                "link_id": click.link_id,
                "url": click.url,
                "clicked_at": local_time(click.at),
                "useragent": click.user_agent,
            }
            for click in page.clicks
        ],
    }


def get_recipient_history(ctx: Call, id: int, limit: int = 0) -> list[dict]:
    """The mails the recipient received (deleted recipients too), newest first; limit 0: all."""
    if limit < 0:
        raise Invalid("parameter 2 (limit) must be 0 (all) or more")
    return [
        {
            "delivery_id": mail.delivery_id,
            "mail_id": mail.message_id,
            "subject": mail.subject,
            "sent": local_time(mail.sent_at),
            "opened": local_time(mail.first_open),
            "opens": mail.opens,
            "clicks": mail.clicks,
            "bounced": mail.is_bounced,
        }
        for mail in ctx.delivery_reports.received_mails(id, limit or None)
    ]


def get_received_sms(ctx: Call) -> str:
    """Kirje receives no SMS: the seed's CSV with its header and no rows."""
    return RECEIVED_SMS_HEADER


# Messages


def get_delivery_size(ctx: Call, delivery_id: int, inline_only: int = 1) -> int:
    """Bytes of one message of the delivery (kirje.mail.previews). Kirje's messages embed no
    images or attachments and it fetches no remote ones, so inline_only changes nothing."""
    delivery = ctx.deliveries.get(delivery_id)
    message = ctx.messages.get(delivery.message_id)
    sender = ctx.settings.marketing().sender_email
    return size_in_bytes(message, delivery.overrides, delivery_id=delivery.id, sender=sender)


def get_mail_template(ctx: Call, id: int, encode: bool = False) -> dict:
    """The draft: subject, html and plain (its own text part, or the one made from the HTML),
    each Base64 of its UTF-8 when encode is true."""
    message = ctx.messages.get(id)
    code: Callable[[str], str] = _base64 if encode else str
    return {
        "id": message.id,
        "name": message.name,
        "subject": code(message.subject),
        "html": code(message.html),
        "plain": code(text_part(message)),
        "from_name": message.from_name,
        "from_email": message.from_email,
        "reply_to": message.reply_to,
        "preheader": message.preheader,
        "created": local_time(message.created_at),
        "updated": local_time(message.updated_at),
    }


def _base64(text: str) -> str:
    return base64.b64encode(text.encode()).decode("ascii")


# CSV


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]], *, line_end: str = "") -> str:
    """LianaMailer's CSV: every field quoted, `;` between fields, `\n` between lines, none
    after the last; `line_end` is written at the end of every line."""
    buffer = io.StringIO()
    writer = csv.writer(
        buffer, delimiter=";", quoting=csv.QUOTE_ALL, lineterminator=f"{line_end}\n"
    )
    writer.writerow(header)
    writer.writerows([_cell(value) for value in row] for row in rows)
    return buffer.getvalue().removesuffix("\n")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)
