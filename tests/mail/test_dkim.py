"""DKIM signing: what Kirje signs with `cryptography`, dkimpy (an independent verifier) accepts."""

from __future__ import annotations

import base64
import re
from dataclasses import replace
from datetime import UTC, datetime

import dkim as dkimpy
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kirje.mail.dkim import DkimKey, generate_key, relaxed_body, relaxed_header, sign
from kirje.mail.mime import OutgoingMessage, build_message

SELECTOR_NAME = b"kirje2026._domainkey.example.fi."
MESSAGE = OutgoingMessage(
    from_address="uutiset@example.fi",
    from_name="Esimerkki Oy",
    to_address="matti@esimerkki.fi",
    to_name="Matti Meikäläinen",
    reply_to="tuki@example.fi",
    subject="Kevään uutiset",
    html="<p>Hei Matti!</p>\n",
    text="Hei Matti!\n",
    message_id="1.42@example.fi",
    return_path="b-42@bounce.example.fi",
    list_unsubscribe_url="https://example.fi/u/abc123",
    list_unsubscribe_mailto="u-42@bounce.example.fi",
    feedback_id="c7:a3:kirje",
    headers=[("X-Campaign", "spring")],
    date=datetime(2026, 5, 4, 9, 30, tzinfo=UTC),
)


@pytest.fixture(scope="module")
def generated() -> tuple[str, str]:
    return generate_key(2048)


@pytest.fixture(scope="module")
def key(generated: tuple[str, str]) -> DkimKey:
    return DkimKey("example.fi", "kirje2026", generated[0])


@pytest.fixture(scope="module")
def verify(generated: tuple[str, str]):
    """dkimpy's verdict, with the TXT record published for our selector and nothing else."""
    record = generated[1].encode("ascii")

    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        return record if name == SELECTOR_NAME else None

    return lambda message: dkimpy.verify(message, dnsfunc=lookup)


def signature_tags(signed: bytes) -> dict[str, str]:
    header = signed.split(b"\r\n", 1)[0]
    folded = re.match(rb"DKIM-Signature:((?:.*?)(?:\r\n[ \t].*?)*)\r\n(?![ \t])", signed)
    assert header.startswith(b"DKIM-Signature:") and folded
    value = re.sub(r"\s+", "", folded.group(1).decode("ascii"))
    return dict(tag.split("=", 1) for tag in value.split(";") if tag)


def test_relaxed_canonicalisation_matches_the_rfc_6376_example() -> None:
    # RFC 6376 section 3.4.5.
    assert relaxed_header(b"A", b" X") == b"a:X\r\n"
    assert relaxed_header(b"B ", b" Y\t\r\n\tZ  ") == b"b:Y Z\r\n"
    assert relaxed_body(b" C \r\nD \t E\r\n\r\n\r\n") == b" C\r\nD E\r\n"


@pytest.mark.parametrize(
    ("body", "canonical"),
    [
        (b"", b""),
        (b"\r\n", b""),
        (b"\r\n\r\n", b""),
        (b"  \r\n\t\r\n", b""),
        (b"abc", b"abc\r\n"),
        (b"a  b\t\tc \t\r\n\r\n", b"a b c\r\n"),
        (b"\r\nx\r\n", b"\r\nx\r\n"),
    ],
)
def test_relaxed_body_edges(body: bytes, canonical: bytes) -> None:
    assert relaxed_body(body) == canonical


def test_a_built_message_verifies_and_says_what_it_signs(key: DkimKey, verify) -> None:
    signed = sign(build_message(MESSAGE), key, timestamp=1_777_777_777)

    assert verify(signed)
    tags = signature_tags(signed)
    assert tags["v"] == "1"
    assert tags["a"] == "rsa-sha256"
    assert tags["c"] == "relaxed/relaxed"
    assert (tags["d"], tags["s"], tags["t"]) == ("example.fi", "kirje2026", "1777777777")
    signed_names = tags["h"].split(":")
    assert signed_names.count("from") == 2, "From is oversigned"
    for name in ("to", "subject", "date", "message-id", "reply-to", "mime-version"):
        assert name in signed_names
    for name in ("content-type", "list-unsubscribe", "list-unsubscribe-post", "feedback-id"):
        assert name in signed_names
    assert "x-campaign" not in signed_names
    assert all(len(line) <= 78 for line in signed.split(b"\r\n\r\n")[0].split(b"\r\n")[:8])


@pytest.mark.parametrize(
    ("change", "still_valid"),
    [
        (lambda m: re.sub(rb"Subject: [^\r]*", b"Subject: Other news", m), False),
        (lambda m: m.replace(b"From: ", b"From: Someone <x@evil.example>, "), False),
        (lambda m: b"From: Evil <ceo@evil.example>\r\n" + m, False),
        (lambda m: b"Subject: Act now\r\n" + m, False),
        (lambda m: b"Reply-To: thief@evil.example\r\n" + m, False),
        (lambda m: b"Cc: other@example.com\r\n" + m, False),
        (lambda m: m.replace(b"https://example.fi/u/abc123", b"https://evil.example/u"), False),
        (
            lambda m: (
                m[: m.rindex(b"--=_kirje")] + b"PS. one more line\r\n" + m[m.rindex(b"--=_") :]
            ),
            False,
        ),
        (lambda m: b"Received: from mx.example.net by mx.example.com\r\n" + m, True),
        (lambda m: m.replace(b"X-Campaign: spring", b"X-Campaign: autumn"), True),
        (lambda m: m.replace(b"Subject: ", b"Subject: \t  "), True),
        (lambda m: m.replace(b"\r\n\r\n", b"\r\nX-Spam-Score: 0.1\r\n\r\n", 1), True),
        (lambda m: m + b"\r\n\r\n", True),
    ],
    ids=[
        "subject",
        "from-list",
        "second-from",
        "second-subject",
        "added-reply-to",
        "added-cc",
        "unsubscribe-url",
        "body",
        "received-added",
        "unsigned-header-changed",
        "whitespace-in-signed-header",
        "unsigned-header-added",
        "empty-lines-after-body",
    ],
)
def test_changes_after_signing(key: DkimKey, verify, change, still_valid: bool) -> None:
    signed = sign(build_message(MESSAGE), key)
    changed = change(signed)
    assert changed != signed
    assert verify(signed)
    assert verify(changed) is still_valid


def test_a_header_that_occurs_twice_is_signed_twice_from_the_bottom(key: DkimKey, verify) -> None:
    raw = b"From: a@example.fi\r\nTo: b@example.fi\r\nTo: c@example.fi\r\n\r\nHello\r\n"
    signed = sign(raw, key)
    assert signature_tags(signed)["h"].split(":").count("to") == 3
    assert verify(signed)
    assert not verify(signed.replace(b"To: c@example.fi\r\n", b""))
    assert not verify(
        signed.replace(
            b"To: b@example.fi\r\nTo: c@example.fi", b"To: c@example.fi\r\nTo: b@example.fi"
        )
    )


def test_a_message_without_a_final_line_break_gets_one(key: DkimKey, verify) -> None:
    signed = sign(b"From: a@example.fi\r\nSubject: x\r\n\r\nno line break, trailing space ", key)
    assert signed.endswith(b"trailing space \r\n")
    assert verify(signed)


def test_what_cannot_be_signed_is_refused(key: DkimKey) -> None:
    with pytest.raises(ValueError, match="From"):
        sign(b"To: b@example.fi\r\n\r\nHello\r\n", key)
    with pytest.raises(ValueError, match="bare CR or LF"):
        sign(b"From: a@example.fi\nBcc: x@y.z\r\n\r\nHello\r\n", key)
    with pytest.raises(ValueError, match="not a header field"):
        sign(b"From: a@example.fi\r\nthis is no header\r\n\r\nHello\r\n", key)


def test_the_generated_txt_record_publishes_the_public_key(generated: tuple[str, str]) -> None:
    pem, record = generated
    key = DkimKey("example.fi", "kirje2026", pem)
    assert key.dns_name == "kirje2026._domainkey.example.fi"
    assert key.dns_txt_record == record
    assert record.startswith("v=DKIM1; k=rsa; p=")
    public = serialization.load_der_public_key(base64.b64decode(record.split("p=", 1)[1]))
    private = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(public, rsa.RSAPublicKey) and isinstance(private, rsa.RSAPrivateKey)
    assert public.public_numbers() == private.public_key().public_numbers()
    assert public.key_size == 2048


def test_unusable_keys_and_names_are_refused(generated: tuple[str, str]) -> None:
    pem = generated[0]
    with pytest.raises(ValueError, match="at least 1024"):
        generate_key(512)
    ed_pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(ValueError, match="RSA"):
        DkimKey("example.fi", "s1", ed_pem)
    for domain, selector in (("exa mple.fi", "s1"), ("example.fi", "s1;x=y"), ("bücher.de", "s")):
        with pytest.raises(ValueError, match="DNS labels"):
            DkimKey(domain, selector, pem)


ONE_LINE = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"))
BODY = st.one_of(
    st.text(max_size=400),
    st.text(alphabet=" \t\r\nab=.ä", max_size=300),
    st.text(alphabet=st.sampled_from("ab \t-.ä"), min_size=900, max_size=3000),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(subject=ONE_LINE, name=ONE_LINE.filter(lambda name: len(name) <= 60), text=BODY, html=BODY)
def test_any_built_message_verifies(key: DkimKey, verify, subject, name, text, html) -> None:
    message = replace(MESSAGE, subject=subject, from_name=name, text=text, html=html)
    assert verify(sign(build_message(message), key))


# Raw messages: folded headers with stray whitespace, and bodies that relaxed canonicalisation
# has to change (runs of blanks, trailing blanks, empty lines at the end, long lines, no body).
HEADER_VALUE = st.lists(
    st.text(alphabet="abcXYZ09 \t;:=", min_size=1, max_size=40), min_size=1, max_size=3
).map(lambda pieces: "\r\n\t".join(pieces).encode())
RAW_LINE = st.text(alphabet="ab \t.=ä", max_size=200).map(str.encode)
RAW_BODY = st.one_of(
    st.just(b""),
    st.lists(RAW_LINE, max_size=20).map(lambda lines: b"".join(line + b"\r\n" for line in lines)),
    st.binary(max_size=3000).map(lambda data: data.replace(b"\r", b"").replace(b"\n", b"\r\n")),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(subject=HEADER_VALUE, extra=HEADER_VALUE, body=RAW_BODY)
def test_any_raw_message_verifies(key: DkimKey, verify, subject, extra, body) -> None:
    raw = (
        b"From: Sender <a@example.fi>\r\nSubject:" + subject + b"\r\n"
        b"X-Extra:" + extra + b"\r\nTo: b@example.fi\r\n\r\n" + body
    )
    assert verify(sign(raw, key))
