"""Contact properties: the account-defined fields a contact carries, and their naming rules."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from kirje.domain.errors import Invalid

# Names the system uses for its own fields (seed 001, "Reserved property names").
RESERVED_PROPERTY_NAMES = frozenset(
    {
        "admin",
        "archive",
        "delivery_id",
        "email",
        "id",
        "ip",
        "list_id",
        "list_name",
        "mail_id",
        "origin",
        "reason",
        "recipient_email",
        "recipient_sms",
        "scheduled",
        "sms",
        "subject",
        "tracking_id",
        "url",
        "useragent",
    }
)

MAX_PROPERTY_NAME_LENGTH = 100
MAX_PROPERTY_VALUE_LENGTH = 65_535

# Every new account starts with these, so that the seed's import example
# ("email";"firstname";"lastname") works without setting anything up.
DEFAULT_PROPERTIES = (("firstname", "First name"), ("lastname", "Last name"))


class PropertyType(StrEnum):
    TEXT = "text"
    NUMERIC = "numeric"
    SELECT = "select"
    CHECKBOX = "checkbox"
    # Raw values are inserted into HTML unescaped (with the NOHTMLENCODE: prefix).
    RAW = "raw"


class PropertyDatatype(StrEnum):
    TEXT = "text"
    DATETIME = "datetime"
    NUMERIC = "numeric"


@dataclass(frozen=True)
class Property:
    id: int
    account_id: int
    name: str
    visible_name: str
    language: str
    type: PropertyType
    datatype: PropertyDatatype
    choices: list[str]
    is_required: bool
    is_on_subscription_page: bool
    position: int


def check_property_name(name: str) -> str:
    """The name, stripped; raises Invalid for an empty, overlong or reserved name."""
    cleaned = name.strip()
    if not cleaned:
        raise Invalid("property name must not be empty")
    if len(cleaned) > MAX_PROPERTY_NAME_LENGTH:
        raise Invalid(f"property name is longer than {MAX_PROPERTY_NAME_LENGTH} characters")
    if '"' in cleaned or "\\" in cleaned:
        raise Invalid('property name must not contain " or \\')
    if cleaned.lower() in RESERVED_PROPERTY_NAMES:
        raise Invalid(f"property name {cleaned!r} is reserved")
    return cleaned


def property_value_text(value: object) -> str:
    """Property values are kept as text: numbers and booleans arrive from JSON clients."""
    if isinstance(value, bool):
        text = "1" if value else "0"
    elif isinstance(value, int | float | str):
        text = str(value)
    else:
        raise Invalid(f"property value must be a string or a number, got {type(value).__name__}")
    if len(text) > MAX_PROPERTY_VALUE_LENGTH:
        raise Invalid(f"property value is longer than {MAX_PROPERTY_VALUE_LENGTH} characters")
    return text
