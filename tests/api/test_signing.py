"""The signed-request module: the seeds' and the official clients' vectors, byte for byte."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kirje.api.auth import SignatureVerifier, SignedRequest, content_md5, parse_date, signature
from kirje.domain.accounts import ApiCredential
from kirje.domain.errors import AuthFailure, Unauthorized

SEED_SECRET = b"0123456789abcdef0123456789abcdef"
SEED_DATE = "2020-01-15T12:00:00+03:00"
HELSINKI = ZoneInfo("Europe/Helsinki")


def test_seed_001_v1_echo_vector() -> None:
    body = b'["hello"]'
    assert content_md5(body) == "1f0bf5038e61951a95c4a2a9db7c400a"
    assert (
        signature(SEED_SECRET, "POST", content_md5(body), SEED_DATE, body, b"/api/v1/echoMessage")
        == "89b60df150aad61e42fef7d6a43883c83e642aef2f7f2338b971c681f9992c26"
    )


def test_seed_001_v3_events_vector() -> None:
    target = b"/api/v3/events?type=mailopen&at_start=2020-01-10T12:00:00&at_end=2020-01-10T15:00:00"
    assert content_md5(b"") == "d41d8cd98f00b204e9800998ecf8427e"
    assert (
        signature(SEED_SECRET, "GET", content_md5(b""), SEED_DATE, b"", target)
        == "22404d156bd828b157c3e6e11f5b83943b00bc7b0029eceab304dae227ef7f03"
    )


def test_seed_000_pingpong_vector() -> None:
    body = b'{"ping":"pong"}'
    assert content_md5(body) == "b41c090e9b32a3f85c631db1af38b0af"
    assert (
        signature(
            b"password",
            "POST",
            content_md5(body),
            "2099-01-01 00:00:00+0200",
            body,
            b"/rest/v1/pingpong",
        )
        == "d0e9d4895b0a06e19623b6c63cf6b173d9fa8ca3427ccb680c22209b90d7bb5e"
    )


def test_python_client_vector() -> None:
    body = b'[1, "unit"]'
    assert content_md5(body) == "728d7c26b9d3fc42da3d518a4097da81"
    assert (
        signature(
            b"sesame", "POST", content_md5(body), "2018-10-20T10:11:12", body, b"/api/v1/getStuff"
        )
        == "37aa7ce64e02cca021917606b7932eee3bec7135d1b14432d44018a4e4cc85ad"
    )


def test_php_client_vector_is_plain_hmac_over_newline_joined_parts() -> None:
    expected = "c82dbf3d9574513a27f6b70cd007d16fa21686b377a9c3818f005b3af32cd04f"
    assert hmac.new(b"a" * 32, b"foo\nbar", hashlib.sha256).hexdigest() == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2020-01-15T12:00:00+03:00", datetime(2020, 1, 15, 9, tzinfo=UTC)),
        ("2020-01-15T12:00:00+0300", datetime(2020, 1, 15, 9, tzinfo=UTC)),
        ("2020-01-15T09:00:00Z", datetime(2020, 1, 15, 9, tzinfo=UTC)),
        ("2099-01-01 00:00:00+0200", datetime(2098, 12, 31, 22, tzinfo=UTC)),
        ("Wed, 15 Jan 2020 09:00:00 GMT", datetime(2020, 1, 15, 9, tzinfo=UTC)),
        # Naive: the dialect's home zone (Helsinki is UTC+2 in January).
        ("2020-01-15T11:00:00", datetime(2020, 1, 15, 9, tzinfo=UTC)),
    ],
)
def test_accepts_the_date_forms_real_clients_send(text: str, expected: datetime) -> None:
    assert parse_date(text, HELSINKI) == expected


def _verifier(now: datetime, credential: ApiCredential | None) -> SignatureVerifier:
    return SignatureVerifier(
        lambda user_id: credential if credential and user_id == credential.user_id else None,
        window=timedelta(minutes=15),
        clock=lambda: now,
        naive_zone=HELSINKI,
    )


CREDENTIAL = ApiCredential(
    user_id=123,
    account_id=1,
    realm="EUR",
    secret=SEED_SECRET,
    rate_limit_per_second=4,
    is_enabled=True,
)
SEED_NOW = datetime(2020, 1, 15, 9, 5, tzinfo=UTC)


def _seed_request(**changes) -> SignedRequest:
    values = dict(
        method="POST",
        target=b"/api/v1/echoMessage",
        body=b'["hello"]',
        content_md5="1f0bf5038e61951a95c4a2a9db7c400a",
        date=SEED_DATE,
        authorization="EUR 123:89b60df150aad61e42fef7d6a43883c83e642aef2f7f2338b971c681f9992c26",
    )
    values.update(changes)
    return SignedRequest(**values)


def test_verifies_the_seed_example_request() -> None:
    assert _verifier(SEED_NOW, CREDENTIAL).verify(_seed_request()) == CREDENTIAL


def test_signature_compares_case_insensitively() -> None:
    upper = "EUR 123:89B60DF150AAD61E42FEF7D6A43883C83E642AEF2F7F2338B971C681F9992C26"
    assert _verifier(SEED_NOW, CREDENTIAL).verify(_seed_request(authorization=upper))


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"authorization": "EUR123"}, AuthFailure.MALFORMED),
        ({"authorization": None}, AuthFailure.MALFORMED),
        ({"body": b'["hellO"]'}, AuthFailure.CHECKSUM),
        ({"content_md5": None}, AuthFailure.CHECKSUM),
        ({"authorization": "EUR 124:89b60df1"}, AuthFailure.UNKNOWN_USER),
        ({"authorization": "PV 123:89b60df1"}, AuthFailure.WRONG_REALM),
        ({"date": "2020-01-15T12:30:00+03:00"}, AuthFailure.EXPIRED),
        ({"date": "yesterday"}, AuthFailure.EXPIRED),
        ({"target": b"/api/v1/echoMessage?x=1"}, AuthFailure.BAD_SIGNATURE),
        ({"method": "GET"}, AuthFailure.BAD_SIGNATURE),
    ],
)
def test_refuses_with_the_reason(changes: dict, reason: AuthFailure) -> None:
    with pytest.raises(Unauthorized) as refused:
        _verifier(SEED_NOW, CREDENTIAL).verify(_seed_request(**changes))
    assert refused.value.reason is reason


def test_a_disabled_user_is_unknown() -> None:
    disabled = ApiCredential(**{**CREDENTIAL.__dict__, "is_enabled": False})
    with pytest.raises(Unauthorized) as refused:
        _verifier(SEED_NOW, disabled).verify(_seed_request())
    assert refused.value.reason is AuthFailure.UNKNOWN_USER


@given(
    body=st.binary(max_size=300),
    target=st.from_regex(rb"\A/api/v1/[A-Za-z]{1,20}(\?[A-Za-z0-9%=&]{0,40})?\Z"),
    flip=st.integers(min_value=0),
)
def test_any_body_and_path_verify_and_any_changed_byte_fails(
    body: bytes, target: bytes, flip: int
) -> None:
    md5 = content_md5(body)
    signed = signature(SEED_SECRET, "POST", md5, SEED_DATE, body, target)
    request = SignedRequest("POST", target, body, md5, SEED_DATE, f"EUR 123:{signed}")
    verifier = _verifier(SEED_NOW, CREDENTIAL)
    assert verifier.verify(request) == CREDENTIAL
    position = flip % len(target)
    tampered = target[:position] + bytes([target[position] ^ 1]) + target[position + 1 :]
    with pytest.raises(Unauthorized):
        verifier.verify(SignedRequest("POST", tampered, body, md5, SEED_DATE, f"EUR 123:{signed}"))
