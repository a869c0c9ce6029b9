"""v1 recipient searches: queryRecipients, findRecipientsByProperty, getDeletedRecipients,
getRecipientsStatuses and getRecipientsListProperties."""

from __future__ import annotations

import base64
import gzip as gzip_format

import orjson

from kirje.api.liana_mailer.dispatch import Call, page_of
from kirje.api.liana_mailer.views import recipient_view
from kirje.domain.errors import Invalid
from kirje.domain.lists import MemberPage
from kirje.domain.recipient_queries import ContactSet, ContactStatus

# queryRecipients' function names (seed enum) and the contact sets they list.
QUERY_FUNCTIONS: dict[str, ContactSet] = {
    "filterRecipients": ContactSet.MATCHING,
    "getMailingListMembers": ContactSet.LIST_MEMBERS,
    "getRecipients": ContactSet.ALL,
    "getRecipientsReceivedMessage": ContactSet.MAILED,
    "getRecipientsActive": ContactSet.ACTIVE,
    "getUnassociatedRecipients": ContactSet.UNASSOCIATED,
    "getDeletedRecipients": ContactSet.DELETED,
    "getBounceDeletedRecipients": ContactSet.BOUNCED,
}


def query_recipients(
    ctx: Call,
    function: str | None = None,
    list_id: int | None = None,
    offset: int = 0,
    number: int = 0,
    order: str | None = None,
    sort: str = "asc",
    filter: str | None = None,
    csv: bool = False,
    gzip: bool = False,
) -> list[int] | str:
    """Ids of one page of the function's recipients, followed by the total count (before
    paging) as the last element. With csv, the text `"id"` and one id a line, without the
    count (a count line would read as one more id); with gzip, that text (or the JSON array)
    gzip-compressed and Base64-encoded."""
    contact_set = _contact_set(function)
    if contact_set is ContactSet.LIST_MEMBERS and list_id is None:
        raise Invalid("parameter 2 (list_id) is required for getMailingListMembers")
    if contact_set is ContactSet.MATCHING and not filter:
        raise Invalid("parameter 7 (filter) is required for filterRecipients")
    page = page_of(offset, number, order, sort, filter)
    ids, total = ctx.queries.ids(contact_set, page, list_id=list_id)
    if not csv and not gzip:
        return [*ids, total]
    if csv:
        body = "".join(f"{line}\n" for line in ['"id"', *map(str, ids)]).encode()
    else:
        body = orjson.dumps([*ids, total])
    if not gzip:
        return body.decode()
    # mtime 0: the same page always compresses to the same text.
    return base64.b64encode(gzip_format.compress(body, mtime=0)).decode("ascii")


def _contact_set(function: str | None) -> ContactSet:
    allowed = ", ".join(QUERY_FUNCTIONS)
    if not function:
        raise Invalid(f"parameter 1 (function) is required: one of {allowed}")
    if function not in QUERY_FUNCTIONS:
        raise Invalid(f"parameter 1 (function): unknown function {function!r}, one of {allowed}")
    return QUERY_FUNCTIONS[function]


def find_recipients_by_property(
    ctx: Call,
    property_id: int,
    property_value: str | int | float | bool,
    limit: int = 1,
    offset: int = 0,
) -> list[dict]:
    # limit 0 is every match, as num 0 is everywhere else in v1.
    found = ctx.queries.by_property(property_id, property_value, MemberPage(offset, limit or None))
    return [recipient_view(d) for d in found]


def get_deleted_recipients(
    ctx: Call,
    offset: int = 0,
    num: int = 0,
    order: str | None = None,
    sort: str = "asc",
    filter: str | None = None,
) -> list[dict]:
    found = ctx.queries.deleted(page_of(offset, num, order, sort, filter))
    return [recipient_view(d) for d in found]


def get_recipients_statuses(ctx: Call, recipient_ids: list[int | str] | None = None) -> dict:
    """Keyed by each identifier as given (id, email or SMS number); null for unknown ones."""
    found = ctx.queries.statuses(recipient_ids or [])
    return {str(key): _status_view(status) for key, status in found.items()}


def _status_view(status: ContactStatus | None) -> dict | None:
    if status is None:
        return None
    return {
        "id": status.contact_id,
        "enabled": status.is_enabled,
        "deleted": status.is_deleted,
        "bounced": status.is_bounced,
        "banned": status.is_banned,
        "confirmed": status.is_confirmed,
        "lists": {str(list_id): state for list_id, state in status.list_statuses.items()},
    }


def get_recipients_list_properties(
    ctx: Call, list_id: int, recipient_id: int | None = None
) -> dict[str, dict[str, str]]:
    """Kirje keeps property values per contact, not per list: the answer is the values of the
    list's member, or of its first 1000 members by id when no recipient is named."""
    found = ctx.queries.list_properties(list_id, recipient_id)
    return {str(contact_id): values for contact_id, values in found.items()}
