"""Contacts: the people an account mails, and the rules for their addresses."""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from kirje.domain.errors import Invalid

# Numbers written without a country code are read as Finnish, the home of the Liana dialects.
DEFAULT_PHONE_REGION = "FI"


@dataclass(frozen=True)
class Contact:
    id: int
    account_id: int
    email: str | None
    sms: str | None
    properties: dict[str, str]
    is_enabled: bool
    created_at: datetime
    updated_at: datetime
    confirmed_at: datetime | None = None
    deleted_at: datetime | None = None
    bounced_at: datetime | None = None
    banned_at: datetime | None = None
    forgotten_at: datetime | None = None

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


@dataclass(frozen=True)
class ContactDetails:
    """A contact with what readers of one recipient want beside it."""

    contact: Contact
    memberships: list[Membership] = field(default_factory=list)
    consents: list[MemberConsent] = field(default_factory=list)


@dataclass(frozen=True)
class Membership:
    list_id: int
    joined_at: datetime
    is_admin: bool


@dataclass(frozen=True)
class MemberConsent:
    consent_id: int
    revision: int
    lang: str
    source: str
    source_data: str | None
    given_at: datetime
    revoked_at: datetime | None


# Sized for a busy sender: validation costs more than the lookups it guards.
@lru_cache(maxsize=65536)
def normalize_email(address: str) -> str:
    """The canonical form of an address (lower case domain and local part); raises Invalid."""
    try:
        checked = validate_email(address.strip(), check_deliverability=False)
    except EmailNotValidError as error:
        raise Invalid(f"invalid email address {address!r}: {error}") from None
    return checked.normalized.lower()


@lru_cache(maxsize=65536)
def normalize_sms(number: str) -> str:
    """The E.164 form of a phone number; raises Invalid."""
    try:
        parsed = phonenumbers.parse(number.strip(), DEFAULT_PHONE_REGION)
    except phonenumbers.NumberParseException as error:
        raise Invalid(f"invalid SMS number {number!r}: {error}") from None
    if not phonenumbers.is_possible_number(parsed):
        raise Invalid(f"invalid SMS number {number!r}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


# RFC 5322 dot-atom in ASCII: the shape of nearly every real local part. Anything else (quoted,
# internationalised, overlong) is left to email-validator itself.
_DOT_ATOM_LOCAL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
).fullmatch
_MAX_LOCAL_LENGTH = 64
_MAX_ADDRESS_LENGTH = 254


@lru_cache(maxsize=65536)
def _normalized_domain(domain: str) -> str | None:
    """The domain as normalize_email writes it, or None when email-validator refuses it."""
    try:
        checked = validate_email(f"a@{domain}", check_deliverability=False)
    except EmailNotValidError:
        return None
    return checked.domain.lower()


def quick_normalized_email(address: str) -> str | None:
    """normalize_email's result for an address, or None when it is not valid; fast for the
    common ASCII shape (validation per domain, cached), which is what bulk paths see."""
    local, at, domain = address.rpartition("@")
    if (
        at
        and len(address) <= _MAX_ADDRESS_LENGTH
        and len(local) <= _MAX_LOCAL_LENGTH
        and domain.isascii()
        and _DOT_ATOM_LOCAL(local)
    ):
        normalized_domain = _normalized_domain(domain)
        return None if normalized_domain is None else f"{local.lower()}@{normalized_domain}"
    try:
        return normalize_email(address)
    except Invalid:
        return None


def optional_email(address: str | None) -> str | None:
    return normalize_email(address) if address else None


def optional_sms(number: str | None) -> str | None:
    return normalize_sms(number) if number else None


CONFIRMATION_CODE_LENGTH = 10


def new_confirmation_code() -> str:
    """A code like LianaMailer's (letters only, e.g. bdeCyBcrkf), unguessable."""
    alphabet = string.ascii_letters
    return "".join(secrets.choice(alphabet) for _ in range(CONFIRMATION_CODE_LENGTH))
