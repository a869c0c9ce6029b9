"""Subscription sites."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from kirje.domain.errors import Conflict, Invalid, NotFound
from kirje.domain.sites import Site, check_domain
from kirje.services.base import AccountScope
from kirje.store import consents as consent_store
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
        sites = self.all()
        return next((site for site in sites if site.is_default), sites[0])

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
        language = (language or "FI").upper()
        if len(language) > 8:
            raise Invalid(f"invalid site language {language!r}")
        with self.scope.db.transaction() as conn:
            if site_store.find_site(conn, self.scope.account_id, domain):
                raise Conflict(f"site {domain!r} already exists")
            known = {c.id for c in consent_store.all_consent_types(conn, self.scope.account_id)}
            unknown = [cid for cid in consent_ids or [] if cid not in known]
            if unknown:
                raise NotFound(f"consents not found: {', '.join(map(str, unknown))}")
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
