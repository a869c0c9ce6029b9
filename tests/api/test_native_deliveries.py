"""Kirje's native API: deliveries made, read with their ledger counts and cancelled over HTTP
(Basic auth), sent by the job run in-process into a real SMTP server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from kirje.jobs import recovery
from kirje.jobs.runner import run_here
from kirje.services.system import System
from tests.conftest import LiveServer, new_account
from tests.mail.smtp_sink import SmtpSink

PATH = "/api/kirje/v1/deliveries"
DRAFT = {"subject": "Uutiskirje", "html": "<p>Hei $firstname$</p>", "from_email": "n@shop.example"}


class Clock:
    def __init__(self) -> None:
        self.at = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def http(live_server: LiveServer, account) -> httpx.Client:
    return httpx.Client(base_url=live_server.url, auth=(str(account.user_id), account.secret))


@pytest.fixture
def sink():
    with SmtpSink() as running:
        yield running


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def worker_system(settings, system, sink, clock):
    changes = {"smtp_url": sink.url(starttls="false")}
    opened = System.open(settings.model_copy(update=changes), clock=clock)
    yield opened
    opened.close()


@pytest.fixture
def draft_id(http: httpx.Client) -> int:
    created = http.post("/api/kirje/v1/drafts", json=DRAFT)
    assert created.status_code == 201, created.text
    return created.json()["id"]


def counts(**given: int) -> dict[str, int]:
    states = ("pending", "claimed", "sending", "sent", "failed", "unknown", "cancelled")
    values = {state: given.get(state, 0) for state in states}
    return {**values, "total": sum(values.values())}


def test_a_scheduled_delivery_is_made_read_started_and_sent(
    http, services, worker_system, sink, clock, draft_id
) -> None:
    news = services.lists.create("Uutiset")
    aino = services.contacts.create(email="aino@example.com", sms=None)
    services.lists.join(news, [aino])
    at = clock.at + timedelta(minutes=20)
    created = http.post(
        PATH,
        json={
            "message_id": draft_id,
            "list_ids": [news],
            "recipients": [{"email": "Eino@Example.com", "properties": {"firstname": "Eino"}}],
            "scheduled_at": at.isoformat(),
        },
    )
    assert created.status_code == 201, created.text
    delivery = created.json()
    assert {k: v for k, v in delivery.items() if k != "created_at"} == {
        "id": delivery["id"],
        "message_id": draft_id,
        "kind": "batch",
        "state": "scheduled",
        "list_ids": [news],
        "scheduled_at": at.isoformat().replace("+00:00", "Z"),
        "started_at": None,
        "finished_at": None,
        "related_to": None,
        "hidden": False,
        "counts": counts(pending=1),
    }
    assert http.get(f"{PATH}/{delivery['id']}").json() == delivery

    clock.at = at
    assert delivery["id"] in recovery.start_due_deliveries(worker_system)
    started = http.get(f"{PATH}/{delivery['id']}").json()
    assert (started["state"], started["counts"]) == ("queued", counts(pending=2))
    run_here(worker_system, services.deliveries.get(delivery["id"]).job_id)
    assert sorted(m.recipients for m in sink.messages) == [
        ("aino@example.com",),
        ("eino@example.com",),
    ]
    done = http.get(f"{PATH}/{delivery['id']}").json()
    assert (done["state"], done["counts"]) == ("done", counts(sent=2))

    refused = http.post(f"{PATH}/{delivery['id']}/cancel")
    assert refused.status_code == 409
    assert refused.json() == {
        "error": f"delivery {delivery['id']} is done: only a scheduled, queued or sending"
        " delivery can be cancelled"
    }


def test_a_delivery_cancelled_before_it_starts_is_never_sent(
    http, services, worker_system, sink, draft_id
) -> None:
    made = http.post(
        PATH, json={"message_id": draft_id, "recipients": [{"email": "aino@example.com"}]}
    ).json()
    assert made["state"] == "queued"
    cancelled = http.post(f"{PATH}/{made['id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert (cancelled.json()["state"], cancelled.json()["counts"]) == (
        "cancelled",
        counts(cancelled=1),
    )
    run_here(worker_system, services.deliveries.get(made["id"]).job_id)
    assert sink.messages == []
    assert http.get(f"{PATH}/{made['id']}").json()["state"] == "cancelled"


def test_bad_deliveries_and_strangers_are_refused(
    http, live_server: LiveServer, system, draft_id
) -> None:
    for body, status, word in (
        ({"message_id": draft_id}, 422, "lists, recipients"),
        ({"message_id": 999999999, "list_ids": [1]}, 404, "draft"),
        ({"message_id": draft_id, "list_ids": [999999999]}, 404, "mailing list"),
        ({"message_id": draft_id, "recipients": [{"email": "not an address"}]}, 422, "email"),
    ):
        refused = http.post(PATH, json=body)
        assert (refused.status_code, word in refused.json()["error"]) == (status, True), (
            body,
            refused.text,
        )
    naive = http.post(
        PATH,
        json={"message_id": draft_id, "list_ids": [1], "scheduled_at": "2030-01-01T09:00:00"},
    )
    assert naive.status_code == 400
    made = http.post(
        PATH, json={"message_id": draft_id, "recipients": [{"email": "aino@example.com"}]}
    ).json()
    other = new_account(system)
    stranger = httpx.Client(base_url=live_server.url, auth=(str(other.user_id), other.secret))
    assert stranger.get(f"{PATH}/{made['id']}").status_code == 404
    assert stranger.post(f"{PATH}/{made['id']}/cancel").status_code == 404
    assert http.get(f"{PATH}/{made['id']}").json()["state"] == "queued"
    assert httpx.get(f"{live_server.url}{PATH}/{made['id']}").status_code == 401


def test_the_openapi_schema_describes_the_deliveries(live_server: LiveServer) -> None:
    paths = httpx.get(f"{live_server.url}/schema/openapi.json").json()["paths"]
    assert "post" in paths[PATH]
    assert "get" in paths[f"{PATH}/{{delivery_id}}"]
    assert "post" in paths[f"{PATH}/{{delivery_id}}/cancel"]
