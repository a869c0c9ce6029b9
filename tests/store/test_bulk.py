"""The bulk contact load: COPY on PostgreSQL, batched inserts on SQLite, same result."""

from __future__ import annotations

from kirje.services.base import utc_now
from kirje.store.bulk import load_contacts


def test_loaded_contacts_read_back_with_their_properties(system, services) -> None:
    rows = [
        (
            f"bulk{i}@example.com",
            "+35840" + str(1000000 + i) if i % 2 else None,
            {"firstname": f"N{i}"},
        )
        for i in range(25_000)
    ]
    with system.db.transaction() as conn:
        assert load_contacts(conn, services.account_id, iter(rows), utc_now()) == len(rows)
    sample = services.contacts.get_by_email("bulk24999@example.com").contact
    assert sample.properties == {"firstname": "N24999"}
    assert sample.sms == "+358401024999"
    assert services.contacts.get_by_email("bulk0@example.com").contact.sms is None
