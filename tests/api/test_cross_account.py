"""No v1 method reads or writes another account's data.

Runs every method in the routing table, so a method added later is covered without a new
test: its arguments are built from its parameter names and types, pointing at a second
account's ids, and afterwards that account's rows must be exactly as they were and the
answer must not carry any of its data.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass

import orjson
import pytest
from sqlalchemy import select

from kirje.api.liana_mailer.dispatch import Parameter, V1Method
from kirje.api.liana_mailer.v1.routes import IMPLEMENTED
from kirje.services.system import System
from kirje.store.schema import metadata
from tests.conftest import LiveServer, client_for, new_account
from tests.liana_clients import LianaClient


@dataclass(frozen=True)
class OwnerWorld:
    contact_id: int
    list_id: int
    consent_id: int
    site: str
    email: str = "owner.secret@example.com"
    sms: str = "+358401234567"
    list_name: str = "Owner secret list"
    consent_title: str = "Owner secret consent"
    property_name: str = "owner_secret_prop"

    @property
    def secrets(self) -> list[str]:
        return [self.email, self.sms, self.list_name, self.consent_title, self.property_name]


def _build_owner_world(client: LianaClient) -> OwnerWorld:
    site = "owner-site.example"
    client.result("createCustomerProperty", ["owner_secret_prop", "FI"])
    consent_id = client.result("createConsentType", ["Owner consent", True])
    client.result("editConsentTranslation", [consent_id, "FI", "Owner secret consent", "d"])
    client.result("createSite", [site, {"consents": [consent_id]}])
    list_id = client.result("createMailingList", ["Owner secret list", "d", True, None, site])
    contact_id = client.result(
        "createAndJoinRecipient",
        [
            None,
            "owner.secret@example.com",
            "+358401234567",
            {"owner_secret_prop": "x"},
            True,
            None,
            None,
            [list_id],
        ],
    )
    client.result("addMemberConsent", [contact_id, consent_id, 1, "FI", "api"])
    return OwnerWorld(contact_id, list_id, consent_id, site)


def _value_for(parameter: Parameter, world: OwnerWorld):
    """The owner's id or identifier wherever the parameter could take one."""
    by_name = {
        "list_id": world.list_id,
        "lists": [world.list_id],
        "recipient_list": [world.contact_id],
        "consent_id": world.consent_id,
        "consent_revision": 1,
        "email": world.email,
        "sms": world.sms,
        "site": world.site,
        "domain": world.site,
        "new_site": world.site,
        "lang": "FI",
        "consent_lang": "FI",
        "source": "api",
        "identity": "Intruder",
        "reason": "intrusion test",
        "from_date": "2000-01-01",
        "values": ["opens", "clicks"],
        # queryRecipients: the one function that reads the list id given.
        "function": "getMailingListMembers",
    }
    if parameter.name in by_name:
        return by_name[parameter.name]
    annotation = parameter.annotation
    if _accepts(annotation, bool):
        return True
    if _accepts(annotation, int):
        return world.contact_id
    if _accepts(annotation, str):
        return "Intruder"
    if _accepts(annotation, dict):
        return {}
    if _accepts(annotation, list):
        return [world.contact_id]
    return None


def _accepts(annotation, kind: type) -> bool:
    options = typing.get_args(annotation) if typing.get_origin(annotation) else (annotation,)
    return any(option is kind or typing.get_origin(option) is kind for option in options)


def _snapshot(system: System, account_id: int) -> dict[str, list]:
    rows = {}
    with system.db.reading() as conn:
        for table in metadata.sorted_tables:
            if "account_id" in table.c:
                query = select(table).where(table.c.account_id == account_id)
                rows[table.name] = sorted(tuple(map(repr, row)) for row in conn.execute(query))
    return rows


@pytest.mark.parametrize("method_name", sorted(IMPLEMENTED))
def test_no_method_crosses_accounts(
    live_server: LiveServer, system: System, method_name: str
) -> None:
    owner = client_for(live_server, new_account(system))
    intruder = client_for(live_server, new_account(system))
    world = _build_owner_world(owner)
    owner_id = owner.credentials.user_id
    before = _snapshot(system, system.accounts.load_credential(owner_id).account_id)

    method = V1Method.of(method_name, IMPLEMENTED[method_name])
    arguments = [_value_for(p, world) for p in method.parameters]
    envelope = intruder.call(method_name, arguments)

    # Only a result can carry stored data; error messages echo what the intruder sent.
    answer = orjson.dumps(envelope.get("result")).decode()
    for secret in world.secrets:
        assert secret not in answer, f"{method_name} answered with the owner's {secret!r}"
    after = _snapshot(system, system.accounts.load_credential(owner_id).account_id)
    assert after == before, f"{method_name} changed the owner's account"
