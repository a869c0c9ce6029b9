"""Double opt-in: the tasks a confirmation completes, confirming (by code, or by following the
link in the confirmation mail), and the confirmation mail."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection

from kirje.domain.confirmations import (
    ConfirmationTask,
    TaskKind,
    consent_task,
    membership_list_ids,
    membership_task,
    task_kind,
)
from kirje.domain.contacts import Contact
from kirje.domain.deliveries import DeliveryKind
from kirje.domain.errors import Invalid, NotFound
from kirje.domain.events import EventType
from kirje.domain.lists import ListKind
from kirje.domain.sites import Site, check_domain
from kirje.domain.tracking_links import ConfirmationTarget
from kirje.services import memberships
from kirje.services.base import AccountScope
from kirje.services.properties import resolve_property_values
from kirje.services.system_mails import SystemMails
from kirje.store import confirmations as confirmation_store
from kirje.store import consents as consent_store
from kirje.store import contacts as contact_store
from kirje.store import events as event_store
from kirje.store import lists as list_store
from kirje.store import properties as property_store
from kirje.store import sites as site_store

# The consent source recorded when a confirmation gives a consent.
CONFIRMATION_SOURCE = "confirmation"
# The reason recorded when the person confirmed by following the link in their mail.
LINK_REASON = "confirmation link"
# What a refused confirmation link is told: nothing about why.
LINK_NOT_FOUND = "not found"


class Confirmations:
    def __init__(self, scope: AccountScope) -> None:
        self.scope = scope

    @property
    def _account_id(self) -> int:
        return self.scope.account_id

    def add_tasks(self, contact_id: int, code: str, tasks: list[tuple[str, dict]]) -> list[int]:
        """Stores tasks (type, content) to run at confirmation; returns their ids. Every task
        is checked before any is written, so a bad one leaves nothing behind."""
        if not tasks:
            raise Invalid("tasks must not be empty")
        with self.scope.db.transaction() as conn:
            self._check_code(conn, contact_id, code)
            checked = [self._checked_task(conn, kind, task) for kind, task in tasks]
            return confirmation_store.insert_tasks(
                conn,
                account_id=self._account_id,
                contact_id=contact_id,
                code=code,
                tasks=checked,
                now=self.scope.clock(),
            )

    def pending_tasks(self, code: str) -> list[ConfirmationTask]:
        code = code.strip()
        with self.scope.db.reading() as conn:
            contact_id = self._contact_with_code(conn, code)
            return confirmation_store.pending_tasks(conn, self._account_id, contact_id, code)

    def confirm(self, code: str, *, reason: str | None = None, origin: str | None = None) -> int:
        """Confirms the contact holding this code and runs its pending tasks, all in one
        transaction; confirming again only runs tasks added since."""
        code = code.strip()
        with self.scope.db.transaction() as conn:
            contact_id = self._contact_with_code(conn, code)
            self._confirm(conn, contact_id, code, reason, origin)
            return contact_id

    def check_link(self, contact_id: int, token: str) -> None:
        """Raises NotFound unless the token is the contact's confirmation link for its
        current code (kirje.domain.tracking_links)."""
        with self.scope.db.reading() as conn:
            self._code_of_link(conn, contact_id, token)

    def confirm_by_link(self, contact_id: int, token: str) -> int:
        """What following the confirmation link does: the same as confirm with the code."""
        with self.scope.db.transaction() as conn:
            code = self._code_of_link(conn, contact_id, token)
            self._confirm(conn, contact_id, code, LINK_REASON, None)
            return contact_id

    def queue_confirmation_mail(
        self,
        contact_id: int,
        *,
        site: str | None = None,
        properties: dict | None = None,
        force: bool = False,
    ) -> None:
        """Sends a confirmation mail with the contact's confirmation link, through a delivery
        of its own (see kirje.services.system_mails). A confirmed contact gets one only when
        forced."""
        mails = SystemMails(self.scope)
        with self.scope.db.transaction() as conn:
            contact = self._contact(conn, contact_id)
            if not contact.email:
                raise Invalid(f"recipient {contact_id} has no email address")
            if contact.confirmed_at is not None and not force:
                raise Invalid(f"recipient {contact_id} is already confirmed")
            chosen = self._site(conn, site)
            requested = mails.record(
                conn, DeliveryKind.CONFIRMATION, contact, chosen, properties or {}
            )
            data = {"site": chosen.domain} if chosen else {}
            self._event(conn, contact_id, EventType.CONFIRMATION_QUEUED, data)
        mails.deliver(requested)

    def _confirm(
        self, conn: Connection, contact_id: int, code: str, reason: str | None, origin: str | None
    ) -> None:
        now = self.scope.clock()
        if contact_store.confirm_contacts(conn, self._account_id, [contact_id], now):
            self._event(conn, contact_id, EventType.CONFIRMED, _action(reason, origin))
        tasks = confirmation_store.claim_pending_tasks(
            conn, self._account_id, contact_id, code, now
        )
        runners: dict[TaskKind, Callable] = {
            TaskKind.CONSENT: self._give_consent,
            TaskKind.MEMBERSHIP: self._join_lists,
            TaskKind.PROPERTIES: self._set_properties,
        }
        for task in tasks:
            runners[task.kind](conn, contact_id, task.task, reason, origin)

    # Checks

    def _contact(self, conn: Connection, contact_id: int) -> Contact:
        contact = contact_store.find_by_id(conn, self._account_id, contact_id)
        if contact is None:
            raise NotFound(f"recipient {contact_id} not found")
        return contact

    def _code_of_link(self, conn: Connection, contact_id: int, token: str) -> str:
        """The contact's current code, when the token signs it; NotFound, saying nothing more,
        for any other token (another contact's, an old code's, a forged one)."""
        links = self.scope.links
        contact = contact_store.find_by_id(conn, self._account_id, contact_id)
        code = (
            contact_store.confirmation_code_of(conn, self._account_id, contact_id)
            if contact is not None
            else None
        )
        if links is None or code is None:
            raise NotFound(LINK_NOT_FOUND)
        if links.tokens.read_confirmation(token, code) != (
            ConfirmationTarget(self._account_id, contact_id)
        ):
            raise NotFound(LINK_NOT_FOUND)
        return code

    def _contact_with_code(self, conn: Connection, code: str) -> int:
        found = None
        if code:
            found = confirmation_store.contact_id_with_code(conn, self._account_id, code)
        if found is None:
            raise NotFound(f"confirmation code {code!r} not found")
        return found

    def _check_code(self, conn: Connection, contact_id: int, code: str) -> None:
        self._contact(conn, contact_id)
        current = contact_store.confirmation_code_of(conn, self._account_id, contact_id)
        if current is None or current != code:
            raise Invalid(f"confirmation_code is not the current code of recipient {contact_id}")

    def _checked_task(self, conn: Connection, kind_name: str, task: dict) -> tuple[TaskKind, dict]:
        if not isinstance(task, dict):
            raise Invalid("a confirmation task must be an object")
        kind = task_kind(kind_name)
        if kind is TaskKind.CONSENT:
            checked = consent_task(task)
            consent_id, revision = checked["consent_id"], checked["consent_revision"]
            if consent_store.find_consent_type(conn, self._account_id, consent_id) is None:
                raise NotFound(f"consent {consent_id} not found")
            if not consent_store.revision_exists(conn, self._account_id, consent_id, revision):
                raise NotFound(f"consent {consent_id} has no revision {revision}")
            return kind, checked
        if kind is TaskKind.MEMBERSHIP:
            checked = membership_task(task)
            for list_id in membership_list_ids(checked):
                memberships.joinable_list(conn, self._account_id, list_id)
            return kind, checked
        values = resolve_property_values(conn, self._account_id, task)
        if not values:
            raise Invalid("properties task needs at least one property value")
        return kind, values

    def _site(self, conn: Connection, domain: str | None) -> Site | None:
        """The named site, else the account's default one (the mail's link points there)."""
        if domain:
            site = site_store.find_site(conn, self._account_id, check_domain(domain))
            if site is None:
                raise NotFound(f"site {domain!r} not found")
            return site
        return site_store.default_site(conn, self._account_id)

    # Running tasks, inside the confirming transaction. What vanished since the task was
    # stored (a deleted consent, list or property) is skipped: the person still confirms.

    def _give_consent(self, conn: Connection, contact_id: int, task: dict, reason, origin) -> None:
        consent_id, revision = task["consent_id"], task["consent_revision"]
        if consent_store.find_consent_type(conn, self._account_id, consent_id) is None:
            return
        contact_store.insert_member_consent(
            conn,
            account_id=self._account_id,
            contact_id=contact_id,
            consent_type_id=consent_id,
            revision=revision,
            lang=task["lang"],
            source=CONFIRMATION_SOURCE,
            source_data=origin,
            given_at=self.scope.clock(),
        )
        data = {"consent_id": consent_id, "revision": revision, "lang": task["lang"]}
        self._event(conn, contact_id, EventType.CONSENT_GIVEN, data)

    def _join_lists(self, conn: Connection, contact_id: int, task: dict, reason, origin) -> None:
        for list_id in membership_list_ids(task):
            found = list_store.find_list(conn, self._account_id, list_id)
            if found is None or found.kind is not ListKind.STATIC:
                continue
            # The person's own act: it also brings back a membership they had left.
            memberships.join(
                conn,
                self._account_id,
                list_id,
                [contact_id],
                now=self.scope.clock(),
                is_admin=False,
                reason=reason,
                origin=origin,
            )

    def _set_properties(
        self, conn: Connection, contact_id: int, task: dict, reason, origin
    ) -> None:
        known = {p.name for p in property_store.all_properties(conn, self._account_id)}
        contact = self._contact(conn, contact_id)
        changed = {
            name: value
            for name, value in task.items()
            if name in known and contact.properties.get(name) != value
        }
        if not changed:
            return
        contact_store.update_contact(
            conn,
            self._account_id,
            contact_id,
            self.scope.clock(),
            properties={**contact.properties, **changed},
        )
        data = _action(reason, origin)
        data["properties"] = changed
        self._event(conn, contact_id, EventType.DATA_CHANGE, data)

    def _event(self, conn: Connection, contact_id: int, type_: EventType, data: dict) -> None:
        row = event_store.event_row(
            self._account_id, contact_id, type_.value, self.scope.clock(), data=data
        )
        event_store.append_events(conn, [row])


def _action(reason: str | None, origin: str | None) -> dict:
    data: dict = {}
    if reason:
        data["reason"] = reason
    if origin:
        data["origin"] = origin
    return data
