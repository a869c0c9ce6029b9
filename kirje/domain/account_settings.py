"""Account-wide marketing settings: sender identity, allowed recipient domains, CEM tracking."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from kirje.domain.contacts import normalize_email
from kirje.domain.errors import Invalid
from kirje.domain.sites import check_domain

MAX_SENDER_NAME = 200


@dataclass(frozen=True)
class MarketingSettings:
    """Every setting has a default, so an account that never set one reads the same shape.
    An empty allowed_domains means every domain is allowed."""

    sender_name: str | None = None
    sender_email: str | None = None
    reply_to: str | None = None
    allowed_domains: tuple[str, ...] = ()
    cem_tracking: bool = False

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def from_document(cls, document: Mapping[str, Any] | None) -> MarketingSettings:
        """Reads what as_document stored; names it no longer knows are dropped."""
        known = {k: v for k, v in (document or {}).items() if k in cls.names()}
        if "allowed_domains" in known:
            known["allowed_domains"] = tuple(known["allowed_domains"] or ())
        return cls(**known)

    def as_document(self) -> dict[str, Any]:
        return {
            "sender_name": self.sender_name,
            "sender_email": self.sender_email,
            "reply_to": self.reply_to,
            "allowed_domains": list(self.allowed_domains),
            "cem_tracking": self.cem_tracking,
        }

    def changed(self, values: Mapping[str, Any]) -> MarketingSettings:
        """A copy with the values set; null resets a setting to its default. Raises Invalid
        naming the first unknown name or bad value, before anything is changed."""
        unknown = sorted(set(values) - set(self.names()))
        if unknown:
            raise Invalid(
                f"unknown marketing settings: {', '.join(unknown)}; "
                f"known: {', '.join(self.names())}"
            )
        checked = {name: _CHECKS[name](value) for name, value in values.items()}
        return replace(self, **checked)

    def allows(self, address: str) -> bool:
        """Whether the address is valid and its domain allowed (any domain when none is set)."""
        try:
            normalized = normalize_email(address)
        except Invalid:
            return False
        if not self.allowed_domains:
            return True
        return normalized.rpartition("@")[2] in self.allowed_domains


def _sender_name(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid("sender_name must be a string")
    cleaned = value.strip()
    if len(cleaned) > MAX_SENDER_NAME:
        raise Invalid(f"sender_name is longer than {MAX_SENDER_NAME} characters")
    return cleaned or None


def _address(name: str):
    def check(value: Any) -> str | None:
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise Invalid(f"{name} must be an email address")
        return normalize_email(value)

    return check


def _allowed_domains(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(d, str) for d in value):
        raise Invalid("allowed_domains must be a list of domain names")
    return tuple(dict.fromkeys(check_domain(d) for d in value))


def _cem_tracking(value: Any) -> bool:
    if value is None:
        return False
    # PHP clients send 0/1 for booleans.
    if isinstance(value, bool) or value in (0, 1):
        return bool(value)
    raise Invalid("cem_tracking must be true or false")


_CHECKS = {
    "sender_name": _sender_name,
    "sender_email": _address("sender_email"),
    "reply_to": _address("reply_to"),
    "allowed_domains": _allowed_domains,
    "cem_tracking": _cem_tracking,
}
