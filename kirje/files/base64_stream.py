"""Base64 uploads decoded as a stream, so a large upload never sits decoded in memory."""

from __future__ import annotations

import binascii
import io
import shutil
import tempfile
from typing import BinaryIO

from kirje.domain.errors import Invalid

_CHUNK = 1 << 18
_WHITESPACE = b" \t\r\n"


class Base64Reader(io.RawIOBase):
    """The decoded bytes of a Base64 text stream (line breaks and spaces allowed)."""

    def __init__(self, encoded: BinaryIO) -> None:
        self._encoded = encoded
        self._pending = b""  # decoded bytes not handed out yet
        self._carry = b""  # encoded characters short of a whole group of four
        self._at_end = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        while len(self._pending) < len(view) and not self._at_end:
            self._decode_more()
        size = min(len(view), len(self._pending))
        view[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size

    def _decode_more(self) -> None:
        chunk = self._encoded.read(_CHUNK)
        if not chunk:
            self._at_end = True
            if self._carry.rstrip(b"="):
                self._pending += _decode(self._carry + b"=" * (-len(self._carry) % 4))
            return
        text = self._carry + chunk.translate(None, _WHITESPACE)
        whole = len(text) - len(text) % 4
        self._carry = text[whole:]
        self._pending += _decode(text[:whole])


def _decode(text: bytes) -> bytes:
    try:
        return binascii.a2b_base64(text, strict_mode=True)
    except binascii.Error:
        raise Invalid("the data is not valid Base64") from None


def decode_to_temporary_file(encoded: BinaryIO) -> BinaryIO:
    """The decoded bytes in an unnamed temporary file, for readers that need to seek (zip)."""
    decoded = tempfile.TemporaryFile()  # noqa: SIM115 (handed to the caller, who closes it)
    try:
        shutil.copyfileobj(Base64Reader(encoded), decoded, _CHUNK)
    except BaseException:
        decoded.close()
        raise
    decoded.seek(0)
    return decoded
