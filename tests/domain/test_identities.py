"""How a batch of identities resolves to contacts: which are created, completed and merged."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kirje.domain.errors import Invalid
from kirje.domain.identities import (
    HeldAddresses,
    Identity,
    IdentityKind,
    KnownIdentifiers,
    identity_from,
    normalize_token,
    plan_identities,
)

NOTHING_KNOWN = KnownIdentifiers({}, {}, {}, {})


def test_identities_are_normalized_and_unknown_keys_ignored() -> None:
    identity = identity_from(
        {
            "email": " Aino@Example.COM ",
            "sms": "040 1234567",
            "token": "65F1.ab",
            "pv_uid": "x",
            "extra1": "",
        }
    )
    assert identity == Identity(email="aino@example.com", sms="+358401234567", token="65f1ab")


def test_a_bad_identifier_is_named_in_the_error() -> None:
    try:
        identity_from({"email": "nope"}, "data[2].identity")
    except Invalid as error:
        assert error.message.startswith("data[2].identity.email")
    else:
        raise AssertionError("an invalid email passed")


def test_tokens_are_read_back_as_the_wordpress_plugins_send_them() -> None:
    assert normalize_token("65f1c2a3b4c5d6.12345678") == "65f1c2a3b4c5d612345678"


def test_one_new_person_named_twice_in_a_batch_is_created_once() -> None:
    plan = plan_identities(
        [
            Identity(token="t1"),
            Identity(email="a@example.com", token="t1"),
            Identity(email="a@example.com"),
        ],
        NOTHING_KNOWN,
    )
    assert plan.new_contacts == {-1: ("a@example.com", None)}
    assert plan.contacts == [-1, -1, -1]
    assert plan.links == {(IdentityKind.TOKEN, "t1"): -1}


def test_an_anonymous_visitor_is_merged_into_the_person_who_logs_in() -> None:
    known = KnownIdentifiers(
        by_id={},
        by_email={"a@example.com": HeldAddresses(1, "a@example.com", None)},
        by_sms={},
        by_link={(IdentityKind.TOKEN, "t1"): HeldAddresses(2, None, None)},
    )
    plan = plan_identities([Identity(email="a@example.com", token="t1")], known)
    assert (plan.contacts, plan.merges, plan.new_contacts) == ([1], [(2, 1)], {})


def test_a_new_address_goes_to_the_contact_that_has_none() -> None:
    known = KnownIdentifiers({}, {}, {}, {(IdentityKind.TOKEN, "t1"): HeldAddresses(2, None, None)})
    plan = plan_identities([Identity(email="b@example.com", token="t1")], known)
    assert (plan.contacts, plan.addresses, plan.new_contacts) == (
        [2],
        {2: ("b@example.com", None)},
        {},
    )


def test_a_contact_with_another_address_is_not_given_a_second_person() -> None:
    known = KnownIdentifiers(
        {}, {}, {}, {(IdentityKind.TOKEN, "t1"): HeldAddresses(2, "a@example.com", None)}
    )
    plan = plan_identities([Identity(email="b@example.com", token="t1")], known)
    assert plan.new_contacts == {-1: ("b@example.com", None)}
    assert (plan.contacts, plan.links, plan.merges) == ([-1], {(IdentityKind.TOKEN, "t1"): -1}, [])


addresses = st.sampled_from(["a@example.com", "b@example.com", "c@example.com", None])
tokens = st.sampled_from(["t1", "t2", "t3", None])
identities = st.builds(
    lambda e, t, x: Identity(email=e, token=t, extra1=x),
    addresses,
    tokens,
    st.sampled_from(["x1", "x2", None]),
)


@given(st.lists(identities.filter(lambda i: not i.is_empty), min_size=1, max_size=12))
def test_every_plan_is_deterministic_and_gives_each_address_one_contact(batch) -> None:
    plan = plan_identities(batch, NOTHING_KNOWN)
    assert plan == plan_identities(batch, NOTHING_KNOWN)
    holders: dict[str, int] = {}
    for ref, (email, _) in plan.new_contacts.items():
        if email:
            assert email not in holders
            holders[email] = ref
    for identity, contact in zip(batch, plan.contacts, strict=True):
        assert contact in plan.new_contacts
        if identity.email:
            assert holders[identity.email] == contact
