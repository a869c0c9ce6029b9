"""Accounts (tenants) and the API users that act for them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from kirje.domain.errors import Invalid

_REALM = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


@dataclass(frozen=True)
class Account:
    id: int
    name: str
    realm: str
    needs_confirmation: bool
    created_at: datetime


@dataclass(frozen=True)
class ApiCredential:
    """What checking one signed request needs; cached per process."""

    user_id: int
    account_id: int
    realm: str
    secret: bytes
    rate_limit_per_second: int
    is_enabled: bool


def check_realm(realm: str) -> str:
    if not _REALM.match(realm):
        raise Invalid("realm must be 1-32 letters, digits, '-' or '_'")
    return realm.upper()
