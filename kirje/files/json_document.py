"""JSON import documents: a list of items read one at a time from a text stream."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TextIO

from kirje.domain.errors import Invalid
from kirje.files.records import Record

_CHUNK = 1 << 16
# No recipient is this large: past it the document is broken, not an item still arriving.
MAX_ITEM_SIZE = 16 << 20
_WHITESPACE = " \t\r\n"


class JsonItems:
    """The items of a top-level JSON list, decoded one by one without loading the document.

    Item N is line N: a JSON document has no header line.

    The standard decoder parses a whole value from a string; the list's brackets and commas are
    read here, each item is handed to it once the buffer holds all of it.
    """

    def __init__(self, text: TextIO) -> None:
        self._text = text
        self._buffer = ""
        self._position = 0
        self._at_end = False
        self.items_read = 0
        self._decoder = json.JSONDecoder()
        if self._next_significant() is None:
            raise Invalid("the file is empty")
        if self._buffer[self._position] != "[":
            raise Invalid("the JSON document must be a list of email addresses or objects")
        self._position += 1

    def _fill(self) -> bool:
        """Reads more text, dropping what has been consumed; False at the end of the stream."""
        if self._at_end:
            return False
        chunk = self._text.read(_CHUNK)
        if not chunk:
            self._at_end = True
            return False
        self._buffer = self._buffer[self._position :] + chunk
        self._position = 0
        return True

    def _next_significant(self) -> str | None:
        while True:
            while (
                self._position < len(self._buffer) and self._buffer[self._position] in _WHITESPACE
            ):
                self._position += 1
            if self._position < len(self._buffer):
                return self._buffer[self._position]
            if not self._fill():
                return None

    @property
    def lines_read(self) -> int:
        return self.items_read

    def __iter__(self) -> Iterator[Record]:
        expect_item = True
        first = True
        while True:
            char = self._next_significant()
            if char is None:
                raise Invalid("the JSON document ends before its list is closed")
            if char == "]" and (first or not expect_item):
                self._position += 1
                self._check_rest_is_empty()
                return
            if not expect_item:
                if char != ",":
                    raise self._syntax_error("expected , or ]")
                self._position += 1
                expect_item = True
                continue
            item = self._decode_item()
            self.items_read += 1
            yield self.items_read, self.items_read, item
            expect_item = first = False

    def _decode_item(self) -> object:
        while True:
            try:
                item, end = self._decoder.raw_decode(self._buffer, self._position)
            except json.JSONDecodeError as error:
                if self._grow():
                    continue
                raise self._syntax_error(error.msg) from None
            # A number at the end of the buffer may go on in the next chunk.
            if end == len(self._buffer) and self._grow():
                continue
            self._position = end
            return item

    def _grow(self) -> bool:
        if len(self._buffer) - self._position > MAX_ITEM_SIZE:
            raise Invalid(f"item {self.items_read + 1} of the JSON document is too large")
        return self._fill()

    def _check_rest_is_empty(self) -> None:
        if self._next_significant() is not None:
            raise self._syntax_error("text after the end of the list")

    def _syntax_error(self, message: str) -> Invalid:
        return Invalid(f"the JSON document is not valid after item {self.items_read}: {message}")
