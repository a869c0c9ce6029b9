"""Recipient history, consent updates, unsubscriptions and statistics over HTTP."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import select

from kirje.domain.jobs import JobState
from kirje.services.account_services import AccountServices
from kirje.store import events as event_store
from kirje.store import jobs as job_store
from kirje.store.schema import jobs
from tests.liana_clients import LianaClient

HELSINKI_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")


def _append(services: AccountServices, rows: list[tuple[int, str, datetime, dict]]) -> None:
    """Events as the sending pipeline (or an earlier day) would have written them."""
    with services.scope.db.transaction() as conn:
        event_store.append_events(
            conn,
            [
                event_store.event_row(services.account_id, cid, type_, at, data=data)
                for cid, type_, at, data in rows
            ],
        )


def _history_jobs(services: AccountServices) -> list:
    with services.scope.db.reading() as conn:
        query = select(jobs).where(jobs.c.account_id == services.account_id).order_by(jobs.c.id)
        return conn.execute(query).all()


def _consent(client: LianaClient) -> int:
    consent_id = client.result("createConsentType", ["Terms", True])
    client.result("editConsentTranslation", [consent_id, "FI", "Ehdot", "Kuvaus"])
    return consent_id


def test_member_history_lists_actions_newest_first(client: LianaClient) -> None:
    list_id = client.result("createMailingList", ["News"])
    consent_id = _consent(client)
    contact_id = client.result(
        "createAndJoinRecipient",
        [None, "h@example.com", None, {}, False, "signed up", "form", [list_id], False],
    )
    client.result("leaveMailingList", [list_id, contact_id, "too many", False, "footer"])
    client.result("addMemberConsent", [contact_id, consent_id, 1, "FI", "api"])

    history = client.result("memberHistory", [contact_id])
    assert [a["action"] for a in history] == ["consent-given", "list-quit", "list-join", "created"]
    assert all(HELSINKI_TIME.match(a["time"]) for a in history)
    quit_, join = history[1], history[2]
    assert (quit_["list_id"], quit_["reason"], quit_["origin"], quit_["admin"]) == (
        list_id,
        "too many",
        "footer",
        False,
    )
    assert (join["list_id"], join["reason"], join["origin"]) == (list_id, "signed up", "form")
    assert history[0]["consent_id"] == consent_id and history[0]["list_id"] is None
    assert history[3]["reason"] == "signed up"

    page = client.result("memberHistory", [contact_id, {"limit": 2, "offset": 1}])
    assert [a["action"] for a in page] == ["list-quit", "list-join"]
    joins = client.result("memberHistory", [contact_id, {"types": ["list-join", "list-quit"]}])
    assert [a["action"] for a in joins] == ["list-quit", "list-join"]
    client.result("deleteRecipient", [contact_id])
    assert client.result("memberHistory", [contact_id, {"limit": 1}])[0]["action"] == "deleted"

    for options, message in [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"offset": -1}, "offset"),
        ({"types": ["nope"]}, "nope"),
        ({"colour": "red"}, "colour"),
    ]:
        answer = client.call("memberHistory", [contact_id, options])
        assert answer["succeed"] is False and message in answer["message"], options
    missing = client.call("memberHistory", [999999])
    assert missing["succeed"] is False and "not found" in missing["message"]


def test_history_updates_are_recorded_as_jobs(
    client: LianaClient, services: AccountServices
) -> None:
    contact_id = client.result("createRecipient", ["j@example.com"])
    assert client.result("memberHistoryUpdateStatus", [contact_id]) == 0
    assert client.result("memberHistoryUpdate", [contact_id]) == 1
    assert client.result("memberHistoryUpdateStatus", [contact_id]) == 0

    handle = client.result("requestMemberHistoryUpdate", [{}])
    assert re.fullmatch(r"H:kirje:\d+", handle)
    named = client.result("requestMemberHistoryUpdate", [{"recipient_id": contact_id}])
    assert client.result("requestMemberHistoryUpdate") != named

    rows = _history_jobs(services)
    assert [(r.kind, r.state, r.subject_id, r.result) for r in rows] == [
        ("member-history-update", "done", contact_id, 1),
        ("member-history-update", "done", None, 1),
        ("member-history-update", "done", contact_id, 1),
        ("member-history-update", "done", None, 1),
    ]
    assert handle == f"H:kirje:{rows[1].id}"

    # An update still running (as a queued run would be) is worth waiting for.
    with services.scope.db.transaction() as conn:
        job_store.insert_job(
            conn,
            account_id=services.account_id,
            kind="member-history-update",
            now=datetime.now(UTC),
            subject_id=contact_id,
            state=JobState.RUNNING,
        )
    assert client.result("memberHistoryUpdateStatus", [contact_id]) != 0

    for method, params in [
        ("memberHistoryUpdate", [999999]),
        ("memberHistoryUpdateStatus", [999999]),
        ("requestMemberHistoryUpdate", [{"recipient_id": 999999}]),
        ("requestMemberHistoryUpdate", [{"colour": "red"}]),
    ]:
        assert client.call(method, params)["succeed"] is False, (method, params)
    assert len(_history_jobs(services)) == 5


def test_consent_updates_since_a_date(client: LianaClient, services: AccountServices) -> None:
    consent_id = _consent(client)
    other_consent = _consent(client)
    first = client.result("createRecipient", ["c1@example.com"])
    second = client.result("createRecipient", ["c2@example.com"])
    client.result("addMemberConsent", [first, consent_id, 1, "fi", "api"])
    client.result("addMemberConsent", [second, consent_id, 1, "FI", "api"])
    client.result("addMemberConsent", [second, other_consent, 1, "FI", "api"])
    client.result("revokeConsent", [first, consent_id, 1, "FI"])

    updates = client.result("getMemberConsentUpdates", ["2020-01-10T01:00:00+0200"])
    assert updates["count"] == 4
    assert [(i["member_id"], i["consent_id"], i["action"]) for i in updates["items"]] == [
        (first, consent_id, "given"),
        (second, consent_id, "given"),
        (second, other_consent, "given"),
        (first, consent_id, "revoked"),
    ]
    item = updates["items"][0]
    assert (item["consent_revision"], item["lang"]) == (1, "FI")
    assert HELSINKI_TIME.match(item["time"])

    only = client.result("getMemberConsentUpdates", ["2020-01-10", 1, 1, {}, consent_id])
    assert only["count"] == 3
    assert [(i["member_id"], i["action"]) for i in only["items"]] == [(second, "given")]
    revoked = client.result(
        "getMemberConsentUpdates", ["2020-01-10 00:00:00", 0, 10, {"action": "revoked"}]
    )
    assert [(i["member_id"], i["action"]) for i in revoked["items"]] == [(first, "revoked")]
    finnish = client.result("getMemberConsentUpdates", ["2020-01-10", 0, 10, {"lang": "fi"}])
    assert finnish["count"] == 4
    swedish = client.result("getMemberConsentUpdates", ["2020-01-10", 0, 10, {"lang": "SV"}])
    assert swedish["count"] == 0
    assert client.result("getMemberConsentUpdates", ["2999-01-01T00:00:00Z"]) == {
        "items": [],
        "count": 0,
    }

    for params, message in [
        (["yesterday"], "from_date"),
        (["2020-01-10", 0, 1001], "limit"),
        (["2020-01-10", -1], "offset"),
        (["2020-01-10", 0, 10, {"action": "maybe"}], "action"),
        (["2020-01-10", 0, 10, {"colour": "red"}], "colour"),
    ]:
        answer = client.call("getMemberConsentUpdates", params)
        assert answer["succeed"] is False and message in answer["message"], params


def test_a_date_without_offset_is_helsinki_time(
    client: LianaClient, services: AccountServices
) -> None:
    consent_id = _consent(client)
    contact_id = client.result("createRecipient", ["tz@example.com"])
    # 10:00 UTC on a summer day is 13:00 in Helsinki.
    at = datetime(2021, 6, 1, 10, 0, tzinfo=UTC)
    data = {"consent_id": consent_id, "revision": 1, "lang": "FI"}
    _append(services, [(contact_id, "consent-given", at, data)])

    def count(since: str) -> int:
        return client.result("getMemberConsentUpdates", [since, 0, 10, {}, consent_id])["count"]

    assert count("2021-06-01 13:00:00") == 1
    assert count("2021-06-01T13:00:01") == 0
    assert count("2021-06-01T10:00:00Z") == 1
    assert count("2021-06-01T12:00:01+0200") == 0
    updates = client.result("getMemberConsentUpdates", ["2021-06-01", 0, 10, {}, consent_id])
    assert updates["items"][0]["time"] == "2021-06-01 13:00:00"


def test_unsubscriptions_are_only_the_persons_own(client: LianaClient) -> None:
    list_id = client.result("createMailingList", ["Weekly"])
    other_list = client.result("createMailingList", ["Daily"])
    ids = {
        name: client.result(
            "createAndJoinRecipient",
            [None, f"{name}@example.com", None, {}, True, None, None, [list_id, other_list]],
        )
        for name in ("leaver", "removed", "deleted")
    }
    client.result("leaveMailingList", [list_id, ids["leaver"], "not for me", False])
    client.result("removeRecipientFromMailingList", [ids["removed"], list_id, "admin cleanup"])
    client.result("deleteRecipient", [ids["deleted"], "gone"])

    expected = {
        "member_id": ids["leaver"],
        "email": "leaver@example.com",
        "list_id": list_id,
        "reason": "not for me",
    }
    (found,) = client.result("getUnsubscriptions", ["2019-12-20"])
    assert {k: found[k] for k in expected} == expected and HELSINKI_TIME.match(found["time"])
    assert client.result("getUnsubscriptions") == [found]
    assert client.result("getUnsubscriptions", ["2999-01-01"]) == []
    assert client.call("getUnsubscriptions", ["20.12.2019"])["succeed"] is False


def test_recipient_stats_count_opens_and_clicks(
    client: LianaClient, services: AccountServices
) -> None:
    opener = client.result("createRecipient", ["o@example.com"])
    quiet = client.result("createRecipient", ["q@example.com"])
    now = datetime.now(UTC)
    _append(
        services,
        [
            (opener, "mailopen", now, {}),
            (opener, "mailopen", now, {}),
            (opener, "maillink", now, {}),
            (opener, "mailsent", now, {}),
            (quiet, "mailsent", now, {}),
        ],
    )
    assert client.result("getRecipientsStats", [[opener, quiet]]) == {
        str(opener): {"opens": 2, "clicks": 1},
        str(quiet): {"opens": 0, "clicks": 0},
    }
    assert client.result("getRecipientsStats", [[opener], ["clicks"]]) == {
        str(opener): {"clicks": 1}
    }
    assert client.result("getRecipientsStats", [[], []]) == {}
    assert client.result("getRecipientsStats") == {}

    bad_value = client.call("getRecipientsStats", [[opener], ["bounces"]])
    assert bad_value["succeed"] is False and "bounces" in bad_value["message"]
    missing = client.call("getRecipientsStats", [[opener, 999999]])
    assert missing["succeed"] is False and "999999" in missing["message"]
    too_many = client.call("getRecipientsStats", [list(range(1, 1002))])
    assert too_many["succeed"] is False and "1000" in too_many["message"]
