"""v3 query strings as LianaMailer's clients write them: PHP http_build_query (colons as %3A,
`properties[0]=a&properties[1]=b`, booleans as 1/0), Europe/Helsinki local date-times."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from urllib.parse import parse_qsl

from kirje.api.liana_mailer.local_times import parse_local_time
from kirje.api.liana_mailer.views import HELSINKI
from kirje.domain.errors import Invalid

# More fields than any v3 resource reads: a longer query is not a client's.
MAX_FIELDS = 200

_ARRAY_KEY = re.compile(r"(?P<name>[^\[\]]+)\[(?P<index>[^\[\]]*)\]")
# A date-time whose offset lost its "+" to form decoding ("12:00:00 02:00"): an offset sent
# unencoded, as people type URLs by hand.
_SPACED_OFFSET = re.compile(
    r"(?P<moment>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (?P<offset>\d{2}:?\d{2})"
)
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


class QueryParameters:
    """The parameters of one v3 request: scalars by name, and PHP-style arrays
    (`name[]=`, `name[n]=`) by their base name. An empty value counts as absent, as
    http_build_query writes `name=` for an empty string."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._scalars: dict[str, list[str]] = {}
        self._arrays: dict[str, dict[str, str]] = {}
        for key, value in pairs:
            array_key = _ARRAY_KEY.fullmatch(key)
            if array_key is None:
                self._scalars.setdefault(key, []).append(value)
                continue
            items = self._arrays.setdefault(array_key["name"], {})
            # PHP semantics: `name[]` takes the next index; a repeated index keeps the last value.
            index = array_key["index"] or str(len(items))
            items[index] = value

    @classmethod
    def parse(cls, raw: bytes) -> QueryParameters:
        try:
            pairs = parse_qsl(
                raw.decode("ascii"),
                keep_blank_values=True,
                strict_parsing=False,
                errors="strict",
                max_num_fields=MAX_FIELDS,
            )
        except (UnicodeDecodeError, ValueError):
            raise Invalid("the query string is not valid percent-encoded UTF-8") from None
        return cls(pairs)

    def allow_only(self, names: Iterable[str]) -> None:
        """Refuses a parameter the resource does not know: a misspelt filter ignored would
        widen what the caller gets without telling them."""
        unknown = sorted((set(self._scalars) | set(self._arrays)) - set(names))
        if unknown:
            raise Invalid(f"unknown parameters: {', '.join(unknown)}")

    def text(self, name: str) -> str | None:
        if name in self._arrays:
            raise Invalid(f"{name}: give one value, not an array")
        values = self._scalars.get(name, [])
        if len(values) > 1:
            raise Invalid(f"{name}: give one value, not {len(values)}")
        value = values[0].strip() if values else ""
        return value or None

    def integer(self, name: str, *, default: int) -> int:
        text = self.text(name)
        if text is None:
            return default
        try:
            return int(text)
        except ValueError:
            raise Invalid(f"{name}: {text!r} is not an integer") from None

    def boolean(self, name: str) -> bool:
        text = (self.text(name) or "").lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise Invalid(f"{name}: {text!r} is not a boolean (true/false, 1/0)")

    def names(self, name: str) -> tuple[str, ...]:
        """A list of names: `name[0]=a&name[1]=b`, `name[]=a`, or `name=a,b`; each once."""
        given = list(self._arrays.get(name, {}).values())
        given += [part for value in self._scalars.get(name, []) for part in value.split(",")]
        return tuple(dict.fromkeys(value.strip() for value in given if value.strip()))

    def helsinki_time(self, name: str) -> datetime | None:
        """A date-time in UTC. Without an offset it is Europe/Helsinki local time, as the seed
        says; an explicit offset (or Z) is honoured."""
        text = self.text(name)
        if text is None:
            return None
        spaced = _SPACED_OFFSET.fullmatch(text)
        if spaced is not None:
            text = f"{spaced['moment']}+{spaced['offset']}"
        return parse_local_time(text, name).astimezone(UTC)


def helsinki_text(moment: datetime) -> str:
    """A stored UTC moment as LianaMailer writes times: Helsinki time with its offset."""
    return moment.astimezone(HELSINKI).isoformat(timespec="seconds")


def sort_order(text: str | None, fields: Iterable[str], *, default: str) -> tuple[str, bool]:
    """(field, is_descending) of a `sort` value: `field`, `+field` or `-field`."""
    value = text or default
    is_descending = value.startswith("-")
    field = value.lstrip("+-").strip()
    allowed = list(fields)
    if field not in allowed:
        raise Invalid(f"sort: {value!r} is not one of {', '.join(allowed)} (with - or +)")
    return field, is_descending
