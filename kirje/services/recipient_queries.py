"""Recipient searches: by property, by named set, statuses and list members' property values."""

from __future__ import annotations

from sqlalchemy import Connection

from kirje.domain.contacts import ContactDetails, optional_email, optional_sms
from kirje.domain.errors import Invalid, NotFound
from kirje.domain.lists import EVERYONE, ListKind, MailingList, MemberPage
from kirje.domain.properties import property_value_text
from kirje.domain.recipient_queries import (
    MAX_PROPERTY_MEMBERS,
    MAX_STATUS_LOOKUPS,
    ContactSet,
    ContactStatus,
)
from kirje.services.base import AccountScope
from kirje.store import contacts as contact_store
from kirje.store import lists as list_store
from kirje.store import properties as property_store
from kirje.store import recipient_queries as query_store

Identifier = int | str

_MAX_ID = 2**63


class RecipientQueries:
    def __init__(self, scope: AccountScope) -> None:
        self.scope = scope

    @property
    def _account_id(self) -> int:
        return self.scope.account_id

    def ids(
        self, contact_set: ContactSet, page: MemberPage = EVERYONE, *, list_id: int | None = None
    ) -> tuple[list[int], int]:
        """One page of the set's contact ids, and how many the set holds (filtered, unpaged)."""
        if contact_set is ContactSet.MATCHING and not page.filter_text:
            raise Invalid("matching recipients are listed by a filter, and none was given")
        if contact_set is ContactSet.LIST_MEMBERS and list_id is None:
            raise Invalid("list members need a list id")
        with self.scope.db.reading() as conn:
            # Only list members read the list id: the seed's sample sends one with getRecipients.
            mailing_list = (
                self._readable_list(conn, list_id)
                if contact_set is ContactSet.LIST_MEMBERS and list_id is not None
                else None
            )
            selected = query_store.contact_set_ids(self._account_id, contact_set, mailing_list)
            ids = list_store.page_of_ids(conn, selected, page)
            total = list_store.count_ids(conn, selected, page.filter_text)
        return ids, total

    def deleted(self, page: MemberPage = EVERYONE) -> list[ContactDetails]:
        """Deleted (not forgotten) contacts with their details, paged like every listing."""
        with self.scope.db.reading() as conn:
            selected = query_store.contact_set_ids(self._account_id, ContactSet.DELETED)
            ids = list_store.page_of_ids(conn, selected, page)
            return contact_store.details_by_ids(conn, self._account_id, ids, include_deleted=True)

    def by_property(
        self, property_id: int, value: str | int | float | bool, page: MemberPage = EVERYONE
    ) -> list[ContactDetails]:
        """Contacts (not deleted) whose property, by its id, holds exactly this value, by id."""
        text = property_value_text(value)
        with self.scope.db.reading() as conn:
            defined = property_store.all_properties(conn, self._account_id)
            found = next((p for p in defined if p.id == property_id), None)
            if found is None:
                raise NotFound(f"property {property_id} not found")
            selected = query_store.property_match_ids(self._account_id, found.name, text)
            ids = list_store.page_of_ids(conn, selected, page)
            return contact_store.details_by_ids(conn, self._account_id, ids, include_deleted=False)

    def statuses(self, identifiers: list[Identifier]) -> dict[Identifier, ContactStatus | None]:
        """Each identifier (contact id, email address or SMS number) with the status of the
        contact holding it, or None when no contact (deleted ones count) holds it."""
        wanted = list(dict.fromkeys(identifiers))
        if len(wanted) > MAX_STATUS_LOOKUPS:
            raise Invalid(f"at most {MAX_STATUS_LOOKUPS} recipients at once")
        keys = {identifier: _lookup_key(identifier) for identifier in wanted}
        by_kind: dict[str, list] = {"id": [], "email": [], "sms": []}
        for key in keys.values():
            if key is not None:
                by_kind[key[0]].append(key[1])
        with self.scope.db.reading() as conn:
            found = query_store.statuses(
                conn,
                self._account_id,
                ids=by_kind["id"],
                emails=by_kind["email"],
                numbers=by_kind["sms"],
            )
        details = {(kind, value): status for status in found for kind, value in _keys_of(status)}
        return {
            identifier: details.get(key) if key is not None else None
            for identifier, key in keys.items()
        }

    def list_properties(
        self, list_id: int, contact_id: int | None = None
    ) -> dict[int, dict[str, str]]:
        """Property values of a list's member, or of its first MAX_PROPERTY_MEMBERS members by
        id. Kirje keeps one set of values per contact, so they are the contact's own."""
        with self.scope.db.reading() as conn:
            mailing_list = self._readable_list(conn, list_id)
            found = query_store.member_properties(
                conn,
                self._account_id,
                mailing_list,
                contact_id=contact_id,
                limit=MAX_PROPERTY_MEMBERS,
            )
        if contact_id is not None and not found:
            raise NotFound(f"recipient {contact_id} is not a member of list {list_id}")
        return found

    def _readable_list(self, conn: Connection, list_id: int) -> MailingList:
        found = list_store.find_list(conn, self._account_id, list_id, with_counts=False)
        if found is None:
            raise NotFound(f"mailing list {list_id} not found")
        if found.kind is ListKind.SEGMENT:
            # Segment membership comes from LianaAutomation segments (automation issue).
            raise Invalid(f"members of segment list {list_id} are not available yet")
        return found


def _lookup_key(identifier: Identifier) -> tuple[str, int | str] | None:
    """How to find the contact: an integer or a string of digits is an id, text with @ an
    address, anything else an SMS number; None when it cannot name any contact."""
    text = str(identifier).strip()
    if text.isdecimal() and text.isascii():
        # Larger than any id the database can hold: it names nobody.
        return ("id", int(text)) if 0 < int(text) < _MAX_ID else None
    try:
        if "@" in text:
            email = optional_email(text)
            return ("email", email) if email else None
        number = optional_sms(text)
        return ("sms", number) if number else None
    except Invalid:
        return None


def _keys_of(status: ContactStatus) -> list[tuple[str, int | str]]:
    """Every lookup key the contact answers to."""
    keys: list[tuple[str, int | str]] = [("id", status.contact_id)]
    if status.email:
        keys.append(("email", status.email))
    if status.sms:
        keys.append(("sms", status.sms))
    return keys
