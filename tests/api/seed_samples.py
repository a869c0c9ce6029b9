"""The v1 request and response samples of seed 001, each with its method name and parameters.

The seed is a text rendering of the vendor's API docs: one operation per title line, its body
schema, then a request sample and a response sample drawn as JSON with a bullet before every
element. The seed prints no method names; shared/api/liana-mailer.md section 5 names them, one
table row per operation in the seed's order within each section, so the two are zipped here.

The parsed operations are kept in the repository as data (SNAPSHOT_PATH), so the tests run on a
checkout without the shared documents; where those are present, a test checks that the snapshot
still equals what they say. `python -m tests.api.seed_samples` rewrites the snapshot.

Collapsed containers in the rendering (`{` then `}` on the next line, or `[` / `]`) hide
their content: they are read as empty, so a sample's `{}` or `[]` may stand for something
that held data in the vendor's docs.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

# Where the project's shared documents may be: KIRJE_SHARED_DIR, beside the checkout, or where
# the project's machines keep them.
_SHARED_CANDIDATES = [
    Path(os.environ.get("KIRJE_SHARED_DIR", "")),
    Path(__file__).resolve().parents[3] / "shared",
    Path("/work/shared"),
]
SHARED_DIR = next((p for p in _SHARED_CANDIDATES if (p / "seeds").is_dir()), _SHARED_CANDIDATES[1])
SEED_PATH = SHARED_DIR / "seeds" / "001_93b3a29922b663c7.txt"
API_DOC_PATH = SHARED_DIR / "api" / "liana-mailer.md"
SNAPSHOT_PATH = Path(__file__).parent / "data" / "liana_mailer_v1_seed_samples.json"

# The v1 sections in seed order, with the number of operations each holds (api doc section 5).
V1_SECTIONS: dict[str, int] = {
    "Customers": 16,
    "Mailing": 19,
    "Mailinglists": 24,
    "Members": 51,
    "Reports": 15,
    "Sites": 7,
    "Statistics": 2,
    "System": 12,
}
# The seed's first section after v1 (v2 begins here).
_END_OF_V1 = "Deliveries"

# The one row the api doc lists out of seed order (its audit says so): the second "Get archived
# deliveries" stands next to the first in the table but comes after getMailTemplate in the seed.
_ROW_SEED_POSITION_AFTER = {'(second "Get archived deliveries")': "getMailTemplate"}

_BULLET = re.compile(r"^(\s*)\u2022 ", re.MULTILINE)
_TYPE_LINE = re.compile(r"^(string|integer|boolean|number|object|Array of \w+)( or \w+)?$")


@dataclass(frozen=True)
class Parameter:
    """One positional parameter as the api doc's table gives it (`name:type?=default`)."""

    name: str
    type: str
    is_optional: bool


@dataclass(frozen=True)
class SeedOperation:
    section: str
    title: str
    # None when the doc gives the operation no method name (the second archived-deliveries).
    method: str | None
    parameters: tuple[Parameter, ...]
    # The parameter names the seed's own body schema prints (unnamed ones left out).
    seed_parameter_names: tuple[str, ...]
    request_sample: Any  # None when the seed shows no request sample
    response_sample: Any  # the whole sample, envelope included when the seed shows one
    has_envelope: bool

    @property
    def result_sample(self) -> Any:
        """The sample's `result`; the whole sample for the one operation shown without envelope."""
        if self.has_envelope:
            return self.response_sample["result"]
        return self.response_sample


def sample_json(rendered: str) -> Any:
    """A bullet-rendered sample as a Python value: bullets dropped, collapsed containers empty."""
    return json.loads(_BULLET.sub(r"\1", rendered))


@cache
def seed_operations() -> tuple[SeedOperation, ...]:
    """Every v1 operation of seed 001, in seed order, as the snapshot keeps them."""
    records = json.loads(SNAPSHOT_PATH.read_text(encoding="utf-8"))
    return tuple(_operation(record) for record in records)


def _operation(record: dict[str, Any]) -> SeedOperation:
    fields = dict(record)
    fields["parameters"] = tuple(Parameter(**p) for p in record["parameters"])
    fields["seed_parameter_names"] = tuple(record["seed_parameter_names"])
    return SeedOperation(**fields)


def snapshot_text(operations: tuple[SeedOperation, ...]) -> str:
    return json.dumps([asdict(op) for op in operations], indent=1, ensure_ascii=False) + "\n"


def parse_seed() -> tuple[SeedOperation, ...]:
    """Every v1 operation of seed 001, in seed order, named by the api doc's section 5."""
    raw = _raw_operations(SEED_PATH.read_text(encoding="utf-8"))
    rows = _doc_rows(API_DOC_PATH.read_text(encoding="utf-8"))
    operations = []
    for section, expected in V1_SECTIONS.items():
        found = [op for op in raw if op["section"] == section]
        section_rows = _in_seed_order(rows[section])
        if not len(found) == len(section_rows) == expected:
            raise ValueError(
                f"{section}: seed has {len(found)} operations, doc {len(section_rows)} rows, "
                f"expected {expected}"
            )
        for op, (method, parameters) in zip(found, section_rows, strict=True):
            operations.append(SeedOperation(method=method, parameters=parameters, **op))
    return tuple(operations)


def by_method() -> dict[str, SeedOperation]:
    return {op.method: op for op in seed_operations() if op.method is not None}


def _raw_operations(text: str) -> list[dict[str, Any]]:
    """Split the seed's v1 part into operations: title, schema names and the two samples."""
    lines = text.splitlines()
    start = lines.index(next(iter(V1_SECTIONS)))  # the first section's heading line
    operations: list[dict[str, Any]] = []
    section = ""
    i = start
    while True:
        i = _skip_blank(lines, i)
        if lines[i] == _END_OF_V1:
            return operations
        if lines[i] in V1_SECTIONS:
            section = lines[i]
            i += 1
            continue
        title = lines[i]
        end = lines.index("Response samples", i)
        body = lines[i:end]
        request = None
        if "Request samples" in body:
            request = _sample_after(lines, i + body.index("Request samples"))[0]
        response, i = _sample_after(lines, end)
        operations.append(
            {
                "section": section,
                "title": title,
                "seed_parameter_names": _schema_names(body),
                "request_sample": request,
                "response_sample": response,
                "has_envelope": isinstance(response, dict) and "succeed" in response,
            }
        )


def _skip_blank(lines: list[str], i: int) -> int:
    while not lines[i].strip():
        i += 1
    return i


def _sample_after(lines: list[str], heading: int) -> tuple[Any, int]:
    """The JSON sample that follows a "... samples / Content type / application/json" heading,
    and the index of the line after it. A sample ends at its closing bracket in column 0."""
    i = heading + 1
    while lines[i] != "application/json":
        i += 1
    first = i + 1
    if lines[first] in ("[]", "{}"):  # printed on one line when empty
        return sample_json(lines[first]), first + 1
    closing = {"[": "]", "{": "}"}[lines[first][0]]
    last = first
    while lines[last] != closing:
        last += 1
    return sample_json("\n".join(lines[first : last + 1])), last + 1


def _schema_names(body: list[str]) -> tuple[str, ...]:
    """Parameter names printed in "Request Body schema": a name line, maybe `required`, a type."""
    if "Request Body schema: application/json" not in body:
        return ()
    names = []
    for i, line in enumerate(body):
        if not _TYPE_LINE.match(line):
            continue
        before = body[i - 1] if body[i - 1] != "required" else body[i - 2]
        if before and before not in ("required", "optional") and " " not in before:
            names.append(before)
    return tuple(names)


def _doc_rows(doc: str) -> dict[str, list[tuple[str, tuple[Parameter, ...]]]]:
    """Section 5's tables: per section, (method, parameters) in the table's order."""
    part = doc.split("## 5. v1 operations", 1)[1].split("\n## 6.", 1)[0]
    rows: dict[str, list[tuple[str, tuple[Parameter, ...]]]] = {}
    section = ""
    for line in part.splitlines():
        heading = re.match(r"^### 5\.\d+ (\w+) \(\d+\)$", line)
        if heading:
            section = heading.group(1)
            rows[section] = []
        elif line.startswith("| ") and section:
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            if cells[0] in ("method", "---") or set(cells[0]) == {"-"}:
                continue
            rows[section].append((cells[0], _parameters(cells[1], rows[section])))
    return rows


def _in_seed_order(
    rows: list[tuple[str, tuple[Parameter, ...]]],
) -> list[tuple[str | None, tuple[Parameter, ...]]]:
    """The rows in the seed's order, labels that are not method names turned into None."""
    ordered = [row for row in rows if row[0] not in _ROW_SEED_POSITION_AFTER]
    for label, after in _ROW_SEED_POSITION_AFTER.items():
        moved = [row for row in rows if row[0] == label]
        if moved:
            position = next(i for i, row in enumerate(ordered) if row[0] == after) + 1
            ordered.insert(position, (None, moved[0][1]))
    return [(name if name and re.fullmatch(r"\w+", name) else None, p) for name, p in ordered]


def _parameters(
    cell: str, earlier: list[tuple[str, tuple[Parameter, ...]]]
) -> tuple[Parameter, ...]:
    """`a:int, b:string? (note, with commas), c:bool?=false` -> parameters; `(none)` -> ();
    `same as above` / `same as <method>` -> that earlier row's parameters."""
    if cell.startswith("(none)"):
        return ()
    if cell.startswith("same as "):
        other = cell.removeprefix("same as ").strip()
        if other == "above":
            return earlier[-1][1]
        return next(parameters for name, parameters in earlier if name == other)
    top_level = _split_outside_parentheses(cell)
    parameters = []
    for item in top_level:
        match = re.match(r"^(\w+):([^?=(]+?)(\?)?(=\S+)?(\s*\(.*)?$", item.strip())
        if match:
            kind = match.group(2).strip()
            parameters.append(Parameter(match.group(1), kind, bool(match.group(3))))
    return tuple(parameters)


def _split_outside_parentheses(cell: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in cell:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return parts


if __name__ == "__main__":
    SNAPSHOT_PATH.parent.mkdir(exist_ok=True)
    SNAPSHOT_PATH.write_text(snapshot_text(parse_seed()), encoding="utf-8")
    print(f"wrote {SNAPSHOT_PATH}")
