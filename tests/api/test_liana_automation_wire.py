"""LianaAutomation REST v1 over HTTP, signed as the WordPress plugins sign: authentication and
its seed messages, pingpong, channels, and the import of a shop's events."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

from kirje.services.system import System
from tests.conftest import LiveServer, new_account
from tests.liana_clients import AutomationClient, Credentials

AUTH = "RESTv1 unauthorized login attempt: "
NOT_FOUND = {"message": "Not found", "status": 404, "status_message": "Not Found"}


@pytest.fixture
def automation(live_server: LiveServer, account) -> AutomationClient:
    credentials = Credentials(account.user_id, account.secret, account.realm)
    return AutomationClient(live_server.url, credentials)


def test_pingpong_echoes_the_ping(automation: AutomationClient) -> None:
    assert automation.call("pingpong", {"ping": "pong"}) == {"pong": "pong"}


def test_a_body_changed_after_signing_is_refused_with_the_seeds_message(automation) -> None:
    response = automation.raw("pingpong", '{"ping":"pong"}', md5="b41c090e9b32a3f85c631db1af38b0ae")
    assert (response.status_code, response.json()) == (
        200,
        {"message": AUTH + "Checksum does not match!"},
    )


def test_an_unknown_user_is_refused_with_the_seeds_message(automation) -> None:
    response = automation.raw("pingpong", '{"ping":"pong"}', user_id=987654321)
    assert (response.status_code, response.json()) == (200, {"message": AUTH + "User not valid!"})


def test_a_wrong_secret_is_a_hash_mismatch(automation) -> None:
    response = automation.raw("pingpong", '{"ping":"pong"}', secret="not the secret")
    assert (response.status_code, response.json()) == (200, {"message": AUTH + "Hash mismatch!"})


def test_a_date_outside_fifteen_minutes_is_refused(automation) -> None:
    response = automation.raw("pingpong", '{"ping":"pong"}', date="2024-05-01T10:00:00+00:00")
    assert (response.status_code, response.json()) == (200, {"message": AUTH + "Date expired!"})


def test_a_wrong_realm_or_path_gets_the_seeds_404_body(automation) -> None:
    wrong_realm = automation.raw("pingpong", '{"ping":"pong"}', realm="NOTOURS")
    wrong_path = automation.raw("nosuchthing", "{}")
    for response in (wrong_realm, wrong_path):
        assert response.status_code == 404
        assert (
            response.content == b'{"message":"Not found","status":404,"status_message":"Not Found"}'
        )


def test_a_base_url_with_a_trailing_slash_still_verifies(automation, live_server) -> None:
    """The plugins do not trim the API URL: the wire path is //rest/v1/..., the signed one not."""
    url = f"{live_server.url}//rest/v1/pingpong"
    response = automation.raw("pingpong", '{"ping":"pong"}', url_path=url)
    assert (response.status_code, response.json()) == (200, {"pong": "pong"})


def test_the_seed_vector_verifies_at_its_own_moment(settings, system: System) -> None:
    """The seed signs {"ping":"pong"} with password "password" at 2099-01-01 00:00:00+0200."""
    seed_moment = datetime(2099, 1, 1, tzinfo=ZoneInfo("Europe/Helsinki"))
    account = new_account(system)
    user = system.accounts.add_api_user(account.account_id, secret="password")
    headers = {
        "Content-Type": "application/json",
        "Content-md5": "b41c090e9b32a3f85c631db1af38b0af",
        "Date": "2099-01-01 00:00:00+0200",
        "Authorization": f"{user.realm} {user.user_id}:"
        "d0e9d4895b0a06e19623b6c63cf6b173d9fa8ca3427ccb680c22209b90d7bb5e",
    }
    server = LiveServer(settings, clock=lambda: seed_moment).start()
    try:
        response = httpx.post(
            f"{server.url}/rest/v1/pingpong", content=b'{"ping":"pong"}', headers=headers
        )
    finally:
        server.stop()
    assert (response.status_code, response.json()) == (200, {"pong": "pong"})
