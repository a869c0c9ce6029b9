"""Building outgoing messages: what a mail reader parses back is exactly what was given."""

from __future__ import annotations

import re
import string
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from email import message_from_bytes, message_from_string, policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from itertools import takewhile

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kirje.mail.mime import OutgoingMessage, TemplatedText, build_message

SENT_AT = datetime(2026, 5, 4, 9, 30, 15, tzinfo=UTC)
MESSAGE = OutgoingMessage(
    from_address="uutiset@example.fi",
    from_name="Esimerkki Oy",
    to_address="matti@esimerkki.fi",
    to_name="Matti Meikäläinen",
    subject="Kevään uutiset",
    html="<p>Hei Matti!</p>\n",
    text="Hei Matti!\n",
    message_id="1.42@example.fi",
    return_path="b-42@bounce.example.fi",
    date=SENT_AT,
)


def parse(raw: bytes) -> EmailMessage:
    parsed = message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def body_of(parsed: EmailMessage, subtype: str) -> str:
    part = parsed.get_body((subtype,))
    assert part is not None
    return part.get_content()


def crlf(text: str) -> str:
    """Text as MIME carries it: every line break a CRLF."""
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")


def shown_name(name: str | None) -> str:
    """A display name as readers show it: each run of whitespace as one space."""
    return re.sub(r"\s+", " ", name or "")


def field_lines(raw: bytes, name: bytes) -> list[bytes]:
    """The lines of one header field as written: its first line and its folded ones."""
    lines = raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    start = next(i for i, line in enumerate(lines) if line.startswith(name + b":"))
    rest = lines[start + 1 :]
    return [lines[start], *takewhile(lambda line: line[:1] in (b" ", b"\t"), rest)]


def test_the_standard_headers_are_written() -> None:
    message = replace(
        MESSAGE,
        reply_to="tuki@example.fi",
        list_unsubscribe_url="https://example.fi/u/abc123",
        list_unsubscribe_mailto="u-42@bounce.example.fi",
        feedback_id="c7:a3:kirje",
        message_id="<1.42@example.fi>",
    )
    raw = build_message(message)
    assert raw.startswith(b"Date: Mon, 04 May 2026 09:30:15 +0000\r\n")
    assert b"\r\nFrom: Esimerkki Oy <uutiset@example.fi>\r\n" in raw
    parsed = parse(raw)
    assert parsedate_to_datetime(parsed["Date"]) == SENT_AT
    assert parsed["To"].addresses[0].display_name == "Matti Meikäläinen"
    assert parsed["Reply-To"].addresses[0].addr_spec == "tuki@example.fi"
    assert parsed["Subject"] == "Kevään uutiset"
    assert parsed["Message-ID"] == "<1.42@example.fi>"
    assert parsed["MIME-Version"] == "1.0"
    assert parsed["List-Unsubscribe"] == (
        "<https://example.fi/u/abc123>, <mailto:u-42@bounce.example.fi>"
    )
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed["Feedback-ID"] == "c7:a3:kirje"
    assert parsed.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in parsed.iter_parts()] == [
        "text/plain",
        "text/html",
    ]
    assert parsed.defects == []


def test_the_envelope_sender_is_not_written_as_a_return_path_header() -> None:
    raw = build_message(MESSAGE)
    assert b"return-path" not in raw.lower()
    assert b"bounce.example.fi" not in raw


def test_one_click_post_needs_an_https_target() -> None:
    only_mailto = parse(build_message(replace(MESSAGE, list_unsubscribe_mailto="mailto:u@b.fi")))
    assert only_mailto["List-Unsubscribe"] == "<mailto:u@b.fi>"
    assert only_mailto["List-Unsubscribe-Post"] is None
    with pytest.raises(ValueError, match="HTTPS"):
        build_message(replace(MESSAGE, list_unsubscribe_url="http://example.fi/u/1"))


def test_no_unsubscribe_or_feedback_headers_unless_given() -> None:
    parsed = parse(build_message(MESSAGE))
    assert parsed["List-Unsubscribe"] is None
    assert parsed["Feedback-ID"] is None
    assert parsed["Reply-To"] is None


def test_a_long_unsubscribe_header_folds_between_its_targets() -> None:
    url = "https://example.fi/unsubscribe/" + "t" * 60
    raw = build_message(
        replace(MESSAGE, list_unsubscribe_url=url, list_unsubscribe_mailto="u@b.fi")
    )
    assert f"List-Unsubscribe: <{url}>,\r\n <mailto:u@b.fi>\r\n".encode() in raw
    assert parse(raw)["List-Unsubscribe"] == f"<{url}>, <mailto:u@b.fi>"


@pytest.mark.parametrize(
    "change",
    [
        {"subject": "Hello\r\nBcc: victim@example.com"},
        {"subject": "Hello\nBcc: victim@example.com"},
        {"subject": "Hello\rthere"},
        {"from_name": "Shop\r\nBcc: victim@example.com"},
        {"to_name": "Matti\n"},
        {"to_address": "matti@esimerkki.fi\r\nBcc: victim@example.com"},
        {"from_address": "uutiset@example.fi\n"},
        {"reply_to": "tuki@example.fi\r\nX: y"},
        {"return_path": "b@bounce.example.fi\r\nRCPT TO:<x@y.z>"},
        {"message_id": "1@example.fi\r\nBcc: victim@example.com"},
        {"list_unsubscribe_url": "https://example.fi/u\r\nBcc: victim@example.com"},
        {"list_unsubscribe_mailto": "u@b.fi\nBcc: victim@example.com"},
        {"feedback_id": "a:b\r\nBcc: victim@example.com"},
        {"headers": [("X-Campaign", "spring\r\nBcc: victim@example.com")]},
        {"headers": [("X-Campaign\r\nBcc", "victim@example.com")]},
    ],
)
def test_a_line_break_in_any_header_value_is_refused(change: dict) -> None:
    with pytest.raises(ValueError):
        build_message(replace(MESSAGE, **change))


@pytest.mark.parametrize("name", ["From", "subject", "Return-Path", "DKIM-Signature", "Bcc"])
def test_extra_headers_cannot_repeat_the_ones_built_in(name: str) -> None:
    with pytest.raises(ValueError, match="written by build_message"):
        build_message(replace(MESSAGE, headers=[(name, "x")]))


def test_extra_headers_are_written_and_encoded_when_not_ascii() -> None:
    message = replace(MESSAGE, headers=[("X-Campaign", "kevät 2026"), ("X-Mailer", "Kirje")])
    parsed = parse(build_message(message))
    assert parsed["X-Campaign"] == "kevät 2026"
    assert parsed["X-Mailer"] == "Kirje"


def test_a_date_without_a_time_zone_is_refused_and_others_are_kept() -> None:
    with pytest.raises(ValueError, match="time zone"):
        build_message(replace(MESSAGE, date=datetime(2026, 5, 4, 9, 30)))
    helsinki = SENT_AT.astimezone(timezone(timedelta(hours=3)))
    parsed = parse(build_message(replace(MESSAGE, date=helsinki)))
    assert parsed["Date"].endswith("+0300")
    assert parsedate_to_datetime(parsed["Date"]) == SENT_AT


def test_without_a_date_the_time_of_building_is_written() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    parsed = parse(build_message(replace(MESSAGE, date=None)))
    assert before <= parsedate_to_datetime(parsed["Date"]) <= datetime.now(UTC)


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("Plain ASCII,\nshort lines.\n", "7bit"),
        ("<p>" + "x " * 800 + "</p>", "quoted-printable"),
        ("a NUL \0 is not 7bit", "quoted-printable"),
        ("Hyvää kevättä!\n", "base64"),
    ],
)
def test_each_part_gets_the_cheapest_safe_transfer_encoding(text: str, encoding: str) -> None:
    parsed = parse(build_message(replace(MESSAGE, text=text, html=text)))
    for subtype in ("plain", "html"):
        part = parsed.get_body((subtype,))
        assert part is not None
        assert part["Content-Transfer-Encoding"] == encoding
        assert part.get_content_charset() == "utf-8"
        assert part.get_content() == crlf(text)


def test_an_international_domain_is_written_in_ascii() -> None:
    parsed = parse(build_message(replace(MESSAGE, to_address="pekka@bücher.example")))
    assert parsed["To"].addresses[0].addr_spec == "pekka@xn--bcher-kva.example"
    assert not replace(MESSAGE, to_address="pekka@bücher.example").needs_smtputf8


def test_a_non_ascii_local_part_is_written_in_utf8_and_needs_smtputf8() -> None:
    message = replace(MESSAGE, to_address="jörg@example.de")
    assert message.needs_smtputf8
    assert not MESSAGE.needs_smtputf8
    raw = build_message(message)
    assert "<jörg@example.de>".encode() in raw
    # RFC 6532 headers are UTF-8 text, which the email package reads from a str, not from bytes.
    parsed = message_from_string(raw.decode(), policy=policy.default)
    assert parsed["To"].addresses[0].addr_spec == "jörg@example.de"


@pytest.mark.parametrize(
    "address",
    ["no-at-sign", "two@@example.fi", "a b@example.fi", "<x@y.fi>", "a@b.fi, c@d.fi", "n\0@b.fi"],
)
def test_an_address_that_cannot_be_written_safely_is_refused(address: str) -> None:
    with pytest.raises(ValueError, match="address"):
        build_message(replace(MESSAGE, to_address=address))


def test_a_display_name_too_long_for_one_line_is_refused() -> None:
    with pytest.raises(ValueError, match="display name"):
        build_message(replace(MESSAGE, from_name="ä" * 400))


def test_subject_lines_are_folded_under_78_characters() -> None:
    for subject in ("word " * 40, "sana äänestä " * 20, "x" * 300):
        raw = build_message(replace(MESSAGE, subject=subject.strip()))
        folded = field_lines(raw, b"Subject")
        assert len(folded) > 1
        assert all(len(line) <= 78 for line in folded)
        assert parse(raw)["Subject"] == subject.strip()


ATEXT = string.ascii_letters + string.digits + "!#$%&'*+/=?^_`{|}~-"
# The email package's address parser fails on a local part holding "=?" (an IndexError).
LOCAL_PART = st.text(ATEXT, min_size=1, max_size=20).filter(lambda local: "=?" not in local)
DOMAIN = st.lists(
    st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=10), min_size=2, max_size=3
).map(".".join)
ADDRESS = st.builds(lambda local, domain: f"{local}@{domain}", LOCAL_PART, DOMAIN)
# Any text at all; line breaks in header values are refused, so these leave CR and LF out.
ONE_LINE = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"))
NAME = st.one_of(ONE_LINE.filter(lambda name: len(name) <= 60), st.sampled_from(["", "A", " "]))
BODY = st.one_of(
    st.text(),
    st.text(alphabet=" \t\r\nab=.ä", max_size=300),
    st.text(alphabet=st.sampled_from("ab =\t-.ä"), min_size=900, max_size=3000),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    subject=ONE_LINE,
    from_name=NAME,
    to_name=st.one_of(st.none(), NAME),
    from_address=ADDRESS,
    to_address=ADDRESS,
    text=BODY,
    html=BODY,
)
@example(
    subject=" leading, trailing and  double  spaces ",
    from_name='Quote " and \\ backslash',
    to_name="=?utf-8?q?looks_encoded?=",
    from_address="a@b.fi",
    to_address="c@d.fi",
    text="",
    html="trailing space \nand tab\t\r\n.\r\nFrom here\r\n\r\n",
)
def test_any_message_parses_back_to_what_was_given(
    subject: str,
    from_name: str,
    to_name: str | None,
    from_address: str,
    to_address: str,
    text: str,
    html: str,
) -> None:
    message = replace(
        MESSAGE,
        subject=subject,
        from_name=from_name,
        to_name=to_name,
        from_address=from_address,
        to_address=to_address,
        text=text,
        html=html,
    )
    raw = build_message(message)

    assert raw.count(b"\n") == raw.count(b"\r\n") == raw.count(b"\r"), "CRLF line endings only"
    assert raw.isascii()
    assert max(map(len, raw.split(b"\r\n"))) <= 998
    parsed = parse(raw)
    assert parsed["Subject"] == subject
    sender = parsed["From"].addresses[0]
    assert (sender.display_name, sender.addr_spec) == (shown_name(from_name), from_address)
    recipient = parsed["To"].addresses[0]
    assert (recipient.display_name, recipient.addr_spec) == (shown_name(to_name), to_address)
    assert body_of(parsed, "plain") == crlf(text)
    assert body_of(parsed, "html") == crlf(html)
    assert parsed.defects == []
    assert all(len(line) <= 78 for line in field_lines(raw, b"Subject"))
    for part in parsed.iter_parts():
        if part["Content-Transfer-Encoding"] != "7bit":
            assert all(len(line) <= 76 for line in part.get_payload().split("\r\n"))


# Pieces of a template or of a value: the characters quoted-printable treats specially, line
# breaks of every kind, lines too long for 7bit, now and then a non-ASCII character.
PIECE = st.one_of(
    st.text(st.sampled_from(list("ab .=\t\n\r<>_-\0")), max_size=120),
    st.text(st.sampled_from(list("ab é")), max_size=20),
    st.integers(990, 1100).map(lambda length: "y" * length),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    template=st.lists(st.one_of(st.none(), PIECE), max_size=10),
    values=st.lists(PIECE, min_size=10, max_size=10),
)
@example(template=["<p>" + "x " * 600, None, " </p>"], values=["trailing space ", *[""] * 9])
@example(template=[None, "y" * 1051, None], values=["", "", "<", *[""] * 7])
@example(template=[None, "y" * 1049 + "=", None], values=["", "", "<", *[""] * 7])
@example(template=[None, "y" * 1050 + "=", None], values=["", "", "<", *[""] * 7])
def test_a_filled_template_is_encoded_as_its_whole_text_would_read(
    template: list[str | None], values: list[str]
) -> None:
    literals = tuple("" if part is None else part for part in template)
    pieces = tuple(values[i] if part is None else part for i, part in enumerate(template))
    whole = "".join(pieces)

    raw = build_message(replace(MESSAGE, html=TemplatedText(literals, pieces)))

    assert raw.count(b"\n") == raw.count(b"\r\n") == raw.count(b"\r"), "CRLF line endings only"
    html = parse(raw).get_body(("html",))
    assert html is not None and html.get_content() == crlf(whole)
    as_text = parse(build_message(replace(MESSAGE, html=whole))).get_body(("html",))
    assert as_text is not None
    assert html["Content-Transfer-Encoding"] == as_text["Content-Transfer-Encoding"]
    if html["Content-Transfer-Encoding"] != "7bit":
        # No longer than b2a_qp makes them for the whole text: 76, but 77 where it encodes a
        # trailing space right at a soft line break.
        assert longest_line(html) <= max(76, longest_line(as_text))


def longest_line(part: EmailMessage) -> int:
    return max(map(len, part.get_payload().split("\r\n")))
