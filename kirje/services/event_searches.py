"""Searches, deletes, exports and automations reports over one account's events, as jobs.

Starting one checks the request and resolves its channels (an unknown one is Invalid at once),
then queues a job whose id is the handle; a worker runs the handler below, which stores the
answer in the job row, where `results` reads it. Persons are resolved when the job runs, so a
search sees the identifiers as they are then.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from itertools import islice
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from kirje.domain.errors import Invalid, NotFound
from kirje.domain.event_searches import (
    REPORT_VERBS,
    AutomationActivity,
    DeleteRequest,
    EventFilter,
    EventMatch,
    HandleFailed,
    HandleNotReady,
    MessageActivity,
    Reach,
    ReportRequest,
    automation_reports,
    delete_request_from,
    event_filter_from,
    export_rows,
    report_bounds,
    report_months,
    report_request_from,
    search_row,
)
from kirje.domain.events import EventType
from kirje.domain.jobs import Job, JobKind, JobResult, JobState
from kirje.services.base import AccountScope
from kirje.services.channels import Channels
from kirje.services.jobs import Jobs
from kirje.services.privacy import Privacy
from kirje.store import channels as channel_store
from kirje.store import contacts as contact_store
from kirje.store import event_searches as search_store
from kirje.store import identities as identity_store

if TYPE_CHECKING:
    # Only the handlers' signature: services do not depend on the job runner at run time.
    from kirje.jobs import JobContext


class EventSearches:
    def __init__(self, scope: AccountScope) -> None:
        self.scope = scope
        self._jobs = Jobs(scope)

    # Starting

    def start_search(self, request: EventFilter) -> Job:
        return self._jobs.submit(JobKind.EVENT_SEARCH, self._filter_payload(request))

    def start_export(self, request: EventFilter) -> Job:
        return self._jobs.submit(JobKind.EVENT_EXPORT, self._filter_payload(request))

    def start_delete(self, request: DeleteRequest) -> Job:
        payload = {"request": request.to_json(), "channel_ids": self._channel_ids(request.channels)}
        return self._jobs.submit(JobKind.EVENT_DELETE, payload)

    def start_report(self, request: ReportRequest) -> Job:
        return self._jobs.submit(JobKind.AUTOMATION_REPORT, request.to_json())

    def _filter_payload(self, request: EventFilter) -> dict[str, Any]:
        return {"filter": request.to_json(), "channel_ids": self._channel_ids(request.channels)}

    def _channel_ids(self, references: Sequence[str]) -> list[int] | None:
        """The ids of the channels named by id or system name; None when none are named (all
        channels, and Kirje's own events too)."""
        if not references:
            return None
        channels = Channels(self.scope)
        ids = []
        for reference in references:
            try:
                channel_id = channels.id_named(reference)
            except NotFound:
                raise Invalid(f"channels: no channel {reference!r}") from None
            if channel_id not in ids:
                ids.append(channel_id)
        return ids

    # Handles

    def is_ready(self, kind: JobKind, handle: int | str) -> bool:
        """Whether the handle's job has finished, done or failed (its results then answer)."""
        return self._job(kind, handle).is_finished

    def results(self, kind: JobKind, handle: int | str) -> JobResult:
        """What the handle's job found; HandleNotReady before it finishes, HandleFailed with
        its error when it failed."""
        job = self._job(kind, handle)
        if job.state is JobState.FAILED:
            raise HandleFailed(job.error or f"handle {job.id} failed")
        if job.state is not JobState.DONE:
            raise HandleNotReady(f"handle {job.id} is not ready yet")
        return job.result

    def _job(self, kind: JobKind, handle: int | str) -> Job:
        """The account's job of this kind; any other handle is NotFound, whoever's it is."""
        text = str(handle).strip()
        if isinstance(handle, bool) or not text.isdigit():
            raise NotFound(f"handle {handle!r} not found")
        try:
            job = self._jobs.get(int(text))
        except NotFound:
            raise NotFound(f"handle {text} not found") from None
        if job.kind != kind:
            raise NotFound(f"handle {text} not found")
        return job


# The job handlers (registered in kirje.jobs.event_handles)


def run_search(ctx: JobContext) -> list[dict[str, Any]]:
    """The matching events, oldest first, one page (limit, offset) of them."""
    request, channel_ids = _filter_from(ctx.job.payload)
    account_id = ctx.job.account_id
    with ctx.db.reading() as conn:
        match = _match(conn, account_id, request, channel_ids)
        found = (
            []
            if match is None
            else search_store.search_events(
                conn,
                account_id,
                match,
                include_data=request.include_data,
                limit=request.limit,
                offset=request.offset,
            )
        )
        identifiers = identity_store.identifiers_of(
            conn, account_id, {event.contact_id for event in found}
        )
    rows = [search_row(event, identifiers.get(event.contact_id, {})) for event in found]
    _finish_progress(ctx, len(rows))
    return rows


def run_export(ctx: JobContext) -> list[dict[str, Any]]:
    """One row per person with matching events; limit and offset page over persons (in id
    order), so one export holds at most MAX_LIMIT of them."""
    request, channel_ids = _filter_from(ctx.job.payload)
    account_id = ctx.job.account_id
    with ctx.db.reading() as conn:
        match = _match(conn, account_id, request, channel_ids)
        people = (
            []
            if match is None
            else search_store.export_people(
                conn, account_id, match, limit=request.limit, offset=request.offset
            )
        )
        identifiers = identity_store.identifiers_of(conn, account_id, [p.id for p in people])
    for person in people:
        person.identifiers = identifiers.get(person.id, {})
    rows = export_rows(people)
    _finish_progress(ctx, len(rows))
    return rows


def run_delete(ctx: JobContext) -> dict[str, list[list[int]]]:
    """Deletes, in one transaction, the events of the persons named (in the channels given),
    and without channels the persons themselves: identifiers deleted and personal data
    erased as a GDPR erasure does, leaving an anonymous tombstone. Running it again deletes
    nothing more."""
    done = (ctx.job.checkpoint or {}).get("deleted")
    if done is not None:
        # An earlier run committed the delete; only its answer was lost.
        return {"deleted": done}
    payload = ctx.job.payload or {}
    request = delete_request_from(payload.get("request"))
    channel_ids = payload.get("channel_ids")
    account_id = ctx.job.account_id
    with ctx.db.transaction() as conn:
        named = iter(
            search_store.named_contacts(
                conn, account_id, [i for entry in request.entries for i in entry.identifiers]
            )
        )
        deleted = [
            sorted(set().union(*islice(named, len(entry.identifiers)))) for entry in request.entries
        ]
        everyone = sorted({contact_id for ids in deleted for contact_id in ids})
        if everyone:
            _delete_people(ctx, conn, everyone, channel_ids)
        ctx.commit_progress(
            conn,
            done=len(request.entries),
            total=len(request.entries),
            checkpoint={"deleted": deleted},
        )
    return {"deleted": deleted}


def _delete_people(
    ctx: JobContext, conn: Connection, contact_ids: list[int], channel_ids: list[int] | None
) -> None:
    account_id = ctx.job.account_id
    counts = search_store.verb_counts(conn, account_id, contact_ids, channel_ids)
    for channel_id, verbs in counts.items():
        channel_store.uncount_verbs(conn, account_id, channel_id, verbs)
    search_store.delete_events(conn, account_id, contact_ids, channel_ids)
    if channel_ids is not None:
        return
    privacy = Privacy(ctx.services.scope)
    for contact_id in contact_ids:
        contact = contact_store.find_by_id(conn, account_id, contact_id, include_deleted=True)
        # Inside this transaction, so the delete is whole or nothing.
        privacy.erase_within(conn, contact, f"contact {contact_id} not found")


def run_report(ctx: JobContext) -> list[dict[str, Any]]:
    """The automations report over the mails automations sent in the period.

    Automations are not stored yet: the automation engine will tag the mailsent, mailopen,
    maillink and mailbounce events of its mails with "automation_id" and "message_id" in their
    data (and may add "automation_name" and "subject"), and the report is built from those.
    With no such events the report is an empty list.
    """
    request = report_request_from(ctx.job.payload)
    account_id = ctx.job.account_id
    bounds = report_bounds(request)
    months = report_months(request.start_date, request.end_date)
    with ctx.db.reading() as conn:
        activities = _activities(conn, account_id, bounds, len(months))
    report = automation_reports(activities, months)
    _finish_progress(ctx, len(report))
    return report


def _activities(
    conn: Connection, account_id: int, bounds: list[datetime], month_count: int
) -> list[AutomationActivity]:
    """Each automation's messages with their monthly counts and the persons they reached."""
    counts = search_store.monthly_mail_counts(conn, account_id, REPORT_VERBS, bounds)
    if not counts:
        return []
    start, end = bounds[0], bounds[-1]
    reach = search_store.message_reach(conn, account_id, REPORT_VERBS, start, end)
    overall = search_store.automation_reach(conn, account_id, REPORT_VERBS, start, end)
    monthly: dict[tuple[str, str], dict[str, list[int]]] = {}
    for automation, message, verb, month, events in counts:
        series = monthly.setdefault((automation, message), {})
        series.setdefault(verb, [0] * month_count)[month] += events
    persons: dict[tuple[str, str], Counter[str]] = {}
    names: dict[str, str] = {}
    subjects: dict[tuple[str, str], str] = {}
    for automation, message, verb, count, name, subject in reach:
        persons.setdefault((automation, message), Counter())[verb] = count
        if name:
            names[automation] = name
        if subject:
            subjects[(automation, message)] = subject
    automation_persons: dict[str, Counter[str]] = {}
    for automation, verb, count in overall:
        automation_persons.setdefault(automation, Counter())[verb] = count
    messages: dict[str, list[MessageActivity]] = {}
    for key in sorted(monthly, key=lambda pair: (_sort_key(pair[0]), _sort_key(pair[1]))):
        automation, message = key
        messages.setdefault(automation, []).append(
            MessageActivity(
                id=_report_id(message),
                subject=subjects.get(key, ""),
                monthly=monthly[key],
                reach=_reach(persons.get(key, Counter())),
            )
        )
    return [
        AutomationActivity(
            id=_report_id(automation),
            name=names.get(automation, ""),
            # An automation whose mails went out in the period was running; the engine will
            # say whether it still is.
            enabled=True,
            reach=_reach(automation_persons.get(automation, Counter())),
            messages=automation_messages,
        )
        for automation, automation_messages in messages.items()
    ]


def _reach(persons: Counter[str]) -> Reach:
    return Reach(
        persons=persons[EventType.MAIL_SENT],
        openers=persons[EventType.MAIL_OPEN],
        clickers=persons[EventType.MAIL_LINK],
    )


def _report_id(text: str) -> int | str:
    """The engine's ids are numbers; the seed writes them as JSON integers."""
    return int(text) if text.isdigit() else text


def _sort_key(text: str) -> tuple[int, int, str]:
    return (0, int(text), "") if text.isdigit() else (1, 0, text)


# Shared by the handlers


def _filter_from(payload: dict[str, Any] | None) -> tuple[EventFilter, list[int] | None]:
    payload = payload or {}
    return event_filter_from(payload.get("filter")), payload.get("channel_ids")


def _match(
    conn: Connection, account_id: int, request: EventFilter, channel_ids: list[int] | None
) -> EventMatch | None:
    """The filter as the store runs it; None when its identities name nobody."""
    contact_ids = None
    if request.identities:
        named = search_store.named_contacts(conn, account_id, request.identities)
        contact_ids = tuple(sorted(set().union(*named)))
        if not contact_ids:
            return None
    return EventMatch(
        channel_ids=None if channel_ids is None else tuple(channel_ids),
        verbs=request.verbs,
        newer_than=request.newer_than,
        older_than=request.older_than,
        contact_ids=contact_ids,
    )


def _finish_progress(ctx: JobContext, count: int) -> None:
    with ctx.db.transaction() as conn:
        ctx.commit_progress(conn, done=count, total=count)
