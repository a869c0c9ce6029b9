"""The account's event feed: pages of its events, and the openers and clickers of a delivery."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection
from sqlalchemy.engine import Row

from kirje.domain.errors import Invalid, NotFound
from kirje.domain.event_feed import (
    EventContact,
    EventQuery,
    FeedEvent,
    Responder,
    ResponderQuery,
    picked_properties,
)
from kirje.domain.events import EventType
from kirje.services.base import AccountScope
from kirje.store import deliveries as delivery_store
from kirje.store import event_feed as feed_store
from kirje.store import properties as property_store
from kirje.store.events import event_from_row

EVENT_TYPES = frozenset(member.value for member in EventType)


class EventFeed:
    def __init__(self, scope: AccountScope) -> None:
        self.scope = scope

    @property
    def _account_id(self) -> int:
        return self.scope.account_id

    def events(self, query: EventQuery) -> list[FeedEvent]:
        """A page of the account's events of the query's types, with their contacts (and the
        lists of list events, when asked)."""
        if not query.types:
            raise Invalid("name at least one event type")
        unknown = sorted(query.types - EVENT_TYPES)
        if unknown:
            raise Invalid(f"unknown event types: {', '.join(unknown)}")
        with self.scope.db.reading() as conn:
            self._check_properties(conn, query.property_names)
            rows = feed_store.event_page(conn, self._account_id, query)
            return self._feed_events(conn, rows, query.property_names, with_lists=query.with_lists)

    def responders(self, delivery_id: int, query: ResponderQuery) -> list[Responder]:
        """A page of the contacts who opened (or clicked) the delivery, each with their first
        open (click); raises NotFound for a delivery the account does not have."""
        with self.scope.db.reading() as conn:
            if delivery_store.find_delivery(conn, self._account_id, delivery_id) is None:
                raise NotFound(f"delivery {delivery_id} not found")
            self._check_properties(conn, query.property_names)
            rows = feed_store.first_responses(conn, self._account_id, delivery_id, query)
            found = self._feed_events(conn, rows, query.property_names, with_lists=False)
        return [Responder(item.contact, item) for item in found if item.contact is not None]

    def _check_properties(self, conn: Connection, names: Sequence[str]) -> None:
        if not names:
            return
        defined = {prop.name for prop in property_store.all_properties(conn, self._account_id)}
        unknown = [name for name in names if name not in defined]
        if unknown:
            raise Invalid(f"unknown properties: {', '.join(unknown)}")

    def _feed_events(
        self,
        conn: Connection,
        rows: list[Row],
        property_names: tuple[str, ...],
        *,
        with_lists: bool,
    ) -> list[FeedEvent]:
        """The page's rows with what they name, read for the whole page at once."""
        account_id = self._account_id
        people = feed_store.contacts_by_id(
            conn,
            account_id,
            {row.contact_id for row in rows if row.contact_id is not None},
            with_properties=bool(property_names),
        )
        lists = (
            feed_store.list_summaries(
                conn, account_id, {row.list_id for row in rows if row.list_id is not None}
            )
            if with_lists
            else {}
        )
        clicked = {row.delivery_id for row in rows if row.type == EventType.MAIL_LINK.value}
        links = feed_store.link_ids(conn, account_id, {d for d in clicked if d is not None})
        return [
            FeedEvent(
                event=event_from_row(row),
                delivery_id=row.delivery_id,
                contact=_contact(people.get(row.contact_id), property_names),
                mailing_list=lists.get(row.list_id),
                link_id=links.get((row.delivery_id, (row.data or {}).get("link"))),
            )
            for row in rows
        ]


def _contact(row: Row | None, property_names: tuple[str, ...]) -> EventContact | None:
    if row is None:
        return None
    values = row.properties or {} if property_names else {}
    return EventContact(row.id, row.email, row.sms, picked_properties(values, property_names))
