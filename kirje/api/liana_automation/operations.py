"""The operations of LianaAutomation REST v1: each reads its body, calls a service, shapes the
answer. Which path names which operation is in routes.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kirje.api.liana_automation.views import channel_view
from kirje.domain.channels import ChannelChanges, check_verb
from kirje.domain.errors import Invalid
from kirje.domain.event_imports import EventImport, ImportEntry, IncomingEvent, items_from
from kirje.domain.event_searches import (
    delete_request_from,
    event_filter_from,
    report_request_from,
)
from kirje.domain.identities import identity_from
from kirje.domain.jobs import Job, JobKind
from kirje.services.account_services import AccountServices

# More than any plugin sends at once, few enough to answer in well under a second.
MAX_EVENTS_PER_IMPORT = 10_000


@dataclass(frozen=True)
class Call:
    services: AccountServices
    # Where this server is reached (scheme://host[:port]): channel objects link to it.
    public_base: str


def pingpong(call: Call, body: Any) -> dict:
    """Echoes `ping` as `pong`, and nothing else (a client compares the whole answer)."""
    ping = body.get("ping") if isinstance(body, dict) else None
    return {"pong": ping if ping is not None else "pong"}


# Import


def import_events(call: Call, body: Any) -> dict:
    result = call.services.event_imports.run(event_import_from(body))
    return {"succeed": True, "handle": str(result.job_id)}


def event_import_from(body: Any) -> EventImport:
    if not isinstance(body, dict):
        raise Invalid("the request body must be an object")
    channel = body.get("channel")
    if isinstance(channel, bool) or not isinstance(channel, str | int) or str(channel) == "":
        raise Invalid("channel is required: the channel's id or system name")
    data = body.get("data")
    if not isinstance(data, list) or not data:
        raise Invalid("data is required: a list of identities with their events")
    entries = [_entry(raw, f"data[{index}]") for index, raw in enumerate(data)]
    if sum(len(entry.events) for entry in entries) > MAX_EVENTS_PER_IMPORT:
        raise Invalid(f"at most {MAX_EVENTS_PER_IMPORT} events per import")
    return EventImport(
        channel=str(channel),
        entries=entries,
        no_duplicates=_flag(body, "no_duplicates"),
        skip_automations=_flag(body, "skip_automations"),
    )


def _entry(raw: Any, where: str) -> ImportEntry:
    if not isinstance(raw, dict):
        raise Invalid(f"{where} must be an object")
    identity = identity_from(raw.get("identity"), f"{where}.identity")
    if identity.is_empty:
        raise Invalid(f"{where}.identity names no one: give email, sms, extra1, extra2 or token")
    events = raw.get("events")
    if not isinstance(events, list):
        raise Invalid(f"{where}.events must be a list")
    return ImportEntry(identity, [_event(e, f"{where}.events[{i}]") for i, e in enumerate(events)])


def _event(raw: Any, where: str) -> IncomingEvent:
    if not isinstance(raw, dict):
        raise Invalid(f"{where} must be an object")
    verb = check_verb(raw.get("verb"), f"{where}.verb")
    # An old Magento client sends an order row's fields under "data".
    items = raw["items"] if "items" in raw else raw.get("data")
    return IncomingEvent(verb, items_from(items, f"{where}.items"))


def _flag(body: dict, name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise Invalid(f"{name} must be true or false")
    return value


# Handles: search, delete, export and the automations report start a job; its handle is
# polled for `ready` and then read for its results.


def start_search(call: Call, body: Any) -> dict:
    return _handle_of(call.services.event_searches.start_search(event_filter_from(body)))


def start_export(call: Call, body: Any) -> dict:
    return _handle_of(call.services.event_searches.start_export(event_filter_from(body)))


def start_delete(call: Call, body: Any) -> dict:
    return _handle_of(call.services.event_searches.start_delete(delete_request_from(body)))


def start_report(call: Call, body: Any) -> dict:
    return _handle_of(call.services.event_searches.start_report(report_request_from(body)))


def status_of(kind: JobKind) -> Callable[[Call, Any], dict]:
    def status(call: Call, body: Any) -> dict:
        return {"ready": call.services.event_searches.is_ready(kind, _handle(body))}

    return status


def results_of(kind: JobKind) -> Callable[[Call, Any], Any]:
    def results(call: Call, body: Any) -> Any:
        return call.services.event_searches.results(kind, _handle(body))

    return results


def _handle_of(job: Job) -> dict:
    return {"handle": str(job.id)}


def _handle(body: Any) -> str:
    handle = body.get("handle") if isinstance(body, dict) else None
    if isinstance(handle, bool) or not isinstance(handle, str | int) or str(handle).strip() == "":
        raise Invalid("handle is required")
    return str(handle)


# Channels


def list_channels(call: Call, body: Any) -> list:
    return [channel_view(channel, call.public_base) for channel in call.services.channels.list()]


def create_channel(call: Call, body: Any) -> dict:
    channel = call.services.channels.create(_channel_changes(body))
    return channel_view(channel, call.public_base)


def edit_channel(call: Call, body: Any) -> dict:
    channel = call.services.channels.edit(_channel_id(body), _channel_changes(body))
    return channel_view(channel, call.public_base)


def delete_channel(call: Call, body: Any) -> dict:
    call.services.channels.delete(_channel_id(body))
    return {"succeed": True}


def _channel_id(body: Any) -> int:
    value = body.get("id") if isinstance(body, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise Invalid("id is required: the channel's id")
    return int(value)


def _channel_changes(body: Any) -> ChannelChanges:
    if not isinstance(body, dict):
        raise Invalid("the request body must be an object")
    texts = {}
    for name in ("name", "color", "notes"):
        value = body.get(name)
        if value is not None and not isinstance(value, str):
            raise Invalid(f"{name} must be a string")
        texts[name] = value
    tracking = body.get("tracking_enabled")
    if tracking is not None and not isinstance(tracking, bool):
        raise Invalid("tracking_enabled must be true or false")
    return ChannelChanges(tracking_enabled=tracking, **texts)
