"""Text encodings of uploaded files: detecting them from the first bytes, decoding as a stream.

No statistical detector (chardet and the like): the encodings imports meet are a closed set.
UTF-16 announces itself by its BOM or by the NUL bytes of its ASCII characters, UTF-8 by being
valid, and what is left comes from Excel and older tools on Windows in Western Europe, which write
Windows-1252. A detector would read far more of the file, run slower, and on short files guess
among dozens of code pages that imports never see.
"""

from __future__ import annotations

import codecs
import io

# Enough to judge the encoding on; a multi-byte character cut at the end is allowed for.
SAMPLE_SIZE = 1 << 20

UTF8 = "utf-8"
UTF8_BOM = "utf-8-sig"
UTF16 = "utf-16"  # with a BOM, which the codec reads and drops
UTF16_LE = "utf-16-le"
UTF16_BE = "utf-16-be"
WINDOWS_1252 = "cp1252"

# A file that looked like UTF-8 in its first megabyte may still hold a Windows-1252 byte further
# on (one hand-edited line in an export): such a byte is read as Windows-1252 instead of failing
# the import or turning into U+FFFD.
UTF8_FALLING_BACK = "kirje-utf8-or-cp1252"


def _windows_1252_fallback(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeDecodeError):
        raise error
    bad = error.object[error.start : error.end]
    return bad.decode(WINDOWS_1252, errors="replace"), error.end


codecs.register_error(UTF8_FALLING_BACK, _windows_1252_fallback)


def detect_encoding(sample: bytes, *, is_whole_file: bool = False) -> str:
    """The codec name for a file that starts with `sample`."""
    if sample.startswith(codecs.BOM_UTF8):
        return UTF8_BOM
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return UTF16
    nul_pattern = _utf16_without_bom(sample)
    if nul_pattern:
        return nul_pattern
    if _is_utf8(sample, is_whole_file=is_whole_file):
        return UTF8
    return WINDOWS_1252


def _utf16_without_bom(sample: bytes) -> str | None:
    """UTF-16 text of mostly Latin characters has a NUL in every other byte; other text has none."""
    pairs = len(sample[:4096]) // 2
    if pairs < 2:
        return None
    head = sample[: pairs * 2]
    nul_even = head[0::2].count(0)
    nul_odd = head[1::2].count(0)
    if nul_odd >= pairs * 0.3 and nul_even <= pairs * 0.05:
        return UTF16_LE
    if nul_even >= pairs * 0.3 and nul_odd <= pairs * 0.05:
        return UTF16_BE
    return None


def _is_utf8(sample: bytes, *, is_whole_file: bool) -> bool:
    decoder = codecs.getincrementaldecoder(UTF8)()
    try:
        # final=False lets a character cut at the end of the sample pass.
        decoder.decode(sample, final=is_whole_file)
    except UnicodeDecodeError:
        return False
    return True


def open_text(raw: io.RawIOBase) -> io.TextIOWrapper:
    """The raw stream as text in its detected encoding, decoded incrementally as it is read.

    Lines come back with their endings untranslated (newline=""), as the csv module wants.
    """
    buffered = io.BufferedReader(raw, buffer_size=SAMPLE_SIZE)
    # One read of the raw stream fills the buffer: files and the Base64 reader give what is asked.
    sample = buffered.peek(SAMPLE_SIZE)[:SAMPLE_SIZE]
    encoding = detect_encoding(sample, is_whole_file=len(sample) < SAMPLE_SIZE)
    errors = UTF8_FALLING_BACK if encoding == UTF8 else "replace"
    return io.TextIOWrapper(buffered, encoding=encoding, errors=errors, newline="")
