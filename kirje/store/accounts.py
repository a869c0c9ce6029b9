"""Accounts and API users."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from kirje.domain.accounts import Account
from kirje.store.schema import accounts, api_users


def insert_account(conn: Connection, *, name: str, realm: str, now: datetime) -> int:
    return conn.execute(
        insert(accounts)
        .values(name=name, realm=realm, settings={}, needs_confirmation=False, created_at=now)
        .returning(accounts.c.id)
    ).scalar_one()


def find_account(conn: Connection, account_id: int) -> Account | None:
    row = conn.execute(select(accounts).where(accounts.c.id == account_id)).first()
    if row is None:
        return None
    return Account(
        id=row.id,
        name=row.name,
        realm=row.realm,
        needs_confirmation=row.needs_confirmation,
        created_at=row.created_at,
    )


def account_ids(conn: Connection, *, limit: int) -> list[int]:
    return list(conn.execute(select(accounts.c.id).order_by(accounts.c.id).limit(limit)).scalars())


def first_account_id(conn: Connection) -> int | None:
    return conn.execute(select(accounts.c.id).order_by(accounts.c.id).limit(1)).scalar()


def insert_api_user(
    conn: Connection,
    *,
    account_id: int,
    secret_ciphertext: str,
    rate_limit_per_second: int,
    now: datetime,
) -> int:
    values = dict(
        account_id=account_id,
        secret_ciphertext=secret_ciphertext,
        rate_limit_per_second=rate_limit_per_second,
        is_enabled=True,
        created_at=now,
        updated_at=now,
    )
    return conn.execute(insert(api_users).values(**values).returning(api_users.c.id)).scalar_one()


def find_api_user(conn: Connection, user_id: int):
    """The API user joined with its account's realm, or None."""
    return conn.execute(
        select(
            api_users.c.id,
            api_users.c.account_id,
            api_users.c.secret_ciphertext,
            api_users.c.rate_limit_per_second,
            api_users.c.is_enabled,
            accounts.c.realm,
        )
        .join(accounts, accounts.c.id == api_users.c.account_id)
        .where(api_users.c.id == user_id)
    ).first()


def first_api_user_id(conn: Connection, account_id: int) -> int | None:
    return conn.execute(
        select(api_users.c.id)
        .where(api_users.c.account_id == account_id)
        .order_by(api_users.c.id)
        .limit(1)
    ).scalar()


def update_api_user(conn: Connection, user_id: int, now: datetime, **values) -> None:
    conn.execute(
        update(api_users).where(api_users.c.id == user_id).values(updated_at=now, **values)
    )


def settings_of(conn: Connection, account_id: int, *, for_update: bool = False) -> dict:
    """The account's settings document; with for_update the row stays locked until commit,
    so two writers of different settings do not lose each other's change."""
    query = select(accounts.c.settings).where(accounts.c.id == account_id)
    if for_update:
        query = query.with_for_update()
    return dict(conn.execute(query).scalar_one() or {})


def update_settings(conn: Connection, account_id: int, settings: dict) -> None:
    conn.execute(update(accounts).where(accounts.c.id == account_id).values(settings=settings))
