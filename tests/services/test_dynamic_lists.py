"""Dynamic lists: the condition, compiled to SQL, selects exactly whom it says, on both backends."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kirje.domain.conditions import Operator, parse_condition
from kirje.domain.errors import Invalid

PEOPLE = [
    ("anna@example.com", {"firstname": "Anna", "city": "Helsinki"}),
    ("bo@shop.fi", {"firstname": "Bo", "city": "Espoo"}),
    ("cecilia@example.org", {"firstname": "Cecilia"}),
    ("dan_%@example.com", {"firstname": "Dan", "city": "Hel%sinki"}),
]


def _condition(*clauses: tuple[str, str, object], enabled: bool = True) -> str:
    return json.dumps(
        {
            "conditions": [{"name": n, "condition": c, "value": v} for n, c, v in clauses],
            "enabled": enabled,
        }
    )


@pytest.fixture
def people(services) -> dict[str, int]:
    services.properties.create("city")
    return {
        email: services.contacts.create(email=email, sms=None, properties=props)
        for email, props in PEOPLE
    }


def _members(services, condition: str) -> set[str]:
    list_id = services.lists.create("Dynamic", condition=condition)
    emails = {d.contact.email for d in services.lists.members(list_id)}
    assert services.lists.member_count(list_id) == len(emails)
    return emails


@pytest.mark.parametrize(
    ("clauses", "expected"),
    [
        ([("city", "=", "Espoo")], {"bo@shop.fi"}),
        (
            [("city", "<>", "Espoo")],
            {"anna@example.com", "cecilia@example.org", "dan_%@example.com"},
        ),
        ([("city", "ilike", "HEL")], {"anna@example.com", "dan_%@example.com"}),
        ([("city", "ilike", "l%s")], {"dan_%@example.com"}),
        (
            [("city", "ilike-not", "hel")],
            {"bo@shop.fi", "cecilia@example.org"},
        ),
        ([("firstname", "in", "Bo, Dan")], {"bo@shop.fi", "dan_%@example.com"}),
        ([("firstname", "in", ["Anna", "Nobody"])], {"anna@example.com"}),
        ([("email", "begins", "ANNA")], {"anna@example.com"}),
        ([("email", "begins", "dan_")], {"dan_%@example.com"}),
        (
            [("email", "begins-not", "a")],
            {"bo@shop.fi", "cecilia@example.org", "dan_%@example.com"},
        ),
        ([("email", "ends", ".com")], {"anna@example.com", "dan_%@example.com"}),
        ([("email", "ends-not", ".com")], {"bo@shop.fi", "cecilia@example.org"}),
        (
            [("email", "ends", ".com"), ("city", "ilike", "hel")],
            {"anna@example.com", "dan_%@example.com"},
        ),
    ],
)
def test_each_operator(services, people, clauses, expected) -> None:
    assert _members(services, _condition(*clauses)) == expected


def test_a_disabled_condition_selects_nobody(services, people) -> None:
    assert _members(services, _condition(("city", "=", "Espoo"), enabled=False)) == set()


def test_deleted_contacts_are_not_members_and_new_ones_are_at_once(services, people) -> None:
    list_id = services.lists.create("Com", condition=_condition(("email", "ends", ".com")))
    services.contacts.delete(people["anna@example.com"])
    services.contacts.create(email="eve@example.com", sms=None)
    assert {d.contact.email for d in services.lists.members(list_id)} == {
        "dan_%@example.com",
        "eve@example.com",
    }
    assert services.lists.get(list_id).member_count == 2


def test_dynamic_lists_cannot_be_joined(services, people) -> None:
    list_id = services.lists.create("D", condition=_condition(("city", "=", "Espoo")))
    with pytest.raises(Invalid, match="dynamic"):
        services.lists.join(list_id, [people["anna@example.com"]])


def test_in_values_are_parsed_as_csv_not_split_blindly() -> None:
    parsed = parse_condition(_condition(("city", "in", 'Espoo, "Helsinki, Kallio", Turku')))
    assert parsed.clauses[0].value == ("Espoo", "Helsinki, Kallio", "Turku")


# Property-based: the SQL answer equals a plain Python reading of the same condition.

VALUES = st.text(alphabet="ab%_", max_size=3)
CLAUSE = st.tuples(
    st.sampled_from(["firstname", "city"]),
    st.sampled_from([op.value for op in Operator]),
    VALUES,
)
POPULATION = [
    {"firstname": first, "city": city}
    for first in ("a", "ab", "b%", "", None)
    for city in ("ba", "a_b", None)
]


def _holds(value: str | None, operator: str, wanted: str) -> bool:
    folded = None if value is None else value.lower()
    target = wanted.lower()
    positive = {
        "=": value == wanted,
        "in": value in [item.strip() for item in wanted.split(",") if item.strip()],
        "ilike": folded is not None and target in folded,
        "begins": folded is not None and folded.startswith(target),
        "ends": folded is not None and folded.endswith(target),
    }
    if operator in positive:
        return positive[operator]
    if operator == "<>":
        return value is None or value != wanted
    return value is None or not positive[operator.removesuffix("-not")]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(clauses=st.lists(CLAUSE, min_size=1, max_size=3))
def test_sql_agrees_with_a_plain_reading(services, clauses) -> None:
    if not getattr(services, "population", None):
        services.properties.create("city")
        services.population = {}
        for index, props in enumerate(POPULATION):
            values = {k: v for k, v in props.items() if v is not None}
            email = f"p{index}@example.com"
            services.contacts.create(email=email, sms=None, properties=values)
            services.population[email] = props
    usable = [
        c for c in clauses if not (c[1] == "in" and not any(x.strip() for x in c[2].split(",")))
    ]
    if not usable:
        return
    expected = {
        email
        for email, props in services.population.items()
        if all(_holds(props[name], op, v) for name, op, v in usable)
    }
    assert _members(services, _condition(*usable)) == expected
