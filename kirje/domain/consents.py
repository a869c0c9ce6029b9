"""Consent types and their translated revisions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ConsentType:
    id: int
    account_id: int
    name: str
    is_revokable: bool
    revision: int
    created_at: datetime


@dataclass(frozen=True)
class ConsentText:
    """One language of one revision of a consent type."""

    consent_id: int
    revision: int
    lang: str
    title: str
    description: str
