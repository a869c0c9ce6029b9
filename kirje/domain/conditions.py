"""Dynamic list conditions: the JSON document LianaMailer stores on a dynamic list."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from enum import StrEnum

import msgspec

from kirje.domain.errors import Invalid


class Operator(StrEnum):
    EQUAL = "="
    NOT_EQUAL = "<>"
    LIKE = "ilike"
    NOT_LIKE = "ilike-not"
    IN = "in"
    BEGINS = "begins"
    NOT_BEGINS = "begins-not"
    ENDS = "ends"
    NOT_ENDS = "ends-not"


class _Clause(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    condition: str
    value: str | int | float | list[str | int | float]


class _Document(msgspec.Struct):
    conditions: list[_Clause]
    enabled: bool = True


@dataclass(frozen=True)
class Clause:
    name: str
    operator: Operator
    value: str | tuple[str, ...]


@dataclass(frozen=True)
class ListCondition:
    clauses: tuple[Clause, ...]
    is_enabled: bool
    source: str


def parse_condition(text: str) -> ListCondition:
    """Parses and checks a condition document; raises Invalid saying what and where."""
    try:
        document = msgspec.json.decode(text.encode(), type=_Document)
    except msgspec.ValidationError as error:
        raise Invalid(f"invalid list condition: {error}") from None
    except msgspec.DecodeError as error:
        raise Invalid(f"list condition is not valid JSON: {error}") from None
    if not document.conditions:
        raise Invalid("list condition has no conditions")
    clauses = []
    for index, clause in enumerate(document.conditions):
        try:
            operator = Operator(clause.condition)
        except ValueError:
            known = ", ".join(op.value for op in Operator)
            raise Invalid(
                f"conditions[{index}]: unknown condition {clause.condition!r} (one of {known})"
            ) from None
        clauses.append(Clause(clause.name, operator, _clause_value(index, operator, clause.value)))
    return ListCondition(tuple(clauses), document.enabled, text)


def _comma_separated(text: str) -> list[str]:
    """'a, "b, c", d' -> ['a', 'b, c', 'd']: the csv module, so quoted commas stay inside."""
    return next(csv.reader([text], skipinitialspace=True), [])


def _clause_value(index: int, operator: Operator, value) -> str | tuple[str, ...]:
    if operator is Operator.IN:
        items = value if isinstance(value, list) else _comma_separated(str(value))
        cleaned = tuple(str(item).strip() for item in items)
        if not cleaned or not all(cleaned):
            raise Invalid(f"conditions[{index}]: 'in' needs a non-empty list of values")
        return cleaned
    if isinstance(value, list):
        raise Invalid(f"conditions[{index}]: {operator.value!r} takes one value, not a list")
    return str(value)
