"""Subscription sites: the domains whose forms sign people up."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kirje.domain.errors import Invalid


@dataclass(frozen=True)
class Site:
    id: int
    account_id: int
    domain: str
    language: str
    is_default: bool
    uses_ssl: bool
    welcome_delivery_id: int | None
    redirect: str | None
    replaced_by: str | None
    list_ids: list[int] = field(default_factory=list)
    consent_ids: list[int] = field(default_factory=list)


# One DNS label: letters, digits and inner hyphens, at most 63 characters.
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def check_domain(domain: str) -> str:
    """A site's domain, lower case; raises Invalid when it cannot be one. Internationalised
    names are checked in their IDNA (ASCII) form and kept as written."""
    cleaned = (domain or "").strip().lower()
    if not cleaned or len(cleaned) > 253:
        raise Invalid(f"invalid site domain {domain!r}")
    try:
        ascii_form = cleaned.encode("idna").decode("ascii")
    except UnicodeError:
        raise Invalid(f"invalid site domain {domain!r}") from None
    if len(ascii_form) > 253 or not all(_LABEL.match(label) for label in ascii_form.split(".")):
        raise Invalid(f"invalid site domain {domain!r}")
    return cleaned


def check_language(language: str | None, default: str = "FI") -> str:
    """A site language code, upper case (FI, EN, SV...)."""
    cleaned = (language or default).strip().upper()
    if not cleaned or len(cleaned) > 8 or not cleaned.replace("-", "").isalnum():
        raise Invalid(f"invalid site language {language!r}")
    return cleaned


# What updateSite may change; every other key is refused rather than silently ignored.
SITE_SETTING_KEYS = frozenset(
    {"language", "ssl", "welcome", "redirect", "replaced_by", "consents", "lists"}
)


@dataclass(frozen=True)
class SiteChanges:
    """What an update changes: site columns by name, and the consents and lists to offer
    (None leaves them as they are)."""

    columns: dict[str, Any] = field(default_factory=dict)
    consent_ids: list[int] | None = None
    list_ids: list[int] | None = None


def site_changes(settings: Mapping[str, Any]) -> SiteChanges:
    """Reads updateSite's settings object (keys in SITE_SETTING_KEYS); raises Invalid on an
    unknown key or a bad value. Null or "" clears redirect and replaced_by; welcome 0 or null
    clears the welcome delivery."""
    unknown = sorted(set(settings) - SITE_SETTING_KEYS)
    if unknown:
        raise Invalid(
            f"unknown site settings: {', '.join(unknown)}; "
            f"known: {', '.join(sorted(SITE_SETTING_KEYS))}"
        )
    columns: dict[str, Any] = {}
    if "language" in settings:
        columns["language"] = check_language(_text(settings["language"], "language"))
    if "ssl" in settings:
        columns["uses_ssl"] = _flag(settings["ssl"], "ssl")
    if "welcome" in settings:
        columns["welcome_delivery_id"] = welcome_delivery(settings["welcome"])
    if "redirect" in settings:
        redirect = _text(settings["redirect"], "redirect")
        if redirect and len(redirect) > 500:
            raise Invalid("redirect is longer than 500 characters")
        columns["redirect"] = redirect or None
    if "replaced_by" in settings:
        replaced_by = _text(settings["replaced_by"], "replaced_by")
        columns["replaced_by"] = check_domain(replaced_by) if replaced_by else None
    return SiteChanges(
        columns,
        consent_ids=_ids(settings["consents"], "consents") if "consents" in settings else None,
        list_ids=_ids(settings["lists"], "lists") if "lists" in settings else None,
    )


def welcome_delivery(value: Any) -> int | None:
    """A welcome delivery id; 0 or null means none."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise Invalid(f"welcome must be a delivery id, not {value!r}")
    return value or None


def _text(value: Any, name: str) -> str | None:
    if value is None or isinstance(value, str):
        return value.strip() if value else None
    raise Invalid(f"{name} must be a string")


def _flag(value: Any, name: str) -> bool:
    # PHP clients send 0/1 for booleans.
    if isinstance(value, bool) or (isinstance(value, int) and value in (0, 1)):
        return bool(value)
    raise Invalid(f"{name} must be true or false (or 1 or 0)")


def _ids(value: Any, name: str) -> list[int]:
    """A list of ids; numeric strings are taken too, as PHP clients send them."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise Invalid(f"{name} must be a list of ids")
    ids = []
    for item in value:
        if isinstance(item, str) and item.strip().isdigit():
            item = int(item)
        if isinstance(item, bool) or not isinstance(item, int) or item < 1:
            raise Invalid(f"{name} must be a list of ids, not {value!r}")
        ids.append(item)
    return list(dict.fromkeys(ids))
