"""Channels: the sources events come in through (a shop, a site, a form plugin, Kirje itself)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from kirje.domain.errors import Invalid

# LianaAutomation's type of a channel a user made; only such channels may be edited or deleted.
USER_CHANNEL_TYPE = "empty"
MAX_NAME_LENGTH = 200
MAX_VERB_LENGTH = 64


@dataclass(frozen=True)
class Channel:
    id: int
    account_id: int
    name: str
    color: str
    icon: str
    tracking_enabled: bool
    notes: str
    system_name: str
    type: str
    tracking_js: str
    import_js: str
    default_url: str
    public_key: str
    # verb -> whether it is enabled, for every verb the channel has received
    verbs: dict[str, bool] = field(default_factory=dict)
    events: int = 0

    @property
    def is_user_made(self) -> bool:
        return self.type == USER_CHANNEL_TYPE


@dataclass(frozen=True)
class ChannelChanges:
    """What a create or edit sets; None leaves a field as it is (or its default)."""

    name: str | None = None
    color: str | None = None
    tracking_enabled: bool | None = None
    notes: str | None = None

    def checked(self) -> ChannelChanges:
        if self.name is not None and not self.name.strip():
            raise Invalid("name must not be empty")
        if self.name is not None and len(self.name) > MAX_NAME_LENGTH:
            raise Invalid(f"name is longer than {MAX_NAME_LENGTH} characters")
        return self


def new_public_key() -> str:
    """The unguessable key in a channel's tracking URLs: lower-case letters and digits."""
    return secrets.token_hex(12)


def check_verb(verb: object, where: str = "verb") -> str:
    if not isinstance(verb, str) or not verb.strip():
        raise Invalid(f"{where} must be a non-empty string")
    if len(verb) > MAX_VERB_LENGTH:
        raise Invalid(f"{where} is longer than {MAX_VERB_LENGTH} characters")
    return verb.strip()
