"""Contacts: creating, finding, changing, deleting; each change appends an event."""

from __future__ import annotations

from typing import Final

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from kirje.domain.contacts import (
    Contact,
    ContactDetails,
    new_confirmation_code,
    optional_email,
    optional_sms,
)
from kirje.domain.deliveries import DeliveryKind
from kirje.domain.errors import Conflict, Invalid, NotFound
from kirje.domain.events import EventType
from kirje.domain.lists import EVERYONE, MemberPage
from kirje.services import memberships
from kirje.services.base import AccountScope
from kirje.services.privacy import refuse_suppressed
from kirje.services.properties import resolve_property_values
from kirje.services.system_mails import SystemMails
from kirje.store import consents as consent_store
from kirje.store import contacts as contact_store
from kirje.store import events as event_store
from kirje.store import lists as list_store
from kirje.store import queued_mails
from kirje.store import sites as site_store


class _Keep:
    """Marks an argument the caller did not send: the stored value stays."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP: Final = _Keep()


class Contacts:
    def __init__(self, scope: AccountScope) -> None:
        self.scope = scope

    @property
    def _account_id(self) -> int:
        return self.scope.account_id

    # Reading

    def get(self, contact_id: int, *, include_deleted: bool = False) -> ContactDetails:
        return self._details("id", contact_id, include_deleted, f"recipient {contact_id} not found")

    def get_by_email(self, email: str, *, include_deleted: bool = False) -> ContactDetails:
        """The account's contact with this address; raises NotFound."""
        return self._details(
            "email", optional_email(email), include_deleted, f"recipient {email!r} not found"
        )

    def get_by_sms(self, sms: str, *, include_deleted: bool = False) -> ContactDetails:
        return self._details(
            "sms", optional_sms(sms), include_deleted, f"recipient {sms!r} not found"
        )

    def _details(self, column: str, value, include_deleted: bool, missing: str) -> ContactDetails:
        found = None
        if value is not None:
            with self.scope.db.reading() as conn:
                found = contact_store.find_details(
                    conn, self._account_id, column, value, include_deleted=include_deleted
                )
        if found is None:
            raise NotFound(missing)
        return found

    def find_id(self, email_or_sms: str) -> int | None:
        """The id of the contact (deleted ones too) with this address or number, or None."""
        text = (email_or_sms or "").strip()
        try:
            column, value = (
                ("email", optional_email(text)) if "@" in text else ("sms", optional_sms(text))
            )
        except Invalid:
            return None
        if not value:
            return None
        with self.scope.db.reading() as conn:
            found = contact_store.find_details(
                conn, self._account_id, column, value, include_deleted=True
            )
        return found.contact.id if found else None

    def is_enabled(self, identifier: int | str) -> bool:
        """Whether the contact (by id, email or SMS number) may be mailed."""
        if isinstance(identifier, int) or str(identifier).isdigit():
            contact = self.get(int(identifier), include_deleted=True).contact
        else:
            contact_id = self.find_id(str(identifier))
            if contact_id is None:
                raise NotFound(f"recipient {identifier!r} not found")
            contact = self.get(contact_id, include_deleted=True).contact
        return contact.is_enabled and not contact.is_deleted

    def enable(self, contact_id: int, *, reason: str | None = None) -> None:
        """Brings a disabled or deleted contact back, by id."""
        with self.scope.db.transaction() as conn:
            contact = contact_store.find_by_id(
                conn, self._account_id, contact_id, include_deleted=True
            )
            if contact is None:
                raise NotFound(f"recipient {contact_id} not found")
            self._bring_back(conn, contact, _action(reason, None))

    def update(
        self,
        email: str,
        *,
        sms: str | None = None,
        properties: dict | None = None,
        reason: str | None = None,
        origin: str | None = None,
        create: bool = False,
    ) -> int:
        """Updates what is given (nothing can be unset); creates the contact when asked to."""
        address = optional_email(email)
        if not address:
            raise Invalid("recipient email is required")
        number = optional_sms(sms)
        with self.scope.db.transaction() as conn:
            values = resolve_property_values(conn, self._account_id, properties or {})
            contact = contact_store.find_by_email(conn, self._account_id, address)
            if contact is None:
                if not create:
                    raise NotFound(f"recipient {email!r} not found")
                return self._insert(conn, address, number, values, False, reason, origin)
            self._change(
                conn,
                contact,
                sms=number or KEEP,
                properties=values,
                reason=reason,
                origin=origin,
            )
            return contact.id

    def leave_list(
        self,
        contact_id: int,
        list_id: int,
        *,
        by_contact: bool,
        reason: str | None = None,
        origin: str | None = None,
    ) -> None:
        with self.scope.db.transaction() as conn:
            if contact_store.find_by_id(conn, self._account_id, contact_id) is None:
                raise NotFound(f"recipient {contact_id} not found")
            memberships.joinable_list(conn, self._account_id, list_id)
            memberships.leave(
                conn,
                self._account_id,
                [contact_id],
                [list_id],
                now=self.scope.clock(),
                by_contact=by_contact,
                reason=reason,
                origin=origin,
            )

    def get_deleted(self, contact_id: int) -> ContactDetails:
        details = self.get(contact_id, include_deleted=True)
        if not details.contact.is_deleted:
            raise NotFound(f"recipient {contact_id} is not deleted")
        return details

    def get_many(self, contact_ids: list[int]) -> list[ContactDetails]:
        """The contacts among these ids that exist and are not deleted, in the order asked."""
        with self.scope.db.reading() as conn:
            return contact_store.details_by_ids(
                conn, self._account_id, contact_ids, include_deleted=False
            )

    def listing(self, page: MemberPage = EVERYONE) -> list[ContactDetails]:
        """Every contact of the account that is not deleted, paged like list members."""
        with self.scope.db.reading() as conn:
            ids = list_store.member_page(conn, self._account_id, None, page)
            return contact_store.details_by_ids(conn, self._account_id, ids, include_deleted=False)

    def unassociated_count(self) -> int:
        with self.scope.db.reading() as conn:
            return contact_store.unassociated_count(conn, self._account_id)

    def confirmation_code(self, contact_id: int, *, renew: bool) -> str:
        """The contact's confirmation code, made (or made anew, with renew) when needed."""
        with self.scope.db.transaction() as conn:
            contact = contact_store.find_by_id(conn, self._account_id, contact_id)
            if contact is None:
                raise NotFound(f"recipient {contact_id} not found")
            code = contact_store.confirmation_code_of(conn, self._account_id, contact_id)
            if code is None or renew:
                code = new_confirmation_code()
                contact_store.update_contact(
                    conn, self._account_id, contact_id, self.scope.clock(), confirmation_code=code
                )
            return code

    # Creating and changing

    def create(
        self,
        *,
        email: str | None,
        sms: str | None,
        properties: dict | None = None,
        autoconfirm: bool = False,
        reason: str | None = None,
        origin: str | None = None,
        reactivate_bounced: bool = False,
    ) -> int:
        address, number = _identifiers(email, sms)
        with self.scope.db.transaction() as conn:
            values = resolve_property_values(conn, self._account_id, properties or {})
            existing = contact_store.find_by_any(conn, self._account_id, email=address, sms=number)
            if existing:
                contact = existing[0]
                if reactivate_bounced and contact.bounced_at and len(existing) == 1:
                    self._change(conn, contact, properties=values, reason=reason, origin=origin)
                    contact_store.update_contact(
                        conn, self._account_id, contact.id, self.scope.clock(), bounced_at=None
                    )
                    data = _action(reason, origin, bounce_cleared=True)
                    self._event(conn, contact.id, EventType.REACTIVATED, data=data)
                    return contact.id
                raise Conflict(f"recipient already exists (id {contact.id})")
            return self._insert(conn, address, number, values, autoconfirm, reason, origin)

    def create_or_update(
        self,
        *,
        contact_id: int | None = None,
        email: str | None = None,
        sms: str | None = None,
        properties: dict | None = None,
        autoconfirm: bool = False,
        reason: str | None = None,
        origin: str | None = None,
        list_ids: list[int] | None = None,
        is_admin: bool = True,
    ) -> int:
        """Finds the contact by id, email or sms (creating it when none matches), updates
        what was given and joins the lists. Joining here is a subscription act: it also
        restores memberships the contact had left."""
        if contact_id is None and not email and not sms:
            raise Invalid("one of id, email or sms is required")
        address, number = optional_email(email), optional_sms(sms)
        now = self.scope.clock()
        with self.scope.db.transaction() as conn:
            values = resolve_property_values(conn, self._account_id, properties or {})
            contact = self._find_for_update(conn, contact_id, address, number)
            if contact is None:
                target = self._insert(conn, address, number, values, autoconfirm, reason, origin)
            else:
                target = contact.id
                self._change(
                    conn,
                    contact,
                    email=address or contact.email,
                    sms=number or contact.sms,
                    properties=values,
                    reason=reason,
                    origin=origin,
                )
                if autoconfirm and contact.confirmed_at is None:
                    self._confirm(conn, target, reason, origin)
            for list_id in dict.fromkeys(list_ids or []):
                memberships.join(
                    conn,
                    self._account_id,
                    list_id,
                    [target],
                    now=now,
                    is_admin=is_admin,
                    reason=reason,
                    origin=origin,
                    rejoin=True,
                )
            return target

    def edit(
        self,
        contact_id: int,
        *,
        email: str | None,
        sms: str | _Keep | None = KEEP,
        properties: dict | None = None,
        reason: str | None = None,
        origin: str | None = None,
    ) -> None:
        """Sets email and sms as given (None clears) and updates only the given properties."""
        address = optional_email(email)
        number = sms if sms is KEEP else optional_sms(sms)
        with self.scope.db.transaction() as conn:
            contact = contact_store.find_by_id(conn, self._account_id, contact_id)
            if contact is None:
                raise NotFound(f"recipient {contact_id} not found")
            new_sms = contact.sms if number is KEEP else number
            if not address and not new_sms:
                raise Invalid("a recipient needs an email address or an SMS number")
            values = resolve_property_values(conn, self._account_id, properties or {})
            self._change(
                conn,
                contact,
                email=address,
                sms=new_sms,
                properties=values,
                reason=reason,
                origin=origin,
            )

    def reactivate(
        self,
        email: str,
        *,
        identity: str,
        reason: str,
        confirm: bool = False,
        origin: str | None = None,
        properties: dict | None = None,
    ) -> int:
        """Brings back a deleted or disabled contact; raises NotFound when there is none."""
        address = optional_email(email)
        if not address:
            raise Invalid("email is required")
        with self.scope.db.transaction() as conn:
            # A forgotten contact has no address left to find: say why it cannot come back.
            refuse_suppressed(conn, self._account_id, email=address, sms=None)
            contact = contact_store.find_by_email(
                conn, self._account_id, address, include_deleted=True
            )
            if contact is None:
                raise NotFound(f"recipient {email!r} not found")
            values = resolve_property_values(conn, self._account_id, properties or {})
            self._bring_back(conn, contact, _action(reason, origin, identity=identity))
            if values:
                self._change(conn, contact, properties=values, reason=reason, origin=origin)
            if confirm and contact.confirmed_at is None:
                self._confirm(conn, contact.id, reason, origin)
            return contact.id

    def delete(
        self,
        contact_id: int,
        *,
        reason: str | None = None,
        reason_type: str | None = None,
        reason_text: str | None = None,
        origin: str | None = None,
    ) -> None:
        """Soft delete: the contact leaves every list and is never mailed until reactivated."""
        now = self.scope.clock()
        with self.scope.db.transaction() as conn:
            contact = contact_store.find_by_id(conn, self._account_id, contact_id)
            if contact is None:
                raise NotFound(f"recipient {contact_id} not found")
            contact_store.update_contact(
                conn, self._account_id, contact_id, now, is_enabled=False, deleted_at=now
            )
            data = _action(reason, origin, reason_type=reason_type, reason_text=reason_text)
            self._event(conn, contact_id, EventType.DELETED, data=data)

    def remove_from_list(self, contact_id: int, list_id: int, *, reason: str | None = None) -> None:
        """Takes the contact off one list, or off every list when list_id is 0."""
        with self.scope.db.transaction() as conn:
            if contact_store.find_by_id(conn, self._account_id, contact_id) is None:
                raise NotFound(f"recipient {contact_id} not found")
            if list_id:
                memberships.joinable_list(conn, self._account_id, list_id)
            memberships.leave(
                conn,
                self._account_id,
                [contact_id],
                [list_id] if list_id else None,
                now=self.scope.clock(),
                by_contact=False,
                reason=reason,
            )

    # Consents and welcome mail

    def add_consent(
        self,
        contact_id: int,
        *,
        consent_id: int,
        revision: int,
        lang: str,
        source: str,
        source_data: str | None = None,
    ) -> int:
        now = self.scope.clock()
        with self.scope.db.transaction() as conn:
            if contact_store.find_by_id(conn, self._account_id, contact_id) is None:
                raise NotFound(f"recipient {contact_id} not found")
            if consent_store.find_consent_type(conn, self._account_id, consent_id) is None:
                raise NotFound(f"consent {consent_id} not found")
            if not consent_store.revision_exists(conn, self._account_id, consent_id, revision):
                raise NotFound(f"consent {consent_id} has no revision {revision}")
            if not source:
                raise Invalid("consent source is required ('api' for REST)")
            contact_store.insert_member_consent(
                conn,
                account_id=self._account_id,
                contact_id=contact_id,
                consent_type_id=consent_id,
                revision=revision,
                lang=lang.upper(),
                source=source,
                source_data=source_data,
                given_at=now,
            )
            data = {"consent_id": consent_id, "revision": revision, "lang": lang.upper()}
            self._event(conn, contact_id, EventType.CONSENT_GIVEN, data=data)
            return consent_id

    def revoke_consent(self, contact_id: int, *, consent_id: int, revision: int, lang: str) -> None:
        now = self.scope.clock()
        with self.scope.db.transaction() as conn:
            if contact_store.find_by_id(conn, self._account_id, contact_id) is None:
                raise NotFound(f"recipient {contact_id} not found")
            consent = consent_store.find_consent_type(conn, self._account_id, consent_id)
            if consent is None:
                raise NotFound(f"consent {consent_id} not found")
            if not consent.is_revokable:
                raise Conflict(f"consent {consent_id} is not revokable")
            revoked = contact_store.revoke_member_consents(
                conn,
                account_id=self._account_id,
                contact_id=contact_id,
                consent_id=consent_id,
                revision=revision,
                lang=lang,
                now=now,
            )
            if not revoked:
                raise NotFound(
                    f"recipient {contact_id} has no valid consent {consent_id} "
                    f"revision {revision} in {lang!r}"
                )
            data = {"consent_id": consent_id, "revision": revision, "lang": lang.upper()}
            self._event(conn, contact_id, EventType.CONSENT_REVOKED, data=data)

    def queue_welcome_mail(
        self, contact_id: int, site_domain: str, *, force: bool = True, properties: dict | None
    ) -> bool:
        """Sends the site's welcome mail through a delivery of its own (see
        kirje.services.system_mails); returns False when skipped (already welcomed)."""
        mails = SystemMails(self.scope)
        with self.scope.db.transaction() as conn:
            contact = contact_store.find_by_id(conn, self._account_id, contact_id)
            if contact is None:
                raise NotFound(f"recipient {contact_id} not found")
            if not contact.email:
                raise Invalid(f"recipient {contact_id} has no email address")
            site = site_store.find_site(conn, self._account_id, site_domain.strip().lower())
            if site is None:
                raise NotFound(f"site {site_domain!r} not found")
            if not force and queued_mails.has_mail(
                conn, self._account_id, contact_id, DeliveryKind.WELCOME
            ):
                return False
            requested = mails.record(conn, DeliveryKind.WELCOME, contact, site, properties or {})
            self._event(conn, contact_id, EventType.WELCOME_QUEUED, data={"site": site.domain})
        mails.deliver(requested)
        return True

    # Shared steps, inside the caller's transaction

    def _find_for_update(
        self, conn: Connection, contact_id: int | None, email: str | None, sms: str | None
    ) -> Contact | None:
        if contact_id is not None:
            contact = contact_store.find_by_id(
                conn, self._account_id, contact_id, include_deleted=True
            )
            # A forgotten contact is a tombstone: no update may give it an address again.
            if contact is None or contact.forgotten_at is not None:
                raise NotFound(f"recipient {contact_id} not found")
            return contact
        if email:
            found = contact_store.find_by_email(conn, self._account_id, email, include_deleted=True)
            if found:
                return found
        if sms:
            return contact_store.find_by_sms(conn, self._account_id, sms, include_deleted=True)
        return None

    def _insert(
        self,
        conn: Connection,
        email: str | None,
        sms: str | None,
        values: dict[str, str],
        autoconfirm: bool,
        reason: str | None,
        origin: str | None,
    ) -> int:
        refuse_suppressed(conn, self._account_id, email=email, sms=sms)
        try:
            with conn.begin_nested():
                contact_id = contact_store.insert_contact(
                    conn,
                    account_id=self._account_id,
                    email=email,
                    sms=sms,
                    properties=values,
                    now=self.scope.clock(),
                    confirmed=autoconfirm,
                )
        except IntegrityError:
            raise Conflict("a recipient with this email or SMS already exists") from None
        data = _action(reason, origin)
        if values:
            data["properties"] = values
        self._event(conn, contact_id, EventType.CREATED, data=data)
        if autoconfirm:
            self._event(conn, contact_id, EventType.CONFIRMED, data=_action(reason, origin))
        return contact_id

    def _change(
        self,
        conn: Connection,
        contact: Contact,
        *,
        email: str | _Keep | None = KEEP,
        sms: str | _Keep | None = KEEP,
        properties: dict[str, str],
        reason: str | None,
        origin: str | None,
    ) -> None:
        """Writes what differs and appends one data-change event naming it."""
        changes: dict = {}
        if email is not KEEP and email != contact.email:
            changes["email"] = email
        if sms is not KEEP and sms != contact.sms:
            changes["sms"] = sms
        changed_properties = {k: v for k, v in properties.items() if contact.properties.get(k) != v}
        if not changes and not changed_properties:
            return
        if changes:
            refuse_suppressed(
                conn, self._account_id, email=changes.get("email"), sms=changes.get("sms")
            )
        values = dict(changes)
        if changed_properties:
            values["properties"] = {**contact.properties, **changed_properties}
        try:
            with conn.begin_nested():
                contact_store.update_contact(
                    conn, self._account_id, contact.id, self.scope.clock(), **values
                )
        except IntegrityError:
            raise Conflict("another recipient already has this email or SMS") from None
        data = _action(reason, origin, **changes)
        if changed_properties:
            data["properties"] = changed_properties
        self._event(conn, contact.id, EventType.DATA_CHANGE, data=data)

    def _bring_back(self, conn: Connection, contact: Contact, data: dict) -> None:
        """Enables a disabled or deleted contact (a reactivated event); a forgotten one stays
        gone, because forgetting is final."""
        if contact.forgotten_at is not None:
            raise Conflict("recipient was forgotten and cannot be brought back")
        if contact.is_enabled and not contact.is_deleted:
            return
        contact_store.update_contact(
            conn, self._account_id, contact.id, self.scope.clock(), is_enabled=True, deleted_at=None
        )
        self._event(conn, contact.id, EventType.REACTIVATED, data=data)

    def _confirm(self, conn: Connection, contact_id: int, reason, origin) -> None:
        now = self.scope.clock()
        contact_store.update_contact(conn, self._account_id, contact_id, now, confirmed_at=now)
        self._event(conn, contact_id, EventType.CONFIRMED, data=_action(reason, origin))

    def _event(self, conn: Connection, contact_id: int, type_: EventType, *, data: dict) -> None:
        event_store.append_events(
            conn,
            [
                event_store.event_row(
                    self._account_id, contact_id, type_.value, self.scope.clock(), data=data
                )
            ],
        )


def _identifiers(email: str | None, sms: str | None) -> tuple[str | None, str | None]:
    address, number = optional_email(email), optional_sms(sms)
    if not address and not number:
        raise Invalid("a recipient needs an email address or an SMS number")
    return address, number


def _action(reason: str | None, origin: str | None, **extra) -> dict:
    data = {key: value for key, value in extra.items() if value is not None}
    if reason:
        data["reason"] = reason
    if origin:
        data["origin"] = origin
    return data
