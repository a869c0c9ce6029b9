"""Subscription sites, the lists they offer and the consents they ask for."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.engine import Row

from kirje.domain.sites import Site
from kirje.store.schema import mailing_lists, queued_mails, site_consents, site_lists, sites


def _site(row: Row, list_ids: list[int], consent_ids: list[int]) -> Site:
    return Site(
        id=row.id,
        account_id=row.account_id,
        domain=row.domain,
        language=row.language,
        is_default=row.is_default,
        uses_ssl=row.uses_ssl,
        welcome_delivery_id=row.welcome_delivery_id,
        redirect=row.redirect,
        replaced_by=row.replaced_by,
        list_ids=list_ids,
        consent_ids=consent_ids,
    )


def insert_site(conn: Connection, *, account_id: int, now: datetime, **values) -> int:
    return conn.execute(
        insert(sites)
        .values(account_id=account_id, created_at=now, settings={}, **values)
        .returning(sites.c.id)
    ).scalar_one()


def update_site(conn: Connection, account_id: int, site_id: int, **values) -> None:
    conn.execute(
        update(sites)
        .where(sites.c.account_id == account_id, sites.c.id == site_id)
        .values(**values)
    )


def all_sites(conn: Connection, account_id: int) -> list[Site]:
    rows = conn.execute(
        select(sites).where(sites.c.account_id == account_id).order_by(sites.c.id)
    ).all()
    lists_by_site = _site_list_ids(conn, account_id)
    consents_by_site = _site_consent_ids(conn, account_id)
    return [
        _site(row, lists_by_site.get(row.id, []), consents_by_site.get(row.id, [])) for row in rows
    ]


def find_site(conn: Connection, account_id: int, domain: str) -> Site | None:
    return next((site for site in all_sites(conn, account_id) if site.domain == domain), None)


def default_site(conn: Connection, account_id: int) -> Site | None:
    """The site marked default; the oldest one if none is (None only without any site)."""
    sites_ = all_sites(conn, account_id)
    return next((site for site in sites_ if site.is_default), sites_[0] if sites_ else None)


def _site_list_ids(conn: Connection, account_id: int) -> dict[int, list[int]]:
    rows = conn.execute(
        select(site_lists.c.site_id, site_lists.c.list_id)
        .join(mailing_lists, mailing_lists.c.id == site_lists.c.list_id)
        .where(site_lists.c.account_id == account_id, mailing_lists.c.deleted_at.is_(None))
        .order_by(site_lists.c.list_id)
    )
    grouped: dict[int, list[int]] = {}
    for row in rows:
        grouped.setdefault(row.site_id, []).append(row.list_id)
    return grouped


def _site_consent_ids(conn: Connection, account_id: int) -> dict[int, list[int]]:
    rows = conn.execute(
        select(site_consents.c.site_id, site_consents.c.consent_type_id)
        .where(site_consents.c.account_id == account_id)
        .order_by(site_consents.c.consent_type_id)
    )
    grouped: dict[int, list[int]] = {}
    for row in rows:
        grouped.setdefault(row.site_id, []).append(row.consent_type_id)
    return grouped


def attach_list(conn: Connection, account_id: int, site_id: int, list_id: int) -> None:
    conn.execute(delete(site_lists).where(site_lists.c.list_id == list_id))
    conn.execute(insert(site_lists).values(account_id=account_id, site_id=site_id, list_id=list_id))


def detach_list(conn: Connection, account_id: int, list_id: int) -> None:
    conn.execute(
        delete(site_lists).where(
            site_lists.c.account_id == account_id, site_lists.c.list_id == list_id
        )
    )


def set_site_consents(
    conn: Connection, account_id: int, site_id: int, consent_ids: list[int]
) -> None:
    conn.execute(delete(site_consents).where(site_consents.c.site_id == site_id))
    if consent_ids:
        conn.execute(
            insert(site_consents),
            [
                dict(account_id=account_id, site_id=site_id, consent_type_id=cid)
                for cid in consent_ids
            ],
        )


def detach_consent(conn: Connection, account_id: int, consent_id: int) -> None:
    conn.execute(
        delete(site_consents).where(
            site_consents.c.account_id == account_id,
            site_consents.c.consent_type_id == consent_id,
        )
    )


def make_default(conn: Connection, account_id: int, site_id: int) -> None:
    """Makes the site the account's one default site."""
    conn.execute(
        update(sites)
        .where(sites.c.account_id == account_id)
        .values(is_default=sites.c.id == site_id)
    )


def set_site_lists(conn: Connection, account_id: int, site_id: int, list_ids: list[int]) -> None:
    """The site offers exactly these lists; a list is offered on one site at a time, so the
    lists leave the sites that offered them before."""
    conn.execute(
        update(mailing_lists)
        .where(
            mailing_lists.c.account_id == account_id,
            mailing_lists.c.site_id == site_id,
            mailing_lists.c.id.not_in(list_ids),
        )
        .values(site_id=None)
    )
    conn.execute(
        delete(site_lists).where(
            site_lists.c.account_id == account_id,
            (site_lists.c.site_id == site_id) | site_lists.c.list_id.in_(list_ids),
        )
    )
    if list_ids:
        conn.execute(
            update(mailing_lists)
            .where(mailing_lists.c.account_id == account_id, mailing_lists.c.id.in_(list_ids))
            .values(site_id=site_id)
        )
        conn.execute(
            insert(site_lists),
            [dict(account_id=account_id, site_id=site_id, list_id=lid) for lid in list_ids],
        )


def delete_site(conn: Connection, account_id: int, site_id: int) -> None:
    """Removes the site with what points at it: its lists are offered nowhere, and mails
    queued for it will use the default site."""
    set_site_lists(conn, account_id, site_id, [])
    set_site_consents(conn, account_id, site_id, [])
    conn.execute(
        update(queued_mails)
        .where(queued_mails.c.account_id == account_id, queued_mails.c.site_id == site_id)
        .values(site_id=None)
    )
    conn.execute(delete(sites).where(sites.c.account_id == account_id, sites.c.id == site_id))
