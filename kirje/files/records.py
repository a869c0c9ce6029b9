"""The unit every import file reader yields: one record with the lines it spans."""

from __future__ import annotations

from typing import Any

# (first line, last line, payload). The first line is where a user looks for the record, the
# last is later when a quoted field holds line breaks; the payload is the cells of a CSV line or
# sheet row, the item of a JSON document, or a RejectedLine when the line cannot be read at all.
# A plain tuple, not a class: one is made per line of a file that may hold millions.
Record = tuple[int, int, Any]
