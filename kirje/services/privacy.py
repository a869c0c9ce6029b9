"""GDPR erasure (forget), the data file a person may ask for, suppression of their address,
and the marketing ban (exclusion list)."""

from __future__ import annotations

from sqlalchemy import Connection

from kirje.domain.contacts import Contact, ContactDetails, normalize_email, normalize_sms
from kirje.domain.errors import Forbidden, Invalid, NotFound
from kirje.domain.events import EventType
from kirje.domain.privacy import (
    ERASED_BY_REQUEST,
    Channel,
    Erasure,
    PersonalData,
    ShadowContact,
    SuppressionReason,
)
from kirje.services.base import AccountScope
from kirje.store import contacts as contact_store
from kirje.store import events as event_store
from kirje.store import privacy as privacy_store
from kirje.store import queued_mails

# The most banned contacts one listing returns.
MAX_PAGE = 1000


def refuse_suppressed(
    conn: Connection, account_id: int, *, email: str | None, sms: str | None
) -> None:
    """Raises Forbidden when a (normalised) address was erased at the person's request.

    The one check every path that gives a contact an address goes through, so a forgotten
    address is never silently added back.
    """
    suppressed = privacy_store.suppressed_channels(
        conn, account_id, {Channel.EMAIL: email, Channel.SMS: sms}
    )
    if suppressed:
        raise Forbidden(ERASED_BY_REQUEST.format(channel=suppressed[0].value))


class Privacy:
    def __init__(self, scope: AccountScope) -> None:
        self.scope = scope

    @property
    def _account_id(self) -> int:
        return self.scope.account_id

    # Erasure

    def forget(self, contact_id: int, *, reason: str | None = None) -> Erasure:
        """Erases the contact's personal data and suppresses its addresses, in one transaction.

        The reason is not stored: it is free text and may itself name the person.
        """
        with self.scope.db.transaction() as conn:
            contact = contact_store.find_by_id(
                conn, self._account_id, contact_id, include_deleted=True
            )
            return self.erase_within(conn, contact, f"recipient {contact_id} not found")

    def forget_by_email(self, email: str, *, reason: str | None = None) -> Erasure:
        address = normalize_email(email or "")
        with self.scope.db.transaction() as conn:
            contact = contact_store.find_by_email(
                conn, self._account_id, address, include_deleted=True
            )
            return self.erase_within(conn, contact, f"recipient {email!r} not found")

    def forget_by_sms(self, sms: str, *, reason: str | None = None) -> Erasure:
        number = normalize_sms(sms or "")
        with self.scope.db.transaction() as conn:
            contact = contact_store.find_by_sms(
                conn, self._account_id, number, include_deleted=True
            )
            return self.erase_within(conn, contact, f"recipient {sms!r} not found")

    def erase_within(self, conn: Connection, contact: Contact | None, missing: str) -> Erasure:
        """Erases the contact in the caller's transaction (a forget call, or a LianaAutomation
        delete that removes events first); raises NotFound(missing) when there is none."""
        # A forgotten contact has no address left to erase: it is gone as far as callers know.
        if contact is None or contact.forgotten_at is not None:
            raise NotFound(missing)
        account_id, now = self._account_id, self.scope.clock()
        cleared = [name for name in ("email", "sms") if getattr(contact, name)]
        if contact_store.confirmation_code_of(conn, account_id, contact.id):
            cleared.append("confirmation_code")
        if contact.properties:
            cleared.append("properties")
        if not privacy_store.clear_contact(conn, account_id, contact.id, now):
            raise NotFound(missing)
        erasure = Erasure(
            contact_id=contact.id,
            forgotten_at=now,
            cleared_fields=tuple(cleared),
            property_values=len(contact.properties),
            memberships_closed=privacy_store.close_memberships(conn, account_id, contact.id, now),
            consents_anonymised=privacy_store.anonymise_consents(conn, account_id, contact.id),
            event_payloads_erased=privacy_store.erase_event_payloads(conn, account_id, contact.id),
            queued_mails_dropped=privacy_store.drop_queued_mails(conn, account_id, contact.id),
            confirmation_tasks_dropped=privacy_store.drop_confirmation_tasks(
                conn, account_id, contact.id
            ),
            identifiers_dropped=privacy_store.drop_identifiers(conn, account_id, contact.id),
            ledger_rows_erased=privacy_store.erase_ledger_rows(conn, account_id, contact.id),
            channels_suppressed=tuple(
                channel.value
                for channel in privacy_store.suppress(
                    conn,
                    account_id,
                    {Channel.EMAIL: contact.email, Channel.SMS: contact.sms},
                    reason=SuppressionReason.FORGOTTEN,
                    now=now,
                )
            ),
        )
        self._event(conn, contact.id, EventType.FORGOTTEN, erasure.counts())
        return erasure

    # Suppression

    def is_suppressed(self, channel: Channel | str, address: str) -> bool:
        """Whether this address was erased at the person's request; raises Invalid for a
        malformed address or an unknown channel."""
        try:
            kind = Channel(channel)
        except ValueError:
            raise Invalid(f"unknown channel {channel!r}: email or sms") from None
        normalized = normalize_email(address) if kind is Channel.EMAIL else normalize_sms(address)
        with self.scope.db.reading() as conn:
            found = privacy_store.suppressed_channels(conn, self._account_id, {kind: normalized})
        return bool(found)

    # The marketing ban

    def ban(self, contact_id: int, *, reason: str | None = None) -> bool:
        """Puts the contact on the exclusion list; False when it already was."""
        return self._set_ban(contact_id, banned=True, reason=reason)

    def lift_ban(self, contact_id: int, *, reason: str | None = None) -> bool:
        """Takes the contact off the exclusion list; False when it was not on it."""
        return self._set_ban(contact_id, banned=False, reason=reason)

    def _set_ban(self, contact_id: int, *, banned: bool, reason: str | None) -> bool:
        now = self.scope.clock()
        with self.scope.db.transaction() as conn:
            contact = contact_store.find_by_id(
                conn, self._account_id, contact_id, include_deleted=True
            )
            if contact is None or contact.forgotten_at is not None:
                raise NotFound(f"recipient {contact_id} not found")
            if (contact.banned_at is not None) == banned:
                return False
            contact_store.update_contact(
                conn, self._account_id, contact_id, now, banned_at=now if banned else None
            )
            kind = EventType.BANNED if banned else EventType.BAN_LIFTED
            self._event(conn, contact_id, kind, {"reason": reason} if reason else {})
            return True

    def banned(
        self, *, offset: int = 0, limit: int = 100, email: str | None = None
    ) -> list[ContactDetails]:
        """The contacts on the exclusion list, in id order, with their details."""
        if offset < 0 or not 0 <= limit <= MAX_PAGE:
            raise Invalid(f"offset must not be negative and limit must be 0 to {MAX_PAGE}")
        address = normalize_email(email) if email is not None else None
        with self.scope.db.reading() as conn:
            ids = privacy_store.banned_contact_ids(
                conn, self._account_id, offset=offset, limit=limit, email=address
            )
            return contact_store.details_by_ids(conn, self._account_id, ids, include_deleted=True)

    # What a person may see about themselves

    def personal_data(self, contact_id: int) -> PersonalData:
        """Everything held about the contact, for a GDPR access request."""
        account_id = self._account_id
        with self.scope.db.reading() as conn:
            contact = contact_store.find_by_id(conn, account_id, contact_id, include_deleted=True)
            if contact is None:
                raise NotFound(f"recipient {contact_id} not found")
            memberships = privacy_store.memberships_ever(conn, account_id, contact_id)
            consents = contact_store.consents_of(conn, account_id, [contact_id])[contact_id]
            events = event_store.contact_events(conn, account_id, contact_id)
            mails = queued_mails.mails_for(conn, account_id, contact_id)
            tasks = privacy_store.confirmation_tasks_of(conn, account_id, contact_id)
        return PersonalData(
            contact_id=contact.id,
            recipient={
                "id": contact.id,
                "email": contact.email,
                "sms": contact.sms,
                "enabled": contact.is_enabled,
                "created": contact.created_at,
                "updated": contact.updated_at,
                "confirmed": contact.confirmed_at,
                "deleted": contact.deleted_at,
                "bounced": contact.bounced_at,
                "banned": contact.banned_at,
                "forgotten": contact.forgotten_at,
            },
            properties=dict(contact.properties),
            memberships=[
                {
                    "list_id": m.list_id,
                    "list_name": m.list_name,
                    "status": m.status,
                    "admin": m.is_admin,
                    "joined": m.joined_at,
                    "left": m.left_at,
                    "reason": m.reason,
                    "origin": m.origin,
                }
                for m in memberships
            ],
            consents=[
                {
                    "consent_id": c.consent_id,
                    "revision": c.revision,
                    "lang": c.lang,
                    "source": c.source,
                    "source_data": c.source_data,
                    "given": c.given_at,
                    "revoked": c.revoked_at,
                }
                for c in consents
            ],
            events=[
                {"id": e.id, "type": e.type, "at": e.at, "list_id": e.list_id, "data": e.data}
                for e in events
            ],
            queued_mails=[
                {
                    "id": m.id,
                    "kind": m.kind,
                    "site_id": m.site_id,
                    "state": m.state,
                    "created": m.created_at,
                    "properties": m.properties,
                }
                for m in mails
            ],
            confirmation_tasks=[
                {"kind": t.kind, "task": t.task, "created": t.created_at, "done": t.done_at}
                for t in tasks
            ],
        )

    def shadow(self, contact_id: int) -> ShadowContact:
        """The anonymous trace of a contact, forgotten, deleted or active."""
        with self.scope.db.reading() as conn:
            contact = contact_store.find_by_id(
                conn, self._account_id, contact_id, include_deleted=True
            )
            if contact is None:
                raise NotFound(f"recipient {contact_id} not found")
            list_ids, consent_count, event_count = privacy_store.shadow_counts(
                conn, self._account_id, contact_id
            )
        return ShadowContact(
            id=contact.id,
            created_at=contact.created_at,
            deleted_at=contact.deleted_at,
            forgotten_at=contact.forgotten_at,
            is_enabled=contact.is_enabled and not contact.is_deleted,
            list_ids=list_ids,
            consent_count=consent_count,
            event_count=event_count,
        )

    def _event(self, conn: Connection, contact_id: int, kind: EventType, data: dict) -> None:
        event_store.append_events(
            conn,
            [
                event_store.event_row(
                    self._account_id, contact_id, kind.value, self.scope.clock(), data=data
                )
            ],
        )
