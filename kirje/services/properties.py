"""Contact properties: defining them, and checking values written to contacts."""

from __future__ import annotations

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from kirje.domain.errors import Conflict, Invalid, NotFound
from kirje.domain.properties import (
    Property,
    PropertyDatatype,
    PropertyType,
    check_property_name,
    property_value_text,
)
from kirje.services.base import AccountScope
from kirje.store import properties as property_store


class Properties:
    def __init__(self, scope: AccountScope) -> None:
        self.scope = scope

    def all(self) -> list[Property]:
        with self.scope.db.reading() as conn:
            return property_store.all_properties(conn, self.scope.account_id)

    def create(
        self,
        name: str,
        *,
        language: str = "FI",
        type: str = PropertyType.TEXT.value,
        choices: list[str] | None = None,
        is_required: bool = False,
        is_on_subscription_page: bool = False,
        position: int | None = None,
        datatype: str = PropertyDatatype.TEXT.value,
    ) -> int:
        name = check_property_name(name)
        kind = _enum(PropertyType, type, "property type")
        data_kind = _enum(PropertyDatatype, datatype, "property datatype")
        choice_list = [str(choice) for choice in choices or []]
        if choice_list and kind not in (PropertyType.SELECT, PropertyType.CHECKBOX):
            raise Invalid("choices are only for select and checkbox properties")
        with self.scope.db.transaction() as conn:
            taken = {
                p.name.lower() for p in property_store.all_properties(conn, self.scope.account_id)
            }
            if name.lower() in taken:
                raise Conflict(f"property {name!r} already exists")
            try:
                return property_store.insert_property(
                    conn,
                    account_id=self.scope.account_id,
                    now=self.scope.clock(),
                    name=name,
                    visible_name=name,
                    language=(language or "FI").upper(),
                    type=kind.value,
                    datatype=data_kind.value,
                    choices=choice_list,
                    is_required=is_required,
                    is_on_subscription_page=is_on_subscription_page,
                    position=position
                    if position is not None
                    else property_store.next_position(conn, self.scope.account_id),
                )
            except IntegrityError:
                raise Conflict(f"property {name!r} already exists") from None

    def rename(self, old_name: str, new_name: str) -> None:
        new_name = check_property_name(new_name)
        with self.scope.db.transaction() as conn:
            defined = {p.name for p in property_store.all_properties(conn, self.scope.account_id)}
            if old_name not in defined:
                raise NotFound(f"property {old_name!r} not found")
            if new_name != old_name and new_name.lower() in {n.lower() for n in defined}:
                raise Conflict(f"property {new_name!r} already exists")
            property_store.rename_property(conn, self.scope.account_id, old_name, new_name)

    def delete(self, name: str) -> None:
        """Removes the property and every contact's value of it."""
        with self.scope.db.transaction() as conn:
            defined = {p.name for p in property_store.all_properties(conn, self.scope.account_id)}
            if name not in defined:
                raise NotFound(f"property {name!r} not found")
            property_store.delete_property(conn, self.scope.account_id, name)


def _enum(kind, value: str, what: str):
    try:
        return kind((value or "").lower())
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise Invalid(f"unknown {what} {value!r} (one of {allowed})") from None


def resolve_property_values(
    conn: Connection, account_id: int, values: dict[str, object]
) -> dict[str, str]:
    """Values keyed by the account's property names; raises Invalid for reserved or unknown names.

    Names match exactly, else case-insensitively on the name or the visible name, because
    form plugins send whatever label the site shows.
    """
    if not values:
        return {}
    defined = property_store.all_properties(conn, account_id)
    by_name = {p.name: p.name for p in defined}
    by_folded = {}
    for prop in defined:
        by_folded.setdefault(prop.visible_name.casefold(), prop.name)
        by_folded[prop.name.casefold()] = prop.name
    resolved: dict[str, str] = {}
    unknown = []
    for key, value in values.items():
        check_property_name(key)
        name = by_name.get(key) or by_folded.get(key.strip().casefold())
        if name is None:
            unknown.append(key)
            continue
        if value is not None:
            resolved[name] = property_value_text(value)
    if unknown:
        raise Invalid(f"unknown properties: {', '.join(sorted(unknown))}")
    return resolved
