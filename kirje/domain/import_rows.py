"""Import rows: from a file's header and raw fields to normalised ImportRows or refused lines.

Pure rules, no I/O: kirje/files reads the bytes and hands the fields here. The hot path runs once
per line of a file that may hold millions, so addresses are checked with a precompiled pattern
for the local part and one cached email-validator call per distinct domain; anything the fast
path is unsure of goes through the same normalize_email as the rest of Kirje.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter

from kirje.domain.contacts import normalize_sms, quick_normalized_email
from kirje.domain.errors import Invalid
from kirje.domain.imports import ImportRow, LogSection, RejectedLine
from kirje.domain.properties import (
    MAX_PROPERTY_VALUE_LENGTH,
    RESERVED_PROPERTY_NAMES,
    Property,
)

EMAIL_COLUMN = "email"
SMS_COLUMN = "sms"

# How much of an offending value the log shows: enough to find the line, not a whole record.
MAX_LOGGED_VALUE_LENGTH = 80

INVALID_EMAIL = "invalid email address"
INVALID_SMS = "invalid SMS number"
NO_ADDRESS = "no email or SMS"


class PropertyNames:
    """The account's property names, matched the way the contact API matches them.

    A name matches exactly, else case-insensitively on the name or the visible name (the name
    wins), because files are exported from tools that show labels, not names. The same rule as
    services/properties.resolve_property_values.
    """

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._exact: dict[str, str] = {}
        self._folded: dict[str, str] = {}
        names = []
        for name, visible_name in pairs:
            names.append(name)
            self._exact[name] = name
            self._folded.setdefault(visible_name.casefold(), name)
        for name in names:
            self._folded[name.casefold()] = name

    @classmethod
    def of(cls, known: Iterable[Property] | Iterable[str]) -> PropertyNames:
        pairs = [
            (item, item) if isinstance(item, str) else (item.name, item.visible_name)
            for item in known
        ]
        return cls(pairs)

    def resolve(self, column: str) -> str | None:
        """The property a column names, or None; reserved names never match."""
        name = self._exact.get(column) or self._folded.get(column.strip().casefold())
        if name is None or name.lower() in RESERVED_PROPERTY_NAMES:
            return None
        return name

    def __contains__(self, column: str) -> bool:
        return self.resolve(column) is not None

    @property
    def names(self) -> list[str]:
        return sorted(self._exact)


@dataclass(frozen=True)
class ImportHeader:
    """Which column holds what: the email, the SMS number, and each property."""

    width: int
    email_index: int | None
    sms_index: int | None
    properties: tuple[tuple[int, str], ...]  # (column index, property name)
    property_names: tuple[str, ...] = field(init=False, repr=False, compare=False)
    # The property cells of a record as a tuple in one C call: this runs once per line.
    property_cells: Callable[[Sequence[str]], tuple[str, ...]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        indexes = [index for index, _ in self.properties]
        if len(indexes) >= 2:
            cells = itemgetter(*indexes)
        elif indexes:
            only = indexes[0]

            def cells(fields):
                return (fields[only],)
        else:

            def cells(fields):
                return ()

        object.__setattr__(self, "property_names", tuple(name for _, name in self.properties))
        object.__setattr__(self, "property_cells", cells)


def is_address_column(column: str) -> bool:
    return column.strip().casefold() in (EMAIL_COLUMN, SMS_COLUMN)


def resolve_header(
    cells: Sequence[str], known: PropertyNames, *, source: str = "the file"
) -> ImportHeader:
    """The meaning of each column; raises Invalid before anything is imported.

    Columns with an empty name are ignored: spreadsheets and scripts often end every line with a
    trailing separator.
    """
    email_index = sms_index = None
    properties: list[tuple[int, str]] = []
    unknown: list[str] = []
    seen: dict[str, str] = {}
    for index, raw in enumerate(cells):
        column = raw.strip()
        if not column:
            continue
        folded = column.casefold()
        if folded in (EMAIL_COLUMN, SMS_COLUMN):
            target = folded
        else:
            target = known.resolve(column)
            if target is None:
                unknown.append(column)
                continue
        if target in seen:
            raise Invalid(f"{source} names {target} twice: {seen[target]!r} and {column!r}")
        seen[target] = column
        if target == EMAIL_COLUMN:
            email_index = index
        elif target == SMS_COLUMN:
            sms_index = index
        else:
            properties.append((index, target))
    shown = "; ".join(cell.strip() for cell in cells)
    if email_index is None and sms_index is None:
        raise Invalid(f"{source} has no email or sms column; its header is: {shown!r}")
    if unknown:
        known_names = ", ".join(known.names) or "none"
        raise Invalid(
            f"{source} names properties the account does not have: {', '.join(unknown)} "
            f"(its properties: {known_names})"
        )
    return ImportHeader(len(cells), email_index, sms_index, tuple(properties))


def import_sms(number: str) -> str | None:
    """normalize_sms's result (cached per distinct value there), or None when not valid."""
    try:
        return normalize_sms(number)
    except Invalid:
        return None


def shorten(value: str) -> str:
    value = value.replace("\r", " ").replace("\n", " ")
    if len(value) <= MAX_LOGGED_VALUE_LENGTH:
        return value
    return value[: MAX_LOGGED_VALUE_LENGTH - 3] + "..."


def _rejected(line: int, reason: str, value: str) -> RejectedLine:
    return RejectedLine(line, LogSection.REJECTED, reason, shorten(value))


def map_record(header: ImportHeader, fields: Sequence[str], line: int) -> ImportRow | RejectedLine:
    """One data record of a CSV file or spreadsheet as a row, or the reason it is refused.

    An empty property cell leaves the property out of the row: an import does not clear a
    stored value, as the contact API skips a null one.
    """
    if len(fields) != header.width:
        return _rejected(
            line,
            f"wrong number of fields ({len(fields)}, header has {header.width})",
            ";".join(fields),
        )
    email_text = fields[header.email_index].strip() if header.email_index is not None else ""
    sms_text = fields[header.sms_index].strip() if header.sms_index is not None else ""
    if not email_text and not sms_text:
        return RejectedLine(line, LogSection.EMPTY, NO_ADDRESS, "")
    email = sms = None
    if email_text:
        email = quick_normalized_email(email_text)
        if email is None:
            return _rejected(line, INVALID_EMAIL, email_text)
    if sms_text:
        sms = import_sms(sms_text)
        if sms is None:
            return _rejected(line, INVALID_SMS, sms_text)
    # Property cells are taken as written (a quoted cell may mean its spaces); an empty cell is
    # left out. Built with C-level calls: this is the per-line cost of a million-line import.
    cells = header.property_cells(fields)
    if not cells:
        return ImportRow(line, email, sms, {})
    properties = dict(zip(header.property_names, cells))  # noqa: B905 (same length by design)
    if "" in cells:
        properties = {name: value for name, value in properties.items() if value}
    if max(map(len, cells)) > MAX_PROPERTY_VALUE_LENGTH:
        name = next(n for n, v in properties.items() if len(v) > MAX_PROPERTY_VALUE_LENGTH)
        return _rejected(line, f"value of {name} is too long", properties[name])
    return ImportRow(line, email, sms, properties)


def _value_text(value: object) -> str | None:
    """A JSON value as property text; None when empty or not a scalar."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float | str):
        return str(value)
    return None


def map_json_item(item: object, line: int, known: PropertyNames) -> ImportRow | RejectedLine:
    """One item of a JSON import document: an email string, or an object of email, sms and
    property values, matched by key name (whatever the key order)."""
    if isinstance(item, str):
        item = {EMAIL_COLUMN: item}
    if not isinstance(item, dict):
        return _rejected(line, "item is neither an email address nor an object", repr(item))
    texts: dict[str, str] = {}
    for key, value in item.items():
        text = _value_text(value)
        if text is None:
            return _rejected(line, f"value of {key} is not a string or a number", repr(value))
        texts[key] = text
    email_text = sms_text = ""
    properties: dict[str, str] = {}
    for key, text in texts.items():
        folded = key.strip().casefold()
        if folded == EMAIL_COLUMN:
            email_text = text
            continue
        if folded == SMS_COLUMN:
            sms_text = text
            continue
        name = known.resolve(key)
        if name is None:
            return _rejected(line, "unknown property", key)
        if text:
            if len(text) > MAX_PROPERTY_VALUE_LENGTH:
                return _rejected(line, f"value of {name} is too long", text)
            properties[name] = text
    mapped = map_record(_JSON_HEADER, [email_text, sms_text], line)
    if isinstance(mapped, ImportRow) and properties:
        return ImportRow(mapped.line, mapped.email, mapped.sms, properties)
    return mapped


_JSON_HEADER = ImportHeader(width=2, email_index=0, sms_index=1, properties=())


@dataclass
class ImportBatch:
    """What one stretch of a file gave: rows to merge and lines refused, in line order."""

    rows: list[ImportRow] = field(default_factory=list)
    rejected: list[RejectedLine] = field(default_factory=list)
    # The last line of the file this batch covers: a resumed import starts after it.
    last_line: int = 0
    # Lines read from the start of the file so far (the header included): the log's line count.
    lines_read: int = 0
    # True on the last batch of the file (which may hold nothing).
    is_last: bool = False


def split_by_domain(
    rows: list[ImportRow], allowed: frozenset[str]
) -> tuple[list[ImportRow], list[RejectedLine]]:
    """Rows whose email domain the account allows, and the others as domain-rejected lines
    (every domain is allowed while the allowed_domains marketing setting is empty)."""
    if not allowed:
        return rows, []
    kept, outside = [], []
    for row in rows:
        domain = row.email.rpartition("@")[2] if row.email else None
        if domain is None or domain in allowed:
            kept.append(row)
        else:
            outside.append(
                RejectedLine(row.line, LogSection.DOMAIN_REJECTED, "domain not allowed", row.email)
            )
    return kept, outside
