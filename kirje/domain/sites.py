"""Subscription sites: the domains whose forms sign people up."""

from __future__ import annotations

from dataclasses import dataclass, field

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


def check_domain(domain: str) -> str:
    """A site's domain, lower case; raises Invalid when it cannot be one."""
    cleaned = domain.strip().lower()
    if not cleaned or len(cleaned) > 253 or any(c.isspace() or c in "/?#@" for c in cleaned):
        raise Invalid(f"invalid site domain {domain!r}")
    return cleaned
