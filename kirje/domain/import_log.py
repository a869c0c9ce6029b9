"""The import log: LianaMailer's getImportLog text, figures first, then every line not applied."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from kirje.domain.imports import ImportCounts, LogSection, RejectedLine

# Past this many lines a section says how many more there were: a file of a million bad lines
# must not become a log of a million lines that a client downloads on every poll.
MAX_LINES_PER_SECTION = 10_000

# The sections in the seed's order, with what each says when nothing landed in it. The empty
# markers differ per section in LianaMailer's own sample, so they are copied as they are.
_SECTIONS: tuple[tuple[str, tuple[LogSection, ...], str], ...] = (
    ("Cancelled subscriptions", (LogSection.UNSUBSCRIBED,), "None"),
    ("Deleted subscribers", (LogSection.DELETED,), "None"),
    ("Domain rejected records", (LogSection.DOMAIN_REJECTED,), "All OK"),
    ("Member limit exceeded records", (LogSection.MEMBER_LIMIT,), "None"),
    # A line with neither address is refused like a bad one; its count has its own figure.
    ("Rejected records", (LogSection.REJECTED, LogSection.EMPTY), "All OK"),
)


def import_log_text(
    counts: ImportCounts,
    rejected: Iterable[RejectedLine],
    *,
    list_name: str,
    seconds: int,
    errors: Sequence[str] = (),
) -> str:
    """The log as getImportLog returns it, e.g. " line 12: invalid email address: foo@".

    Duplicates are only counted: their last line was applied, so no line was refused. `errors`
    holds what stopped the import as a whole (the job's failure), if anything did.
    """
    parts = [
        "Import summary:\n",
        f" {counts.imported} records imported to {list_name}\n",
        "\n",
        "Details:\n",
        f" Source CSV file had {counts.source_lines} lines\n",
        f" New records: {counts.new}\n",
        f" Updated records: {counts.updated}\n",
        f" Duplicates: {counts.duplicates}\n",
        f" Empty email or SMS: {counts.empty}\n",
        f" Rejected: {counts.rejected}\n",
        f" Unsubscribed: {counts.unsubscribed}\n",
        f" Deleted: {counts.deleted}\n",
        f" Domain rejected: {counts.domain_rejected}\n",
        f" Member limit exceeded: {counts.member_limit_exceeded}\n",
        f" Target list: {list_name}\n",
        f" Import took {seconds} s\n",
    ]
    by_section = _group(rejected)
    for title, sections, empty_marker in _SECTIONS:
        lines = [line for section in sections for line in by_section.get(section, [])]
        lines.sort(key=lambda line: line.line)
        parts.append(f"\n{title}:\n")
        parts.extend(_section_lines(lines, empty_marker, _hidden(by_section, sections)))
    parts.append("\nErrors:\n")
    parts.extend(f" {error}\n" for error in errors or ["No errors"])
    return "".join(parts)


def rejected_line_text(line: RejectedLine) -> str:
    if line.value:
        return f" line {line.line}: {line.reason}: {line.value}\n"
    return f" line {line.line}: {line.reason}\n"


class _Grouped(dict):
    """Lines per section, keeping at most MAX_LINES_PER_SECTION each and counting the rest."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden: dict[LogSection, int] = {}


def _group(rejected: Iterable[RejectedLine]) -> _Grouped:
    grouped = _Grouped()
    for line in rejected:
        kept = grouped.setdefault(line.section, [])
        if len(kept) < MAX_LINES_PER_SECTION:
            kept.append(line)
        else:
            grouped.hidden[line.section] = grouped.hidden.get(line.section, 0) + 1
    return grouped


def _hidden(grouped: _Grouped, sections: tuple[LogSection, ...]) -> int:
    return sum(grouped.hidden.get(section, 0) for section in sections)


def _section_lines(lines: list[RejectedLine], empty_marker: str, hidden: int) -> list[str]:
    if not lines:
        return [f" {empty_marker}\n"]
    texts = [rejected_line_text(line) for line in lines]
    if hidden:
        texts.append(f" ... and {hidden} more lines\n")
    return texts
