"""Consent types and their translations."""

from __future__ import annotations

from dataclasses import dataclass

from kirje.domain.consents import ConsentText, ConsentType
from kirje.domain.errors import Invalid, NotFound
from kirje.domain.sites import check_domain
from kirje.services.base import AccountScope
from kirje.store import consents as consent_store
from kirje.store import sites as site_store


@dataclass(frozen=True)
class ConsentWithTexts:
    consent: ConsentType
    texts: list[ConsentText]


class Consents:
    def __init__(self, scope: AccountScope) -> None:
        self.scope = scope

    def create_type(self, name: str, *, is_revokable: bool) -> int:
        name = (name or "").strip()
        if not name:
            raise Invalid("consent name must not be empty")
        with self.scope.db.transaction() as conn:
            return consent_store.insert_consent_type(
                conn,
                account_id=self.scope.account_id,
                name=name,
                is_revokable=is_revokable,
                now=self.scope.clock(),
            )

    def edit_translation(self, consent_id: int, *, lang: str, title: str, description: str) -> int:
        """Stores a new revision with this language's text; returns the revision number.

        A revision is a snapshot of every language, so the other languages carry over.
        """
        lang = (lang or "").strip().upper()
        if not lang or len(lang) > 8:
            raise Invalid(f"invalid consent language {lang!r}")
        if not (title or "").strip():
            raise Invalid("consent title must not be empty")
        with self.scope.db.transaction() as conn:
            if consent_store.find_consent_type(conn, self.scope.account_id, consent_id) is None:
                raise NotFound(f"consent {consent_id} not found")
            texts = {
                text.lang: (text.title, text.description)
                for text in consent_store.current_texts(conn, self.scope.account_id)
                if text.consent_id == consent_id
            }
            texts[lang] = (title.strip(), description or "")
            return consent_store.insert_revision(
                conn,
                account_id=self.scope.account_id,
                consent_id=consent_id,
                texts=texts,
                now=self.scope.clock(),
            )

    def edit_type(self, consent_id: int, *, name: str, is_revokable: bool) -> None:
        name = (name or "").strip()
        if not name:
            raise Invalid("consent name must not be empty")
        with self.scope.db.transaction() as conn:
            self._existing(conn, consent_id)
            consent_store.update_consent_type(
                conn, self.scope.account_id, consent_id, name=name, is_revokable=is_revokable
            )

    def delete_type(self, consent_id: int) -> None:
        """Retires a consent type: sites stop asking for it; consents given stay on record."""
        with self.scope.db.transaction() as conn:
            self._existing(conn, consent_id)
            site_store.detach_consent(conn, self.scope.account_id, consent_id)
            consent_store.update_consent_type(
                conn, self.scope.account_id, consent_id, deleted_at=self.scope.clock()
            )

    def _existing(self, conn, consent_id: int) -> ConsentType:
        found = consent_store.find_consent_type(conn, self.scope.account_id, consent_id)
        if found is None:
            raise NotFound(f"consent {consent_id} not found")
        return found

    def all(self) -> list[ConsentWithTexts]:
        with self.scope.db.reading() as conn:
            return self._with_texts(
                consent_store.all_consent_types(conn, self.scope.account_id), conn
            )

    def for_site(self, domain: str) -> list[ConsentWithTexts]:
        """The consents a site asks for: those attached to it, or every consent when none is."""
        with self.scope.db.reading() as conn:
            site = site_store.find_site(conn, self.scope.account_id, check_domain(domain))
            if site is None:
                raise NotFound(f"site {domain!r} not found")
            consents = consent_store.all_consent_types(conn, self.scope.account_id)
            if site.consent_ids:
                consents = [c for c in consents if c.id in site.consent_ids]
            return self._with_texts(consents, conn)

    def _with_texts(self, consents: list[ConsentType], conn) -> list[ConsentWithTexts]:
        texts = consent_store.current_texts(conn, self.scope.account_id)
        return [
            ConsentWithTexts(consent, [t for t in texts if t.consent_id == consent.id])
            for consent in consents
        ]
