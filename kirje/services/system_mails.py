"""System mails of one account: the welcome and confirmation mails, sent through the same
pipeline as every mail.

Asking for one records the request (queued_mails) in the caller's transaction; then a delivery
of kind welcome or confirmation is made with the contact as its one given recipient
(Deliveries.send, which queues the DELIVERY job of kirje.mail.sending), and the request is
linked to it.

Decisions:
* Which message: the message of the site's welcome delivery, with that delivery's subject and
  HTML overrides, when the site names a delivery that exists; otherwise a built-in message
  (kirje.domain.system_mails) that Kirje makes for the account on first use: an ordinary draft
  the account may edit, its id kept in the account's settings document.
* The confirmation link is given as the ledger row's value of `$confirmation_link$`, beside
  the caller's own values (which cannot replace it). The contact gets a code when it has none.
* The request and its delivery are two transactions, since Deliveries.send makes and queues
  the delivery in its own: the request is recorded first, so a crash between them leaves a
  request without a delivery, never a mail sent without its record. When no delivery can be
  made the request is marked failed and the error reaches the caller.
* Every system mail resets recipients: the same welcome message goes to every new subscriber,
  and again to one who is welcomed again.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from kirje.domain.contacts import Contact, new_confirmation_code
from kirje.domain.deliveries import Delivery, DeliveryKind, GivenRecipient, Letter
from kirje.domain.errors import Invalid, KirjeError
from kirje.domain.sites import Site
from kirje.domain.system_mails import (
    BUILT_IN_MESSAGES,
    CONFIRMATION_LINK,
    built_in_message_for,
    carries_confirmation_link,
)
from kirje.domain.tracking_links import TrackingLinks
from kirje.services.base import AccountScope
from kirje.services.deliveries import Deliveries
from kirje.store import accounts as account_store
from kirje.store import contacts as contact_store
from kirje.store import deliveries as delivery_store
from kirje.store import messages as message_store
from kirje.store import queued_mails

# Where the account's settings document keeps the ids of its built-in messages, by kind.
BUILT_IN_KEY = "system_messages"


@dataclass(frozen=True)
class RequestedMail:
    """A recorded request, with what its delivery is made of."""

    mail_id: int
    kind: DeliveryKind
    letter: Letter
    email: str
    values: dict[str, str]


class SystemMails:
    def __init__(self, scope: AccountScope) -> None:
        self.scope = scope

    @property
    def _account_id(self) -> int:
        return self.scope.account_id

    def record(
        self,
        conn: Connection,
        kind: DeliveryKind,
        contact: Contact,
        site: Site | None,
        properties: dict,
    ) -> RequestedMail:
        """Records the request inside the caller's transaction, choosing its message and
        making the contact's confirmation link when the mail carries one."""
        if not contact.email:
            raise Invalid(f"recipient {contact.id} has no email address")
        is_confirmed = contact.confirmed_at is not None
        letter = self._letter(conn, kind, site, is_confirmed)
        given = {str(name): value for name, value in properties.items()}
        values = {name: "" if value is None else str(value) for name, value in given.items()}
        if carries_confirmation_link(kind, is_confirmed):
            values[CONFIRMATION_LINK] = self._confirmation_link(conn, contact.id)
        mail_id = queued_mails.queue_mail(
            conn,
            account_id=self._account_id,
            contact_id=contact.id,
            kind=kind.value,
            site_id=site.id if site else None,
            properties=given,
            now=self.scope.clock(),
        )
        return RequestedMail(mail_id, kind, letter, contact.email, values)

    def deliver(self, mail: RequestedMail) -> Delivery:
        """Makes and queues the request's delivery (after the request is committed)."""
        recipient = GivenRecipient(mail.email, mail.values)
        try:
            delivery = Deliveries(self.scope).send(mail.kind, mail.letter, recipients=[recipient])
        except KirjeError:
            with self.scope.db.transaction() as conn:
                queued_mails.mark_failed(conn, self._account_id, mail.mail_id)
            raise
        with self.scope.db.transaction() as conn:
            queued_mails.link_delivery(conn, self._account_id, mail.mail_id, delivery.id)
        return delivery

    def _letter(
        self, conn: Connection, kind: DeliveryKind, site: Site | None, is_confirmed: bool
    ) -> Letter:
        welcome_id = site.welcome_delivery_id if site else None
        if welcome_id:
            welcome = delivery_store.find_delivery(conn, self._account_id, welcome_id)
            if welcome is not None:
                overrides = welcome.overrides
                return Letter(
                    welcome.message_id,
                    subject=overrides.get("subject"),
                    html=overrides.get("html"),
                    recipients_reset=True,
                )
        message_id = self._built_in(conn, built_in_message_for(kind, is_confirmed))
        return Letter(message_id, recipients_reset=True)

    def _built_in(self, conn: Connection, kind: DeliveryKind) -> int:
        """The account's built-in message of this kind, made on first use. The account row is
        locked only to make one, so two first requests at once make one message."""
        found = self._stored_built_in(conn, kind, for_update=False)
        if found is not None:
            return found
        found = self._stored_built_in(conn, kind, for_update=True)
        if found is not None:
            return found
        message_id = message_store.insert_message(
            conn, self._account_id, BUILT_IN_MESSAGES[kind].checked(), self.scope.clock()
        )
        document = account_store.settings_of(conn, self._account_id, for_update=True)
        document[BUILT_IN_KEY] = {**(document.get(BUILT_IN_KEY) or {}), kind.value: message_id}
        account_store.update_settings(conn, self._account_id, document)
        return message_id

    def _stored_built_in(self, conn: Connection, kind: DeliveryKind, *, for_update: bool):
        document = account_store.settings_of(conn, self._account_id, for_update=for_update)
        message_id = (document.get(BUILT_IN_KEY) or {}).get(kind.value)
        if message_id and message_store.find_message(conn, self._account_id, message_id):
            return message_id
        return None

    def _confirmation_link(self, conn: Connection, contact_id: int) -> str:
        code = contact_store.confirmation_code_of(conn, self._account_id, contact_id)
        if code is None:
            code = new_confirmation_code()
            contact_store.update_contact(
                conn, self._account_id, contact_id, self.scope.clock(), confirmation_code=code
            )
        return self._links().confirmation(self._account_id, contact_id, code)

    def _links(self) -> TrackingLinks:
        if self.scope.links is None:
            raise Invalid("no public URL is configured for links in mail")
        return self.scope.links
