"""The event store's bulk append keeps every value as given, whatever characters it holds."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from kirje.store import events as event_store
from kirje.store.schema import events

texts = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20
)
items = st.dictionaries(
    texts,
    st.one_of(texts, st.integers(-(2**63), 2**63 - 1), st.none(), st.lists(texts, max_size=3)),
    max_size=4,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(verb=texts.filter(lambda v: v.strip()), data=items)
def test_appended_events_read_back_exactly(system, account, verb: str, data: dict) -> None:
    now = datetime.now(UTC)
    rows = [
        event_store.event_row(account.account_id, None, verb, now, data=data, channel_id=7),
        event_store.event_row(account.account_id, 3, "pbr", now, data={"url": "a\\tb\\\\c\n"}),
    ]
    with system.db.transaction() as conn:
        ids = event_store.append_returning_ids(conn, rows)
    with system.db.reading() as conn:
        stored = conn.execute(
            select(events.c.type, events.c.data, events.c.channel_id, events.c.contact_id)
            .where(events.c.id.in_(ids))
            .order_by(events.c.id)
        ).all()
    assert [tuple(row) for row in stored] == [
        (verb, data, 7, None),
        ("pbr", {"url": "a\\tb\\\\c\n"}, None, 3),
    ]
