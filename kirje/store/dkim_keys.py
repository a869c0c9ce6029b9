"""DKIM keys per sending domain, their private keys sealed like API secrets."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, insert, select

from kirje.store.schema import dkim_keys


def find_sealed_key(conn: Connection, account_id: int, domain: str):
    """(selector, sealed private key) of the domain's key, or None."""
    return conn.execute(
        select(dkim_keys.c.selector, dkim_keys.c.private_key_ciphertext).where(
            dkim_keys.c.account_id == account_id, dkim_keys.c.domain == domain.lower()
        )
    ).first()


def replace_key(
    conn: Connection, account_id: int, domain: str, selector: str, sealed: str, now: datetime
) -> None:
    conn.execute(
        delete(dkim_keys).where(
            dkim_keys.c.account_id == account_id, dkim_keys.c.domain == domain.lower()
        )
    )
    conn.execute(
        insert(dkim_keys).values(
            account_id=account_id,
            domain=domain.lower(),
            selector=selector,
            private_key_ciphertext=sealed,
            created_at=now,
        )
    )
