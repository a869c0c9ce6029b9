"""Consent types and their revisions of translated texts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, insert, select, update

from kirje.domain.consents import ConsentText, ConsentType
from kirje.store.schema import consent_texts, consent_types


def insert_consent_type(
    conn: Connection, *, account_id: int, name: str, is_revokable: bool, now: datetime
) -> int:
    return conn.execute(
        insert(consent_types)
        .values(account_id=account_id, name=name, is_revokable=is_revokable, created_at=now)
        .returning(consent_types.c.id)
    ).scalar_one()


def _latest_revisions(account_id: int):
    return (
        select(
            consent_texts.c.consent_type_id, func.max(consent_texts.c.revision).label("revision")
        )
        .where(consent_texts.c.account_id == account_id)
        .group_by(consent_texts.c.consent_type_id)
        .subquery()
    )


def all_consent_types(conn: Connection, account_id: int) -> list[ConsentType]:
    latest = _latest_revisions(account_id)
    rows = conn.execute(
        select(consent_types, func.coalesce(latest.c.revision, 0).label("revision"))
        .outerjoin(latest, latest.c.consent_type_id == consent_types.c.id)
        .where(consent_types.c.account_id == account_id, consent_types.c.deleted_at.is_(None))
        .order_by(consent_types.c.id)
    )
    return [
        ConsentType(
            id=r.id,
            account_id=r.account_id,
            name=r.name,
            is_revokable=r.is_revokable,
            revision=r.revision,
            created_at=r.created_at,
        )
        for r in rows
    ]


def find_consent_type(conn: Connection, account_id: int, consent_id: int) -> ConsentType | None:
    return next((c for c in all_consent_types(conn, account_id) if c.id == consent_id), None)


def current_texts(conn: Connection, account_id: int) -> list[ConsentText]:
    """The texts of every consent type's latest revision."""
    latest = _latest_revisions(account_id)
    rows = conn.execute(
        select(consent_texts)
        .join(
            latest,
            (latest.c.consent_type_id == consent_texts.c.consent_type_id)
            & (latest.c.revision == consent_texts.c.revision),
        )
        .where(consent_texts.c.account_id == account_id)
        .order_by(consent_texts.c.consent_type_id, consent_texts.c.lang)
    )
    return [
        ConsentText(r.consent_type_id, r.revision, r.lang, r.title, r.description) for r in rows
    ]


def revision_exists(conn: Connection, account_id: int, consent_id: int, revision: int) -> bool:
    return (
        conn.execute(
            select(func.count()).where(
                consent_texts.c.account_id == account_id,
                consent_texts.c.consent_type_id == consent_id,
                consent_texts.c.revision == revision,
            )
        ).scalar_one()
        > 0
    )


def insert_revision(
    conn: Connection,
    *,
    account_id: int,
    consent_id: int,
    texts: dict[str, tuple[str, str]],
    now: datetime,
) -> int:
    """Stores a new revision holding these texts by language; returns its number."""
    current = conn.execute(
        select(func.max(consent_texts.c.revision)).where(
            consent_texts.c.account_id == account_id,
            consent_texts.c.consent_type_id == consent_id,
        )
    ).scalar()
    revision = (current or 0) + 1
    conn.execute(
        insert(consent_texts),
        [
            dict(
                account_id=account_id,
                consent_type_id=consent_id,
                revision=revision,
                lang=lang,
                title=title,
                description=description,
                created_at=now,
            )
            for lang, (title, description) in texts.items()
        ],
    )
    return revision


def update_consent_type(conn: Connection, account_id: int, consent_id: int, **values) -> None:
    conn.execute(
        update(consent_types)
        .where(consent_types.c.account_id == account_id, consent_types.c.id == consent_id)
        .values(**values)
    )
