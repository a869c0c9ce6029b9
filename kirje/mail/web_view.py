"""The web view: one recipient's message, as they got it, shown in a browser at a signed URL.

`GET /w/{token}` (kirje.web.mail_tracking) answers it. The token names the account, the
delivery and the contact (kirje.domain.tracking_links, Purpose.WEB_VIEW). The page is the
message rendered as the send job renders it: the delivery's message with the letter's
overrides, filled with the contact's property values, the ledger row's own values over them
(what the request gave for this recipient) and the address the mail went to.

Decisions:
* The contact's values and the message are read when the page is asked for: the ledger keeps
  only the values given for the delivery, not a copy of the contact or of the draft, so a
  property or draft changed since the send shows as it is now.
* The page records no open and rewrites no link for click tracking: it is not the mail, and its
  links go where the message says.
* A token that does not verify, a delivery that is gone, a contact not in the delivery's ledger
  and an erased (forgotten) contact all answer the same NotFound.
* `$web_version_link$` (the seed names no placeholder for it) is a link to this page. The send
  job adds it to a recipient's values with `link_values`, as this page does; the message is
  compiled as the send job compiles it (kirje.mail.previews.compile_sent_message) and the
  values merged as it merges them (`delivery_values`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kirje.domain.errors import NotFound
from kirje.domain.properties import PropertyType
from kirje.domain.tracking_links import LinkTarget, TrackingLinks
from kirje.mail.previews import compile_sent_message
from kirje.mail.rendering import MessageTemplate, recipient_values, render
from kirje.store import contacts as contact_store
from kirje.store import deliveries as delivery_store
from kirje.store import messages as message_store
from kirje.store import properties as property_store
from kirje.store.database import Database
from kirje.store.deliveries import find_ledger_row

WEB_VERSION_LINK = "web_version_link"
# What a refused web view is told: nothing about why.
NOT_FOUND = "not found"


def delivery_values(
    email: str, contact_properties: Mapping[str, Any], ledger_properties: Mapping[str, Any] | None
) -> dict[str, Any]:
    """A recipient's placeholder values in a delivery: the contact's properties, the ledger
    row's values over them, and the address the mail goes to."""
    return recipient_values(email, None, {**contact_properties, **(ledger_properties or {})})


def link_values(
    template: MessageTemplate,
    links: TrackingLinks,
    account_id: int,
    delivery_id: int,
    contact_id: int,
) -> dict[str, str]:
    """The recipient's own links that a message may name as placeholders (`$web_version_link$`),
    made only when the message names them. They go over every other value: a property cannot
    point a recipient's web-version link elsewhere."""
    if WEB_VERSION_LINK not in template.placeholders:
        return {}
    return {WEB_VERSION_LINK: links.web_view(account_id, delivery_id, contact_id)}


class WebViews:
    def __init__(self, db: Database, links: TrackingLinks) -> None:
        self.db = db
        self.links = links

    def page(self, token: str) -> str:
        """The HTML of the message the token's recipient got; NotFound otherwise."""
        target = self.links.tokens.read_web_view(token)
        if target is None:
            raise NotFound(NOT_FOUND)
        template, values, raw_names = self._parts(target)
        return render(template, values, raw_names=raw_names).html

    def _parts(self, target: LinkTarget) -> tuple[MessageTemplate, dict[str, Any], frozenset[str]]:
        account_id, delivery_id, contact_id = (
            target.account_id,
            target.delivery_id,
            target.contact_id,
        )
        with self.db.reading() as conn:
            delivery = delivery_store.find_delivery(conn, account_id, delivery_id)
            row = find_ledger_row(conn, account_id, delivery_id, contact_id)
            contact = contact_store.find_by_id(conn, account_id, contact_id, include_deleted=True)
            if delivery is None or row is None or contact is None or contact.forgotten_at:
                raise NotFound(NOT_FOUND)
            message = message_store.find_message(conn, account_id, delivery.message_id)
            if message is None:
                raise NotFound(NOT_FOUND)
            raw_names = frozenset(
                p.name
                for p in property_store.all_properties(conn, account_id)
                if p.type == PropertyType.RAW
            )
        template = compile_sent_message(message, delivery.overrides)
        values = {
            **delivery_values(row.email, contact.properties, row.properties),
            **link_values(template, self.links, account_id, delivery_id, contact_id),
        }
        return template, values, raw_names
