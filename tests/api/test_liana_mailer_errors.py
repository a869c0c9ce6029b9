"""What a caller sees when something is wrong: documented statuses and messages, no changes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kirje.services.system import System
from kirje.settings import Settings
from kirje.store import contacts as contact_store
from tests.conftest import LiveServer, client_for, new_account
from tests.liana_clients import LianaClient


def test_wrong_secret(client: LianaClient) -> None:
    response = client.raw("echoMessage", '["hello"]', secret="0" * 32)
    assert response.status_code == 401
    assert response.json() == {
        "succeed": False,
        "message": "Unauthorized: signature does not match",
        "code": "unauthorized",
    }


def test_tampered_body(client: LianaClient) -> None:
    signed_md5 = client.raw("echoMessage", '["hello"]').request.headers["Content-MD5"]
    response = client.raw("echoMessage", '["hellO"]', md5=signed_md5)
    assert response.status_code == 401
    assert response.json()["message"] == "Unauthorized: content checksum does not match the body"


def test_stale_date(client: LianaClient) -> None:
    response = client.raw("echoMessage", '["hello"]', date="2020-01-15T12:00:00+03:00")
    assert response.status_code == 401
    assert response.json()["message"] == "Unauthorized: date outside the allowed window"


def test_unknown_user(client: LianaClient) -> None:
    response = client.raw("echoMessage", '["hello"]', user_id=987654321)
    assert response.status_code == 401
    assert response.json()["message"] == "Unauthorized: unknown API user"


def test_wrong_realm(client: LianaClient) -> None:
    response = client.raw("echoMessage", '["hello"]', realm="PV")
    assert response.status_code == 401


def test_fifth_request_inside_one_second_is_429(live_server: LiveServer, system: System) -> None:
    client = client_for(live_server, new_account(system, rate_limit=4))
    statuses = [client.raw("echoMessage", '["hello"]').status_code for _ in range(5)]
    assert statuses[:4] == [200, 200, 200, 200]
    assert statuses[4] == 429
    assert client.raw("echoMessage", '["x"]').json() == {
        "succeed": False,
        "message": "Too Many Requests",
        "code": "rate_limited",
    }


def test_unknown_method(client: LianaClient) -> None:
    response = client.raw("noSuchMethod", "[]")
    assert response.status_code == 404
    assert response.json()["succeed"] is False
    assert "noSuchMethod" in response.json()["message"]


def test_a_seed_method_not_built_yet_says_so(
    client: LianaClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every seed 001 method is built; the answer stays for the next seed's planned ones.
    monkeypatch.setattr(
        "kirje.api.liana_mailer.endpoint.PLANNED", frozenset({"getSomethingPlanned"})
    )
    response = client.raw("getSomethingPlanned", "[10]")
    assert response.status_code == 200
    assert response.json() == {
        "succeed": False,
        "message": "getSomethingPlanned is not available in this version of Kirje yet",
        "code": "not_available",
    }


def test_malformed_json(client: LianaClient) -> None:
    response = client.raw("createMailingList", '["unterminated')
    assert response.status_code == 400
    assert response.json()["succeed"] is False
    assert client.result("getMailingLists") == []


@pytest.mark.parametrize(
    ("method", "body", "fragment"),
    [
        ("createMailingList", "[]", "parameter 1 (name) is required"),
        ("createMailingList", '[{"a": 1}]', "parameter 1 (name)"),
        ("getMailingList", '["sixty"]', "parameter 1 (list_id)"),
        ("createConsentType", '["x", true, 1, 2]', "at most 2 parameters"),
        ("createCustomerProperty", '["email", "FI"]', "reserved"),
        ("createRecipient", '["not-an-address"]', "invalid email"),
        ("createRecipient", '["a@example.com", null, {"shoe_size": 42}]', "unknown properties"),
        ("joinMailingList", "[999999, [1]]", "not found"),
    ],
)
def test_bad_parameters_get_a_clear_message_and_change_nothing(
    client: LianaClient, system: System, account, method: str, body: str, fragment: str
) -> None:
    response = client.raw(method, body)
    assert response.status_code == 200
    envelope = response.json()
    assert envelope["succeed"] is False
    assert fragment in envelope["message"]
    assert client.result("getMailingLists") == []
    with system.db.reading() as conn:
        found = contact_store.find_by_email(conn, account.account_id, "a@example.com")
    assert found is None


def test_a_failed_call_leaves_no_partial_state(client: LianaClient) -> None:
    list_id = client.result("createMailingList", ["L"])
    # The second list does not exist: the whole call fails, the contact is not created.
    envelope = client.call(
        "createAndJoinRecipient",
        [None, "half@example.com", None, {}, False, None, None, [list_id, 424242]],
    )
    assert envelope["succeed"] is False
    assert client.call("getRecipientByEmail", ["half@example.com", True])["succeed"] is False
    assert client.result("getMailingListMemberCount", [list_id]) == 0


def test_seed_v1_example_over_http_with_the_clock_at_its_date(
    settings: Settings, system: System
) -> None:
    """Seed 001's echoMessage example, sent byte for byte to a server whose clock reads 2020."""
    account = system.accounts.create("Seed example", realm="EUR", secret="0123456789abcdef" * 2)
    seed_now = datetime(2020, 1, 15, 9, 1, tzinfo=UTC)
    server = LiveServer(settings, clock=lambda: seed_now).start()
    try:
        client = client_for(server, account)
        response = client.raw("echoMessage", '["hello"]', date="2020-01-15T12:00:00+03:00")
        sent = response.request.headers["Authorization"]
        assert sent.endswith(":89b60df150aad61e42fef7d6a43883c83e642aef2f7f2338b971c681f9992c26")
        assert sent.startswith(f"EUR {account.user_id}:")
        assert response.status_code == 200
        assert response.json() == {"succeed": True, "result": "hello"}
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("name", "body", "answer"),
    [
        ("getLinks", "[]", {"succeed": True, "result": []}),
        (
            "deleteDelivery",
            "[999999999]",
            {"succeed": False, "message": "delivery 999999999 not found", "code": "not_found"},
        ),
    ],
)
def test_the_once_planned_aliases_are_routed(
    client: LianaClient, name: str, body: str, answer: dict
) -> None:
    assert client.raw(name, body).json() == answer


def test_v2_resources_answer_in_the_envelope(client: LianaClient) -> None:
    # v3 answers without the envelope: tests/api/test_liana_mailer_v3.py.
    from tests.liana_clients import sign

    for method, path, body in [
        ("POST", "/api/v2/deliveries/95/cancel", "{}"),
    ]:
        date = client.date()
        md5, signature = sign(client.credentials.secret, method, body, date, path)
        headers = {
            "Content-Type": "application/json",
            "Content-MD5": md5,
            "Date": date,
            "Authorization": f"{client.credentials.realm} {client.credentials.user_id}:{signature}",
        }
        response = client.http.request(method, path, content=body, headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["code"] == "not_available"
        unsigned = client.http.request(method, path, content=body)
        assert unsigned.status_code == 401


def test_false_for_a_required_string_is_refused(client: LianaClient) -> None:
    envelope = client.call("createMailingList", [False])
    assert envelope["succeed"] is False
    assert "parameter 1 (name) is required" in envelope["message"]


def test_a_body_over_the_limit_is_refused_in_the_envelope(settings, system) -> None:
    server = LiveServer(settings.model_copy(update={"max_request_bytes": 1000})).start()
    try:
        client = client_for(server, new_account(system))
        csv_text = '"email"\n' + "x@example.com\n" * 200
        response = client.raw("importCSVToMailingList", client.encode([1, None, csv_text]))
        assert response.status_code == 413
        body = response.json()
        assert body["succeed"] is False and body["code"] == "too_large"
        assert "larger than 1000 bytes" in body["message"]
    finally:
        server.stop()
