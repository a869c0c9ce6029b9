"""Imports: what an import reads, what it refuses and why, and what it reports.

Reading a file yields ImportRows (already normalised) and RejectedLines, both numbered by the
file's line (the header is line 1); merging applies the rows and sorts the rest into the
sections of LianaMailer's import log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class ImportFormat(StrEnum):
    CSV = "csv"
    JSON = "json"
    XLS = "xls"  # .xls and .xlsx: the spreadsheet is read by content, not by name


class LogSection(StrEnum):
    """Where a line that was not applied is listed in the import log."""

    REJECTED = "rejected"  # bad address or number, wrong field count, unknown value
    EMPTY = "empty"  # neither email nor SMS
    UNSUBSCRIBED = "unsubscribed"  # left the list on their own: an import does not re-add
    DELETED = "deleted"  # deleted or forgotten contacts stay out
    DOMAIN_REJECTED = "domain-rejected"  # domain outside the account's allowed domains
    MEMBER_LIMIT = "member-limit"  # over the account's member limit
    DUPLICATE = "duplicate"  # a later line has the same address; the last one wins


@dataclass(frozen=True)
class ImportRow:
    line: int
    email: str | None
    sms: str | None
    properties: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RejectedLine:
    line: int
    section: LogSection
    reason: str  # e.g. "invalid email address"
    value: str  # the offending value (or the line's start), shortened for the log


@dataclass(frozen=True)
class ImportOptions:
    """What one import does; kept in the job's payload so any worker can run or resume it."""

    list_id: int
    format: ImportFormat = ImportFormat.CSV
    truncate: bool = False
    consent_id: int | None = None
    consent_lang: str | None = None
    # LianaMailer's use_duplicates: keep every line, not only the last one per address.
    use_duplicates: bool = False
    # LianaMailer's disable_cem_events: no automation trigger for these joins.
    disable_cem_events: bool = False


@dataclass
class ImportCounts:
    """The figures of the import log's summary."""

    source_lines: int = 0
    new: int = 0
    updated: int = 0
    duplicates: int = 0
    empty: int = 0
    rejected: int = 0
    unsubscribed: int = 0
    deleted: int = 0
    domain_rejected: int = 0
    member_limit_exceeded: int = 0

    @property
    def imported(self) -> int:
        return self.new + self.updated


@dataclass(frozen=True)
class MergeOutcome:
    """What merging one range of staged lines did (the lines it refused are in the log)."""

    new: int = 0  # contacts created
    updated: int = 0  # existing contacts the range applied to
    joined: int = 0  # memberships made active now (new or coming back from removed)
    unsubscribed: int = 0  # left the list on their own, or banned: not joined
    deleted: int = 0  # deleted or forgotten: not touched
