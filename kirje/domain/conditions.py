"""Dynamic list conditions: the JSON document LianaMailer stores on a dynamic list."""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
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
    # The text as given: two texts that differ only in spacing are the same condition.
    source: str = field(compare=False)


def parse_condition(text: str) -> ListCondition:
    """Parses and checks a condition document; raises Invalid saying what and where
    (the character offset of malformed JSON, the clause index of a bad clause)."""
    try:
        encoded = text.encode()
    except UnicodeEncodeError as error:
        raise Invalid(f"list condition is not valid text at character {error.start}") from None
    try:
        document = msgspec.json.decode(encoded, type=_Document)
    except msgspec.ValidationError as error:
        # Typed decoding stops at the first wrong type, even in text that is not JSON at all.
        _check_syntax(text, encoded)
        # msgspec names the place: "... - at `$.conditions[2].value`".
        raise Invalid(f"invalid list condition: {error}") from None
    except msgspec.DecodeError as error:
        raise _syntax_error(text, error) from None
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
        value = _clause_value(index, operator, clause.value)
        for text_value in (clause.name, *((value,) if isinstance(value, str) else value)):
            _check_storable(index, text_value)
        clauses.append(Clause(clause.name, operator, value))
    return ListCondition(tuple(clauses), document.enabled, text)


def condition_text(condition: ListCondition) -> str:
    """The condition as a JSON document that parse_condition reads back to an equal one."""
    return json.dumps(
        {
            "conditions": [
                {
                    "name": clause.name,
                    "condition": clause.operator.value,
                    "value": clause.value if isinstance(clause.value, str) else list(clause.value),
                }
                for clause in condition.clauses
            ],
            "enabled": condition.is_enabled,
        },
        ensure_ascii=False,
    )


_BYTE_POSITION = re.compile(r"\(byte (\d+)\)")


def _check_syntax(text: str, encoded: bytes) -> None:
    try:
        msgspec.json.decode(encoded)
    except msgspec.DecodeError as error:
        raise _syntax_error(text, error) from None


def _syntax_error(text: str, error: msgspec.DecodeError) -> Invalid:
    position = _syntax_error_position(text, str(error))
    return Invalid(f"list condition is not valid JSON at character {position}: {error}")


def _syntax_error_position(text: str, message: str) -> int:
    """The character offset of a JSON syntax error. msgspec names a byte, or none when the
    text ends early; Python's json module names the character, so it is asked first."""
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        return error.pos
    except (RecursionError, ValueError):
        pass
    found = _BYTE_POSITION.search(message)
    if found:
        return len(text.encode()[: int(found.group(1))].decode(errors="ignore"))
    return len(text)


def _check_storable(index: int, value: str) -> None:
    """Names and values become SQL parameters, and PostgreSQL text cannot hold NUL, which a
    JSON escape can produce. (msgspec already rejects escaped lone surrogates.)"""
    if "\x00" in value:
        raise Invalid(f"conditions[{index}]: a name or value contains a NUL character")


def _comma_separated(text: str) -> list[str]:
    """'a, "b, c", d' -> ['a', 'b, c', 'd']: the csv module, so quoted commas stay inside."""
    return next(csv.reader([text], skipinitialspace=True), [])


def _clause_value(index: int, operator: Operator, value) -> str | tuple[str, ...]:
    if operator is Operator.IN:
        try:
            items = value if isinstance(value, list) else _comma_separated(str(value))
        except csv.Error as error:
            raise Invalid(
                f"conditions[{index}]: 'in' values are not comma-separated: {error}"
            ) from None
        cleaned = tuple(str(item).strip() for item in items)
        if not cleaned or not all(cleaned):
            raise Invalid(f"conditions[{index}]: 'in' needs a non-empty list of values")
        return cleaned
    if isinstance(value, list):
        raise Invalid(f"conditions[{index}]: {operator.value!r} takes one value, not a list")
    return str(value)
