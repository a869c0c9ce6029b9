"""Identities: the identifiers that name one person across sources (LianaAutomation's identity).

Email and SMS number live on the contact; extra1, extra2 and site-tracking tokens are kept
beside it; Kirje's own contact id names it too. An import that brings several identifiers of
one person ties them to one contact, merging contacts where that is safe (see
`can_absorb`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from enum import StrEnum

from kirje.domain.contacts import normalize_email, normalize_sms, quick_normalized_email
from kirje.domain.errors import Invalid

MAX_IDENTIFIER_LENGTH = 255
# WordPress plugins read the tracking cookie through sanitize_key(): lower case, only these.
_TOKEN_NOISE = re.compile(r"[^a-z0-9_-]")


class IdentityKind(StrEnum):
    """In order of strength: when identifiers of one entry name different contacts, the
    contact named by the strongest one is kept."""

    ID = "id"
    EMAIL = "email"
    SMS = "sms"
    EXTRA1 = "extra1"
    EXTRA2 = "extra2"
    TOKEN = "token"


# Kinds kept in contact_identities (email and sms are columns of the contact).
LINKED_KINDS = (IdentityKind.EXTRA1, IdentityKind.EXTRA2, IdentityKind.TOKEN)


@dataclass(frozen=True)
class Identity:
    """One person's identifiers as an import or a search gives them, normalized."""

    id: int | None = None
    email: str | None = None
    sms: str | None = None
    extra1: str | None = None
    extra2: str | None = None
    token: str | None = None

    def identifiers(self) -> list[tuple[IdentityKind, str | int]]:
        """The given identifiers, strongest first."""
        values = (self.id, self.email, self.sms, self.extra1, self.extra2, self.token)
        return [(kind, value) for kind, value in zip(_KINDS, values, strict=True) if value]

    def linked(self) -> list[tuple[IdentityKind, str]]:
        return [(kind, value) for kind, value in self.identifiers() if kind in LINKED_KINDS]

    @property
    def is_empty(self) -> bool:
        return not self.identifiers()


IDENTITY_KEYS = frozenset(f.name for f in fields(Identity))
# The kinds in the order of Identity's fields (which is their order of strength).
_KINDS = tuple(IdentityKind(f.name) for f in fields(Identity))
assert tuple(IdentityKind) == _KINDS


def normalize_token(token: str) -> str:
    """A tracking token as every client sends it back: lower case, [a-z0-9_-] only."""
    return _TOKEN_NOISE.sub("", token.strip().lower())


def identity_from(raw: object, where: str = "identity") -> Identity:
    """An Identity from a JSON object; unknown keys (pv_uid...) are ignored, empty values are
    absent. Raises Invalid naming `where` for a value that cannot be an identifier."""
    if not isinstance(raw, dict):
        raise Invalid(f"{where} must be an object")
    values: dict[str, object] = {}
    for key in IDENTITY_KEYS:
        value = raw.get(key)
        if value is None or value == "":
            continue
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise Invalid(f"{where}.{key} must be a string")
        values[key] = _normalized(key, str(value).strip(), f"{where}.{key}")
    return Identity(**{key: value for key, value in values.items() if value not in (None, "")})


def _normalized(key: str, value: str, where: str) -> str | int | None:
    if len(value) > MAX_IDENTIFIER_LENGTH:
        raise Invalid(f"{where} is longer than {MAX_IDENTIFIER_LENGTH} characters")
    try:
        if key == IdentityKind.ID:
            return int(value)
        if key == IdentityKind.EMAIL:
            # The quick path for the common shape; the library's own error for the others.
            return quick_normalized_email(value) or normalize_email(value)
        if key == IdentityKind.SMS:
            return normalize_sms(value)
    except (Invalid, ValueError) as error:
        detail = error.message if isinstance(error, Invalid) else "not a number"
        raise Invalid(f"{where}: {detail}") from None
    if key == IdentityKind.TOKEN:
        return normalize_token(value) or None
    return value


@dataclass(frozen=True)
class HeldAddresses:
    """What of a contact decides whether another contact can be merged into it."""

    contact_id: int
    email: str | None
    sms: str | None


def can_absorb(keeper: HeldAddresses, other: HeldAddresses) -> bool:
    """Whether `other` can be merged into `keeper`: never two people with different
    addresses of the same channel (two identified persons are not merged: a shared extra
    id or token moves to the keeper instead)."""
    clashes_email = keeper.email and other.email and keeper.email != other.email
    clashes_sms = keeper.sms and other.sms and keeper.sms != other.sms
    return not (clashes_email or clashes_sms)


@dataclass(frozen=True)
class KnownIdentifiers:
    """What the store holds for the identifiers of a batch, looked up before planning."""

    by_id: dict[int, HeldAddresses]
    by_email: dict[str, HeldAddresses]
    by_sms: dict[str, HeldAddresses]
    # (kind, value) -> the contact it names, with that contact's addresses
    by_link: dict[tuple[IdentityKind, str], HeldAddresses]


@dataclass
class IdentityPlan:
    """What resolving a batch of identities writes, and which contact each one names.

    Contacts to create are numbered -1, -2, ... (refs) until the store gives them ids.
    """

    contacts: list[int]  # per identity: a contact id, or the ref of a new contact
    new_contacts: dict[int, tuple[str | None, str | None]]  # ref -> (email, sms)
    addresses: dict[int, tuple[str | None, str | None]]  # existing id -> addresses it gets
    links: dict[tuple[IdentityKind, str], int]  # identifier -> contact id or ref
    merges: list[tuple[int, int]]  # (merged, keeper): existing contacts


class _Planner:
    """Resolves identities one after another, each seeing what the ones before it decided."""

    def __init__(self, known: KnownIdentifiers) -> None:
        self.held: dict[int, list[str | None]] = {}  # contact or ref -> [email, sms]
        self.index: dict[tuple[IdentityKind, str | int], int] = {}
        self.redirect: dict[int, int] = {}
        self.next_ref = -1
        for contact_id, held in known.by_id.items():
            self._know((IdentityKind.ID, contact_id), held)
        for email, held in known.by_email.items():
            self._know((IdentityKind.EMAIL, email), held)
        for sms, held in known.by_sms.items():
            self._know((IdentityKind.SMS, sms), held)
        for key, held in known.by_link.items():
            self._know(key, held)
        self.plan = IdentityPlan([], {}, {}, {}, [])

    def _know(self, key: tuple[IdentityKind, str | int], held: HeldAddresses) -> None:
        self.index[key] = held.contact_id
        self.held.setdefault(held.contact_id, [held.email, held.sms])

    def follow(self, ref: int) -> int:
        while ref in self.redirect:
            ref = self.redirect[ref]
        return ref

    def lookup(self, kind: IdentityKind, value: str | int) -> int | None:
        ref = self.index.get((kind, value))
        return None if ref is None else self.follow(ref)

    def resolve(self, identity: Identity) -> int:
        found: list[int] = []
        for kind, value in identity.identifiers():
            ref = self.lookup(kind, value)
            if ref is not None and ref not in found:
                found.append(ref)
        email = self._unheld(IdentityKind.EMAIL, identity.email)
        sms = self._unheld(IdentityKind.SMS, identity.sms)
        keeper = found[0] if found and self._takes(found[0], email, sms) else None
        if keeper is None:
            keeper = self.next_ref
            self.next_ref -= 1
            self.held[keeper] = [None, None]
        self._give(keeper, email, sms)
        for other in found:
            if other != keeper and self._can_merge(other, keeper):
                self._merge(other, keeper)
        for kind, value in identity.linked():
            self.index[(kind, value)] = keeper
            self.plan.links[(kind, value)] = keeper
        if identity.id is not None and keeper >= 0:
            self.index[(IdentityKind.ID, identity.id)] = keeper
        return keeper

    def _unheld(self, kind: IdentityKind, address: str | None) -> str | None:
        """The address when the identity gives it and no contact holds it yet."""
        if address is None or self.lookup(kind, address) is not None:
            return None
        return address

    def _takes(self, contact: int, email: str | None, sms: str | None) -> bool:
        """Whether the contact can also have these unheld addresses."""
        held_email, held_sms = self.held[contact]
        return not (held_email and email) and not (held_sms and sms)

    def _give(self, contact: int, email: str | None, sms: str | None) -> None:
        held = self.held[contact]
        given = ((IdentityKind.EMAIL, email), (IdentityKind.SMS, sms))
        for position, (kind, value) in enumerate(given):
            if value is not None and held[position] is None:
                held[position] = value
                self.index[(kind, value)] = contact
                if contact >= 0:
                    self.plan.addresses[contact] = (held[0], held[1])

    def _can_merge(self, other: int, keeper: int) -> bool:
        if keeper < 0 and other >= 0:
            return False  # a stored contact is never merged into one not created yet
        other_held = HeldAddresses(other, *self.held[other])
        return can_absorb(HeldAddresses(keeper, *self.held[keeper]), other_held)

    def _merge(self, other: int, keeper: int) -> None:
        email, sms = self.held[other]
        self.redirect[other] = keeper
        self._give(keeper, email, sms)
        if other >= 0:
            self.plan.merges.append((other, keeper))

    def finish(self, resolved: list[int]) -> IdentityPlan:
        plan = self.plan
        plan.contacts = [self.follow(ref) for ref in resolved]
        for ref, (email, sms) in self.held.items():
            if ref in self.redirect:
                continue
            if ref < 0:
                plan.new_contacts[ref] = (email, sms)
        plan.links = {key: self.follow(ref) for key, ref in plan.links.items()}
        return plan


def plan_identities(identities: list[Identity], known: KnownIdentifiers) -> IdentityPlan:
    """Which contact each identity names, creating, completing and merging contacts as the
    identifiers given together require. Deterministic: the same batch over the same store
    always gives the same plan.

    The contact named by an identity's strongest identifier keeps the person (email over
    SMS over extra ids over tokens), unless the identity brings an address that contact
    cannot take (it has another one): then the identity is a new person. Other contacts the
    identity names are merged into the kept one when can_absorb allows it; otherwise only
    the extra ids and tokens given move to the kept contact.
    """
    planner = _Planner(known)
    resolved = [planner.resolve(identity) for identity in identities]
    return planner.finish(resolved)
