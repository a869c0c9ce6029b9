"""Subscription sites."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from kirje.domain.errors import Conflict, Invalid, NotFound
from kirje.domain.sites import (
    Site,
    SiteChanges,
    check_domain,
    check_language,
    site_changes,
    welcome_delivery,
)
from kirje.services.base import AccountScope
from kirje.store import consents as consent_store
from kirje.store import lists as list_store
from kirje.store import sites as site_store


class Sites:
    def __init__(self, scope: AccountScope) -> None:
        self.scope = scope

    def all(self) -> list[Site]:
        with self.scope.db.reading() as conn:
            return site_store.all_sites(conn, self.scope.account_id)

    def get(self, domain: str) -> Site:
        with self.scope.db.reading() as conn:
            site = site_store.find_site(conn, self.scope.account_id, check_domain(domain))
        if site is None:
            raise NotFound(f"site {domain!r} not found")
        return site

    def default(self) -> Site:
        with self.scope.db.reading() as conn:
            return self._default(conn)

    def create(
        self,
        domain: str,
        *,
        language: str = "FI",
        uses_ssl: bool = True,
        welcome_delivery_id: int | None = None,
        consent_ids: list[int] | None = None,
    ) -> str:
        domain = check_domain(domain)
        language = check_language(language)
        with self.scope.db.transaction() as conn:
            if site_store.find_site(conn, self.scope.account_id, domain):
                raise Conflict(f"site {domain!r} already exists")
            self._check_consents(conn, consent_ids or [])
            try:
                site_id = site_store.insert_site(
                    conn,
                    account_id=self.scope.account_id,
                    now=self.scope.clock(),
                    domain=domain,
                    language=language,
                    is_default=False,
                    uses_ssl=uses_ssl,
                    welcome_delivery_id=welcome_delivery_id,
                )
            except IntegrityError:
                raise Conflict(f"site {domain!r} already exists") from None
            site_store.set_site_consents(conn, self.scope.account_id, site_id, consent_ids or [])
        return domain

    def set_default(
        self,
        domain: str,
        *,
        language: str | None = None,
        welcome_delivery_id: int | None = None,
        uses_ssl: bool | None = None,
    ) -> str:
        """Makes the site the account's default (the only one), changing what is given."""
        changes = _basic_changes(language, welcome_delivery_id, uses_ssl)
        with self.scope.db.transaction() as conn:
            site = self._find(conn, domain)
            site_store.make_default(conn, self.scope.account_id, site.id)
            self._apply(conn, site, changes)
        return site.domain

    def modify_or_create(
        self,
        domain: str | None,
        *,
        new_domain: str | None = None,
        language: str | None = None,
        welcome_delivery_id: int | None = None,
        uses_ssl: bool | None = None,
    ) -> str:
        """setSite: renames and changes an existing site, or creates new_domain when no site is
        named. Returns the site's domain as it now is."""
        changes = _basic_changes(language, welcome_delivery_id, uses_ssl)
        if not domain:
            if not new_domain:
                raise Invalid("name the site to change (site) or the one to create (new_name)")
            created = self.create(
                new_domain,
                language=changes.columns.get("language", "FI"),
                uses_ssl=changes.columns.get("uses_ssl", True),
                welcome_delivery_id=changes.columns.get("welcome_delivery_id"),
            )
            return created
        renamed = check_domain(new_domain) if new_domain else None
        with self.scope.db.transaction() as conn:
            site = self._find(conn, domain)
            if renamed and renamed != site.domain:
                if site_store.find_site(conn, self.scope.account_id, renamed):
                    raise Conflict(f"site {renamed!r} already exists")
                changes.columns["domain"] = renamed
            self._apply(conn, site, changes)
        return renamed or site.domain

    def update(self, domain: str, settings: Mapping[str, Any]) -> None:
        """updateSite: changes the settings given (domain.sites.site_changes)."""
        changes = site_changes(settings)
        with self.scope.db.transaction() as conn:
            self._apply(conn, self._find(conn, domain), changes)

    def delete(self, domain: str) -> None:
        """Removes a site; the default site stays (make another default first)."""
        with self.scope.db.transaction() as conn:
            site = self._find(conn, domain)
            if site.is_default:
                raise Conflict(f"site {site.domain!r} is the default site: it cannot be deleted")
            site_store.delete_site(conn, self.scope.account_id, site.id)

    def set_welcome_delivery(self, domain: str | None, welcome_delivery_id: int | None) -> None:
        """The delivery a site's new subscribers are welcomed with (the default site when no
        site is named; 0 or null: none)."""
        delivery_id = welcome_delivery(welcome_delivery_id)
        with self.scope.db.transaction() as conn:
            site = self._find(conn, domain) if domain else self._default(conn)
            site_store.update_site(
                conn, self.scope.account_id, site.id, welcome_delivery_id=delivery_id
            )

    def _find(self, conn: Connection, domain: str) -> Site:
        site = site_store.find_site(conn, self.scope.account_id, check_domain(domain))
        if site is None:
            raise NotFound(f"site {domain!r} not found")
        return site

    def _default(self, conn: Connection) -> Site:
        site = site_store.default_site(conn, self.scope.account_id)
        assert site is not None, "every account is created with a default site"
        return site

    def _apply(self, conn: Connection, site: Site, changes: SiteChanges) -> None:
        account_id = self.scope.account_id
        if changes.consent_ids is not None:
            self._check_consents(conn, changes.consent_ids)
            site_store.set_site_consents(conn, account_id, site.id, changes.consent_ids)
        if changes.list_ids is not None:
            self._check_lists(conn, changes.list_ids)
            site_store.set_site_lists(conn, account_id, site.id, changes.list_ids)
        if changes.columns:
            try:
                site_store.update_site(conn, account_id, site.id, **changes.columns)
            except IntegrityError:
                raise Conflict(f"site {changes.columns.get('domain')!r} already exists") from None

    def _check_consents(self, conn: Connection, consent_ids: list[int]) -> None:
        known = {c.id for c in consent_store.all_consent_types(conn, self.scope.account_id)}
        unknown = [cid for cid in consent_ids if cid not in known]
        if unknown:
            raise NotFound(f"consents not found: {', '.join(map(str, unknown))}")

    def _check_lists(self, conn: Connection, list_ids: list[int]) -> None:
        """A site offers only the account's own self-service lists."""
        for list_id in list_ids:
            found = list_store.find_list(conn, self.scope.account_id, list_id, with_counts=False)
            if found is None:
                raise NotFound(f"mailing list {list_id} not found")
            if not found.is_self_service:
                raise Invalid(
                    f"mailing list {list_id} is not self-service: a site offers only "
                    "self-service lists (editMailingListSelfService)"
                )


def _basic_changes(
    language: str | None, welcome_delivery_id: int | None, uses_ssl: bool | None
) -> SiteChanges:
    """The changes setSite and setDefaultSite carry; what is null stays as it is."""
    given = {"language": language, "welcome": welcome_delivery_id, "ssl": uses_ssl}
    return site_changes({key: value for key, value in given.items() if value is not None})
