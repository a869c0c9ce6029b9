"""Compiles a dynamic list's condition to a SQLAlchemy expression over the contacts table.

Values are always bound parameters; no part of a condition ever becomes SQL text.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, false, func, not_, or_

from kirje.domain.conditions import Clause, ListCondition, Operator
from kirje.store.schema import contacts

# Fields of the contact row itself; any other name is a property in the JSON document.
_BUILT_IN = {"email": contacts.c.email, "sms": contacts.c.sms}
_ESCAPE = "\\"


def condition_clause(condition: ListCondition) -> ColumnElement[bool]:
    """True for the contacts the condition selects: every clause must hold."""
    if not condition.is_enabled:
        return false()
    return and_(*(_clause(clause) for clause in condition.clauses))


def _field(name: str):
    if name in _BUILT_IN:
        return _BUILT_IN[name]
    if name == "id":
        return func.cast(contacts.c.id, contacts.c.email.type)
    return contacts.c.properties[name].as_string()


def _clause(clause: Clause) -> ColumnElement[bool]:
    field = _field(clause.name)
    operator = clause.operator
    if operator is Operator.EQUAL:
        return field == _text(clause)
    if operator is Operator.NOT_EQUAL:
        return _or_missing(field, field != _text(clause))
    if operator is Operator.IN:
        return field.in_(list(clause.value))
    positive = {
        Operator.LIKE: Operator.LIKE,
        Operator.NOT_LIKE: Operator.LIKE,
        Operator.BEGINS: Operator.BEGINS,
        Operator.NOT_BEGINS: Operator.BEGINS,
        Operator.ENDS: Operator.ENDS,
        Operator.NOT_ENDS: Operator.ENDS,
    }[operator]
    matches = field.ilike(_pattern(positive, _text(clause)), escape=_ESCAPE)
    if operator is positive:
        return matches
    return _or_missing(field, not_(matches))


def _or_missing(field, expression: ColumnElement[bool]) -> ColumnElement[bool]:
    """A contact without the field does not equal, contain, begin or end with anything."""
    return or_(field.is_(None), expression)


def _text(clause: Clause) -> str:
    value = clause.value
    assert isinstance(value, str)
    return value.lower() if clause.name == "email" else value


def _pattern(operator: Operator, value: str) -> str:
    """Case-insensitive contains, begins or ends; the value's own % and _ match literally."""
    literal = value.replace(_ESCAPE, _ESCAPE * 2).replace("%", "\\%").replace("_", "\\_")
    if operator is Operator.BEGINS:
        return f"{literal}%"
    if operator is Operator.ENDS:
        return f"%{literal}"
    return f"%{literal}%"
