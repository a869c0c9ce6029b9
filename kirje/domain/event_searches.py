"""Reading and erasing the event store by person (LianaAutomation's asynchronous handles).

What a search, delete, export or automations report asks for, parsed from JSON with errors that
name the field; the rows a search and an export answer with; and the automations report,
built from counts of the mails an automation sent and what their recipients did with them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from kirje.domain.channels import check_verb
from kirje.domain.errors import Conflict, Invalid
from kirje.domain.events import EventType
from kirje.domain.identities import Identity, identity_from

# LianaAutomation's own cap on one search's events; exports take as many persons at most.
MAX_LIMIT = 10_000
# Persons one search, export or delete names: each identifier is a lookup and its contacts
# go into one IN list, so a bound keeps the statements well under SQLite's parameter limit.
MAX_IDENTITIES = 1_000
MAX_DELETE_IDENTIFIERS = 5_000
MAX_CHANNELS = 1_000
MAX_VERBS = 1_000
# One graph bucket per month: ten years is more than any report screen shows.
MAX_REPORT_MONTHS = 120
# What an export row holds where a person has no value (the seed's "formsend-sentfrom").
NULL = "NULL"
# The automations report speaks Finnish time: its months start at midnight in Helsinki.
REPORT_ZONE = ZoneInfo("Europe/Helsinki")
# The channel of events Kirje wrote itself (created, merged, list-join...), which came in
# through no LianaAutomation channel.
NO_CHANNEL = ""


class HandleNotReady(Conflict):
    """The handle's job has not finished: its results do not exist yet."""


class HandleFailed(Conflict):
    """The handle's job failed; the message is the job's error."""


# Requests


@dataclass(frozen=True)
class EventFilter:
    """A search (or export): every condition given must hold; an empty one does not filter."""

    channels: tuple[str, ...] = ()  # channel ids or system names
    verbs: tuple[str, ...] = ()
    newer_than: datetime | None = None  # the wire's "from"
    older_than: datetime | None = None  # the wire's "to"
    include_data: bool = False
    limit: int = MAX_LIMIT
    offset: int = 0
    # Persons to search for; an identity that names nobody matches nothing.
    identities: tuple[Identity, ...] = ()

    def __post_init__(self) -> None:
        _check_page(self.limit, self.offset)
        _check_count("channels", self.channels, MAX_CHANNELS)
        _check_count("verbs", self.verbs, MAX_VERBS)
        _check_count("identities", self.identities, MAX_IDENTITIES)
        for name in ("newer_than", "older_than"):
            moment = getattr(self, name)
            if moment is not None and moment.utcoffset() is None:
                raise Invalid(f"{name} must carry a time zone")

    def to_json(self) -> dict[str, Any]:
        """The filter as event_filter_from reads it back (a job's payload)."""
        return {
            "channels": list(self.channels),
            "verbs": list(self.verbs),
            "from": self.newer_than.isoformat() if self.newer_than else None,
            "to": self.older_than.isoformat() if self.older_than else None,
            "include_data": self.include_data,
            "limit": self.limit,
            "offset": self.offset,
            "identities": [_identity_json(identity) for identity in self.identities],
        }


@dataclass(frozen=True)
class DeleteEntry:
    """One person to delete, as every identifier given for them: each Identity holds one."""

    identifiers: tuple[Identity, ...]


@dataclass(frozen=True)
class DeleteRequest:
    """Whose events to delete; with channels only those channels' events, without them the
    person as a whole (their events, identifiers and personal data)."""

    entries: tuple[DeleteEntry, ...]
    channels: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.entries:
            raise Invalid("identities is required: the persons to delete")
        _check_count("identities", self.entries, MAX_IDENTITIES)
        identifiers = [i for entry in self.entries for i in entry.identifiers]
        _check_count("identifiers in identities", identifiers, MAX_DELETE_IDENTIFIERS)
        _check_count("channels", self.channels, MAX_CHANNELS)

    def to_json(self) -> dict[str, Any]:
        return {
            "channels": list(self.channels),
            "identities": [_entry_json(entry) for entry in self.entries],
        }


@dataclass(frozen=True)
class ReportRequest:
    """The automations report for the days from start_date to end_date, both included."""

    start_date: date
    end_date: date

    def __post_init__(self) -> None:
        if self.start_date > self.end_date:
            raise Invalid("start_date must not be after end_date")
        if len(report_months(self.start_date, self.end_date)) > MAX_REPORT_MONTHS:
            raise Invalid(f"a report covers at most {MAX_REPORT_MONTHS} months")

    def to_json(self) -> dict[str, str]:
        return {"start_date": self.start_date.isoformat(), "end_date": self.end_date.isoformat()}


@dataclass(frozen=True)
class EventMatch:
    """A filter as the store runs it: channels resolved to ids, identities to contacts.

    channel_ids None takes every event, Kirje's own (no channel) too; contact_ids None takes
    every person.
    """

    channel_ids: tuple[int, ...] | None = None
    verbs: tuple[str, ...] = ()
    newer_than: datetime | None = None
    older_than: datetime | None = None
    contact_ids: tuple[int, ...] | None = None


# Parsing


def event_filter_from(raw: object) -> EventFilter:
    """A search or export filter from its JSON body; unknown keys are ignored."""
    body = _body(raw)
    return EventFilter(
        channels=_channels(body.get("channels")),
        verbs=tuple(
            check_verb(verb, f"verbs[{index}]")
            for index, verb in enumerate(_list(body.get("verbs"), "verbs"))
        ),
        newer_than=_moment(body.get("from"), "from"),
        older_than=_moment(body.get("to"), "to"),
        include_data=_flag(body.get("include_data"), "include_data"),
        limit=_whole(body.get("limit"), "limit", MAX_LIMIT),
        offset=_whole(body.get("offset"), "offset", 0),
        identities=tuple(
            identity_from(item, f"identities[{index}]")
            for index, item in enumerate(_list(body.get("identities"), "identities"))
        ),
    )


def delete_request_from(raw: object) -> DeleteRequest:
    """A delete request: each identity entry's values are lists (a lone value is taken as a
    list of one); every value names the person."""
    body = _body(raw)
    entries = tuple(
        _delete_entry(item, f"identities[{index}]")
        for index, item in enumerate(_list(body.get("identities"), "identities"))
    )
    return DeleteRequest(entries=entries, channels=_channels(body.get("channels")))


def report_request_from(raw: object) -> ReportRequest:
    body = _body(raw)
    return ReportRequest(
        start_date=_day(body.get("start_date"), "start_date"),
        end_date=_day(body.get("end_date"), "end_date"),
    )


def _body(raw: object) -> Mapping[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise Invalid("the request body must be an object")
    return raw


def _list(value: object, name: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise Invalid(f"{name} must be an array")
    return value


def _channels(value: object) -> tuple[str, ...]:
    references = []
    for index, item in enumerate(_list(value, "channels")):
        if isinstance(item, bool) or not isinstance(item, str | int) or not str(item).strip():
            raise Invalid(f"channels[{index}] must be a channel id or system name")
        references.append(str(item).strip())
    return tuple(references)


def _moment(value: object, name: str) -> datetime | None:
    """An ISO 8601 date-time; one without an offset is UTC (the database's time)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise Invalid(f"{name} must be an ISO 8601 date-time string")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise Invalid(f"{name}: {value!r} is not an ISO 8601 date-time") from None
    return moment if moment.utcoffset() is not None else moment.replace(tzinfo=UTC)


def _day(value: object, name: str) -> date:
    if value is None or value == "":
        raise Invalid(f"{name} is required (YYYY-MM-DD)")
    if not isinstance(value, str):
        raise Invalid(f"{name} must be a date string (YYYY-MM-DD)")
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise Invalid(f"{name}: {value!r} is not a date (YYYY-MM-DD)") from None


def _flag(value: object, name: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise Invalid(f"{name} must be true or false")
    return value


def _whole(value: object, name: str, default: int) -> int:
    """A whole number; PHP clients may send one as a string of digits."""
    if value is None:
        return default
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f"{name} must be a whole number")
    return value


def _check_page(limit: int, offset: int) -> None:
    if not 0 <= limit <= MAX_LIMIT:
        raise Invalid(f"limit must be from 0 to {MAX_LIMIT}")
    if offset < 0:
        raise Invalid("offset must not be negative")


def _check_count(name: str, values: Sequence, most: int) -> None:
    if len(values) > most:
        raise Invalid(f"{name}: at most {most}")


def _delete_entry(raw: object, where: str) -> DeleteEntry:
    if not isinstance(raw, Mapping):
        raise Invalid(f"{where} must be an object")
    identifiers = []
    for key in ("id", "email", "sms", "extra1", "extra2", "token"):
        values = raw.get(key)
        for index, value in enumerate(values if isinstance(values, list) else [values]):
            try:
                identity = identity_from({key: value}, where)
            except Invalid as error:
                named = f"{where}.{key}"
                raise Invalid(error.message.replace(named, f"{named}[{index}]", 1)) from None
            if not identity.is_empty:
                identifiers.append(identity)
    return DeleteEntry(tuple(identifiers))


def _identity_json(identity: Identity) -> dict[str, Any]:
    return {key: value for key, value in asdict(identity).items() if value is not None}


def _entry_json(entry: DeleteEntry) -> dict[str, list]:
    values: dict[str, list] = {}
    for identity in entry.identifiers:
        for key, value in _identity_json(identity).items():
            values.setdefault(key, []).append(value)
    return values


# Answers


def utc_text(moment: datetime) -> str:
    """ISO 8601 in UTC with Z, as the seed writes times (microseconds kept when there are)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class FoundEvent:
    at: datetime
    verb: str
    channel_id: int | None
    contact_id: int
    email: str | None
    sms: str | None
    data: dict[str, Any] | None  # None unless asked for


def search_row(event: FoundEvent, identifiers: Mapping[str, str]) -> dict[str, Any]:
    """One search result: every identity key is there, null where the person has none."""
    row: dict[str, Any] = {
        "at": utc_text(event.at),
        "verb": event.verb,
        "channel": NO_CHANNEL if event.channel_id is None else str(event.channel_id),
        "identity": {
            "id": str(event.contact_id),
            "token": identifiers.get("token"),
            "email": event.email,
            "sms": event.sms,
            "extra1": identifiers.get("extra1"),
            "extra2": identifiers.get("extra2"),
        },
    }
    if event.data is not None:
        row["data"] = event.data
    return row


@dataclass
class ExportPerson:
    """What an export found of one person: their latest value of each "<verb>-<key>"."""

    id: int
    email: str | None
    sms: str | None
    last_at: datetime
    identifiers: Mapping[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)


EXPORT_IDENTITY_COLUMNS = ("email", "sms")
EXPORT_EXTRA_COLUMNS = ("extra1", "extra2")
EXPORT_DATE_COLUMN = "system-event-date"


def export_column(verb: str, key: str) -> str:
    return f"{verb}-{key}"


def export_rows(people: Sequence[ExportPerson]) -> list[dict[str, Any]]:
    """One row per person, every row with every column: email, sms, id, extra1 and extra2
    when any person has one, system-event-date and each "<verb>-<item key>" found. A missing
    value (or a null one) is the string NULL. The person's own columns win over an item
    column of the same name."""
    item_columns = sorted({column for person in people for column in person.values})
    extras = [c for c in EXPORT_EXTRA_COLUMNS if any(p.identifiers.get(c) for p in people)]
    rows = []
    for person in people:
        row: dict[str, Any] = {column: _value(person.values.get(column)) for column in item_columns}
        row["email"] = _value(person.email)
        row["sms"] = _value(person.sms)
        row["id"] = person.id
        for column in extras:
            row[column] = _value(person.identifiers.get(column))
        row[EXPORT_DATE_COLUMN] = utc_text(person.last_at)
        rows.append(row)
    return rows


def _value(value: Any) -> Any:
    return NULL if value is None else value


# The automations report

REPORT_VERBS = (
    EventType.MAIL_SENT.value,
    EventType.MAIL_OPEN.value,
    EventType.MAIL_LINK.value,
    EventType.MAIL_BOUNCE.value,
)


def report_months(start: date, end: date) -> list[date]:
    """The first day of each month from start's to end's."""
    months = []
    month = start.replace(day=1)
    while month <= end:
        months.append(month)
        month = _next_month(month)
    return months


def _next_month(month: date) -> date:
    return (
        month.replace(year=month.year + 1, month=1)
        if month.month == 12
        else month.replace(month=month.month + 1)
    )


def report_bounds(request: ReportRequest) -> list[datetime]:
    """The UTC instants that split the report's days into its months: the start of
    start_date, each later month's first midnight, and the end of end_date (Helsinki time).
    Bucket i holds events from bounds[i] (included) to bounds[i + 1] (excluded)."""
    months = report_months(request.start_date, request.end_date)
    days = [request.start_date, *months[1:], request.end_date + timedelta(days=1)]
    return [datetime.combine(day, datetime.min.time(), REPORT_ZONE).astimezone(UTC) for day in days]


def month_category(month: date) -> str:
    """A graph category: the month's first midnight in Helsinki, with its offset."""
    return datetime.combine(month, datetime.min.time(), REPORT_ZONE).isoformat()


@dataclass(frozen=True)
class Reach:
    """Distinct persons over the whole period."""

    persons: int = 0  # were sent a mail
    openers: int = 0
    clickers: int = 0


@dataclass(frozen=True)
class MessageActivity:
    """One message of an automation: for each report verb, its events per month (one count per
    month of the report), and the persons it reached over the period."""

    id: int | str
    subject: str
    monthly: Mapping[str, Sequence[int]]
    reach: Reach

    def total(self, verb: str) -> int:
        return sum(self.monthly.get(verb, ()))


@dataclass(frozen=True)
class AutomationActivity:
    id: int | str
    name: str
    enabled: bool
    # Distinct over all of its messages: one person sent two of them counts once.
    reach: Reach
    messages: Sequence[MessageActivity]


def automation_reports(
    automations: Sequence[AutomationActivity], months: Sequence[date]
) -> list[dict[str, Any]]:
    """The automations report in LianaAutomation's shape.

    Counts are events (sent = mailsent, opens = mailopen, clicks = maillink, bounces =
    mailbounce); persons, openers and clickers are distinct people. Percentages, rounded to one
    decimal: or = openers of persons, ctr = clickers of persons, engagement = clicks of opens,
    person-engagement = clickers of openers. A month's ratio in the graph is that month's
    opens (clicks) of its mails sent, 0 in a month that sent nothing. rates.current covers
    the whole period: total is its ratio, avg the mean of the ratios of months that sent, trend
    the change (in percent) of the last such month against the mean of the earlier ones;
    rates.month is the same for the last month of the period, its trend against the month
    before.
    """
    return [_automation(automation, months) for automation in automations]


def _automation(automation: AutomationActivity, months: Sequence[date]) -> dict[str, Any]:
    messages = automation.messages

    def total(verb: str) -> int:
        return sum(message.total(verb) for message in messages)

    return {
        "id": automation.id,
        "name": automation.name,
        "enabled": automation.enabled,
        "summary": _summary(
            sent=total(EventType.MAIL_SENT),
            opens=total(EventType.MAIL_OPEN),
            clicks=total(EventType.MAIL_LINK),
            bounces=total(EventType.MAIL_BOUNCE),
            reach=automation.reach,
        ),
        "messages": [_message(message, months) for message in messages],
    }


def _summary(*, sent: int, opens: int, clicks: int, bounces: int, reach: Reach) -> dict:
    return {
        "bounces": bounces,
        "clickers": reach.clickers,
        "clicks": clicks,
        "ctr": _percent(reach.clickers, reach.persons),
        "engagement": _percent(clicks, opens),
        "non-openers": max(reach.persons - reach.openers, 0),
        "openers": reach.openers,
        "opens": opens,
        "or": _percent(reach.openers, reach.persons),
        "persons": reach.persons,
        "person-engagement": _percent(reach.clickers, reach.openers),
        "sent": sent,
    }


def _message(message: MessageActivity, months: Sequence[date]) -> dict[str, Any]:
    def series(verb: str) -> list[int]:
        counts = list(message.monthly.get(verb, ()))
        if counts and len(counts) != len(months):
            raise ValueError(
                f"message {message.id}: {verb} has {len(counts)} months, not {len(months)}"
            )
        return counts or [0] * len(months)

    sent = series(EventType.MAIL_SENT)
    opens = series(EventType.MAIL_OPEN)
    clicks = series(EventType.MAIL_LINK)
    return {
        "id": message.id,
        "subject": message.subject,
        "rates": {
            "current": {
                "mailopen": _period_rate(opens, sent),
                "maillink": _period_rate(clicks, sent),
            },
            "month": {
                "mailopen": _last_month_rate(opens, sent),
                "maillink": _last_month_rate(clicks, sent),
            },
        },
        "graph": _graph(sent, opens, clicks, months),
        "summary": _summary(
            sent=sum(sent),
            opens=sum(opens),
            clicks=sum(clicks),
            bounces=message.total(EventType.MAIL_BOUNCE),
            reach=message.reach,
        ),
    }


def _graph(
    sent: list[int], opens: list[int], clicks: list[int], months: Sequence[date]
) -> dict[str, Any]:
    open_ratios = _ratios(opens, sent)
    click_ratios = _ratios(clicks, sent)
    return {
        "mailsent": {
            "counts": sent,
            "total_count": sum(sent),
            "highest_count": max(sent, default=0),
        },
        "mailopen": _ratio_series(opens, open_ratios),
        "maillink": _ratio_series(clicks, click_ratios),
        "categories": [month_category(month) for month in months],
        "highest_count": max([*sent, *opens, *clicks], default=0),
        "highest_ratio": max([*open_ratios, *click_ratios], default=0),
        "interval": "month",
    }


def _ratio_series(counts: list[int], ratios: list[int | float]) -> dict[str, Any]:
    return {
        "counts": counts,
        "ratios": ratios,
        "total_count": sum(counts),
        "highest_count": max(counts, default=0),
        "highest_ratio": max(ratios, default=0),
    }


def _ratios(counts: Sequence[int], sent: Sequence[int]) -> list[int | float]:
    return [_percent(count, mails) for count, mails in zip(counts, sent, strict=True)]


def _period_rate(counts: list[int], sent: list[int]) -> dict[str, int | float]:
    sending = [_exact_percent(c, s) for c, s in zip(counts, sent, strict=True) if s]
    earlier = sending[:-1]
    return {
        "avg": _rounded(sum(sending) / len(sending)) if sending else 0,
        "total": _percent(sum(counts), sum(sent)),
        "trend": _trend(sending[-1], sum(earlier) / len(earlier)) if earlier else 0,
    }


def _last_month_rate(counts: list[int], sent: list[int]) -> dict[str, int | float]:
    if not sent or not sent[-1]:
        return {"avg": 0, "total": 0, "trend": 0}
    last = _exact_percent(counts[-1], sent[-1])
    before = _exact_percent(counts[-2], sent[-2]) if len(sent) > 1 and sent[-2] else None
    return {
        "avg": _rounded(last),
        "total": _rounded(last),
        "trend": _trend(last, before) if before is not None else 0,
    }


def _trend(now: float, before: float) -> int:
    """How much now differs from before, in whole percent of before (0 when before is 0)."""
    return round((now - before) / before * 100) if before else 0


def _exact_percent(part: int, whole: int) -> float:
    return part / whole * 100 if whole else 0.0


def _percent(part: int, whole: int) -> int | float:
    return _rounded(_exact_percent(part, whole))


def _rounded(value: float) -> int | float:
    """One decimal, and a whole number as an int (the seed writes 81, not 81.0)."""
    value = round(value, 1)
    return int(value) if value.is_integer() else value
