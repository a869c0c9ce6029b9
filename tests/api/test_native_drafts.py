"""Kirje's native API: drafts over HTTP, Basic-authenticated, described by OpenAPI."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import LiveServer, new_account

PATH = "/api/kirje/v1/drafts"
DRAFT = {
    "name": "Order received",
    "subject": "Thank you, $firstname$",
    "html": "<p>Thank you for your order $firstname$ $lastname$.</p>",
    "from_name": "Shop Oy",
    "from_email": "Shop@Example.com",
}


@pytest.fixture
def http(live_server: LiveServer, account) -> httpx.Client:
    return httpx.Client(base_url=live_server.url, auth=(str(account.user_id), account.secret))


def test_a_draft_is_created_read_listed_and_updated(http: httpx.Client) -> None:
    created = http.post(PATH, json=DRAFT)
    assert created.status_code == 201, created.text
    draft = created.json()
    assert {k: draft[k] for k in ("name", "subject", "from_name", "from_email", "text")} == {
        "name": "Order received",
        "subject": "Thank you, $firstname$",
        "from_name": "Shop Oy",
        "from_email": "shop@example.com",
        "text": None,
    }
    assert http.get(f"{PATH}/{draft['id']}").json() == draft
    assert http.get(PATH).json()[0]["id"] == draft["id"]
    changed = http.put(f"{PATH}/{draft['id']}", json={**DRAFT, "subject": "Order received"})
    assert (changed.status_code, changed.json()["subject"]) == (200, "Order received")


def test_bad_drafts_and_strangers_are_refused(http: httpx.Client, live_server, system) -> None:
    for body, word in (
        ({**DRAFT, "subject": " "}, "subject"),
        ({**DRAFT, "from_email": "not an address"}, "from"),
        ({**DRAFT, "subject": "a\r\nBcc: x@example.com"}, "one line"),
    ):
        refused = http.post(PATH, json=body)
        assert refused.status_code == 422 and word in refused.json()["error"], refused.text
    unknown_field = http.post(PATH, json={**DRAFT, "bcc": "x@example.com"})
    assert unknown_field.status_code == 400
    draft_id = http.post(PATH, json=DRAFT).json()["id"]
    other = new_account(system)
    stranger = httpx.Client(base_url=live_server.url, auth=(str(other.user_id), other.secret))
    assert stranger.get(f"{PATH}/{draft_id}").status_code == 404
    wrong_secret = httpx.Client(base_url=live_server.url, auth=(str(other.user_id), "guess"))
    answer = wrong_secret.get(PATH)
    assert (answer.status_code, answer.headers["www-authenticate"]) == (401, 'Basic realm="kirje"')
    assert httpx.get(f"{live_server.url}{PATH}").status_code == 401


def test_the_openapi_schema_describes_the_drafts(live_server: LiveServer) -> None:
    schema = httpx.get(f"{live_server.url}/schema/openapi.json").json()
    assert {"/api/kirje/v1/drafts", "/api/kirje/v1/drafts/{draft_id}"} <= set(schema["paths"])
    assert "post" in schema["paths"]["/api/kirje/v1/drafts"]
