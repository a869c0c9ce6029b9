"""Double opt-in over HTTP: confirmation tasks, confirmRecipient and the confirmation mail."""

from __future__ import annotations

from sqlalchemy import select

from kirje.services.account_services import AccountServices
from kirje.services.system import System
from kirje.store import events, queued_mails
from kirje.store.schema import confirmation_tasks
from tests.conftest import LiveServer, client_for, new_account
from tests.liana_clients import LianaClient


def _event_types(services: AccountServices, contact_id: int) -> list[str]:
    with services.scope.db.reading() as conn:
        return [e.type for e in events.contact_events(conn, services.account_id, contact_id)]


def _task_rows(services: AccountServices) -> list:
    with services.scope.db.reading() as conn:
        query = select(confirmation_tasks).where(
            confirmation_tasks.c.account_id == services.account_id
        )
        return conn.execute(query.order_by(confirmation_tasks.c.id)).all()


def _pending_recipient(client: LianaClient, email: str = "dbl@example.com") -> tuple[int, str]:
    contact_id = client.result("createRecipient", [email])
    return contact_id, client.result("getRecipientConfirmationCode", [contact_id])


def _consent(client: LianaClient) -> int:
    consent_id = client.result("createConsentType", ["Newsletter", True])
    client.result("editConsentTranslation", [consent_id, "FI", "Uutiskirje", "Kuvaus"])
    return consent_id


def test_confirming_runs_every_task_in_one_go(
    client: LianaClient, services: AccountServices
) -> None:
    client.result("createCustomerProperty", ["city", "FI"])
    consent_id = _consent(client)
    first = client.result("createMailingList", ["First"])
    second = client.result("createMailingList", ["Second"])
    contact_id, code = _pending_recipient(client)

    assert (
        client.result(
            "addConfirmationTask",
            [
                contact_id,
                code,
                "consent",
                {"consent_id": consent_id, "consent_revision": 1, "lang": "fi"},
            ],
        )
        == 1
    )
    ids = client.result(
        "addConfirmationTasks",
        [
            contact_id,
            code,
            [
                {"type": "membership", "task": {"list_id": first}},
                {"type": "membership", "task": {"lists": [second]}},
                {"type": "properties", "task": {"city": "Turku"}},
            ],
        ],
    )
    assert len(ids) == 3 and all(isinstance(i, int) for i in ids)
    pending = client.result("getConfirmationTasks", [code])
    assert [(t["type"], t["member_id"]) for t in pending] == [
        ("consent", contact_id),
        ("membership", contact_id),
        ("membership", contact_id),
        ("properties", contact_id),
    ]
    assert [t["id"] for t in pending][1:] == ids
    assert pending[0]["task"] == {"consent_id": consent_id, "consent_revision": 1, "lang": "FI"}
    assert pending[3]["task"] == {"city": "Turku"} and pending[0]["created"]
    assert client.result("getRecipient", [contact_id])["membership"] == []

    assert client.result("confirmRecipient", [code, "Clicked", "example.com/confirm"]) == contact_id

    recipient = client.result("getRecipient", [contact_id])
    assert recipient["recipient"]["confirmed"] is True
    assert [(m[0], m[2]) for m in recipient["membership"]] == [(first, 0), (second, 0)]
    assert recipient["properties"] == {"city": "Turku"}
    (consent,) = recipient["consents"]
    assert (consent["consent_id"], consent["lang"], consent["source"]) == (
        consent_id,
        "FI",
        "confirmation",
    )
    assert client.result("getConfirmationTasks", [code]) == []
    assert all(row.done_at is not None for row in _task_rows(services))
    assert _event_types(services, contact_id) == [
        "created",
        "confirmed",
        "consent-given",
        "list-join",
        "list-join",
        "data-change",
    ]


def test_confirming_twice_runs_nothing_new(client: LianaClient, services: AccountServices) -> None:
    list_id = client.result("createMailingList", ["Once"])
    contact_id, code = _pending_recipient(client)
    client.result("addConfirmationTask", [contact_id, code, "membership", {"list_id": list_id}])
    assert client.result("confirmRecipient", [code]) == contact_id
    client.result("leaveMailingList", [list_id, contact_id])  # an admin takes them off
    assert client.result("confirmRecipient", [code]) == contact_id
    assert client.result("getMailingListMemberCount", [list_id]) == 0
    assert _event_types(services, contact_id) == ["created", "confirmed", "list-join", "list-quit"]


def test_a_confirmation_brings_back_a_list_the_person_had_left(client: LianaClient) -> None:
    list_id = client.result("createMailingList", ["Back"])
    contact_id = client.result(
        "createAndJoinRecipient", [None, "back@example.com", None, {}, True, None, None, [list_id]]
    )
    client.result("leaveMailingList", [list_id, contact_id, "bye", False])
    code = client.result("setConfirmationCode", [contact_id])
    client.result("addConfirmationTask", [contact_id, code, "membership", {"lists": [list_id]}])
    client.result("confirmRecipient", [code])
    assert client.result("getMailingListMemberCount", [list_id]) == 1


def test_tasks_need_the_current_code(client: LianaClient, services: AccountServices) -> None:
    list_id = client.result("createMailingList", ["Code"])
    contact_id, old_code = _pending_recipient(client)
    new_code = client.result("setConfirmationCode", [contact_id])
    wrong = client.call(
        "addConfirmationTask", [contact_id, old_code, "membership", {"list_id": list_id}]
    )
    assert wrong["succeed"] is False and "current code" in wrong["message"]
    _, other_code = _pending_recipient(client, "other@example.com")
    assert (
        client.call(
            "addConfirmationTask", [contact_id, other_code, "membership", {"list_id": list_id}]
        )["succeed"]
        is False
    )
    assert client.call("confirmRecipient", [old_code])["succeed"] is False
    missing = client.call("confirmRecipient", ["NoSuchCode"])
    assert missing["succeed"] is False and "not found" in missing["message"]
    assert client.call("getConfirmationTasks", ["NoSuchCode"])["succeed"] is False
    unknown = client.call(
        "addConfirmationTask", [999999, new_code, "membership", {"list_id": list_id}]
    )
    assert unknown["succeed"] is False and "not found" in unknown["message"]
    assert _task_rows(services) == []


def test_a_bad_task_leaves_no_rows(client: LianaClient, services: AccountServices) -> None:
    list_id = client.result("createMailingList", ["Good"])
    contact_id, code = _pending_recipient(client)
    good = {"type": "membership", "task": {"list_id": list_id}}
    bad_cases = [
        ([good, {"type": "membership", "task": {"lists": [list_id, 987654]}}], "987654"),
        ([good, {"type": "coffee", "task": {}}], "unknown task type"),
        ([good, {"type": "properties", "task": {"nosuch": "x"}}], "unknown properties"),
        (
            [
                good,
                {
                    "type": "consent",
                    "task": {"consent_id": 424242, "consent_revision": 1, "lang": "FI"},
                },
            ],
            "consent 424242",
        ),
        ([good, {"type": "consent", "task": {"consent_id": 1}}], "consent_revision"),
        ([good, {"type": "membership", "task": {}}], "list_id"),
        ([good, {"task": {"list_id": list_id}}], "needs a type"),
        ([], "must not be empty"),
    ]
    for tasks, message in bad_cases:
        answer = client.call("addConfirmationTasks", [contact_id, code, tasks])
        assert answer["succeed"] is False and message in answer["message"], (tasks, answer)
    single = client.call("addConfirmationTask", [contact_id, code, "membership", {"list_id": 0}])
    assert single["succeed"] is False
    unknown_type = client.call("addConfirmationTask", [contact_id, code, "gift", {"x": 1}])
    assert unknown_type["succeed"] is False and "unknown task type" in unknown_type["message"]
    assert _task_rows(services) == []
    assert client.result("getConfirmationTasks", [code]) == []


def test_confirmation_mail_is_queued_once_unless_forced(
    client: LianaClient, services: AccountServices
) -> None:
    site = client.result("getCustomer")["default_site"]
    contact_id = client.result("createRecipient", ["mail@example.com"])
    assert client.result("sendConfirmationEmail", [contact_id, {"properties": {"x": "1"}}]) == 1
    code = client.result("getRecipientConfirmationCode", [contact_id])
    assert code
    client.result("confirmRecipient", [code])
    again = client.call("sendConfirmationEmail", [contact_id, {}])
    assert again["succeed"] is False and "already confirmed" in again["message"]
    assert client.result("sendConfirmationEmail", [contact_id, {"force": True, "site": site}]) == 1

    with services.scope.db.reading() as conn:
        mails = queued_mails.mails_for(conn, services.account_id, contact_id)
    assert [(m.kind, m.state, m.properties) for m in mails] == [
        ("confirmation", "queued", {"x": "1"}),
        ("confirmation", "queued", {}),
    ]
    assert all(m.site_id is not None for m in mails)
    assert _event_types(services, contact_id).count("confirmation-queued") == 2

    bad_site = client.call(
        "sendConfirmationEmail", [contact_id, {"force": 1, "site": "no.example"}]
    )
    assert bad_site["succeed"] is False and "site" in bad_site["message"]
    bad_option = client.call("sendConfirmationEmail", [contact_id, {"colour": "red"}])
    assert bad_option["succeed"] is False and "colour" in bad_option["message"]
    assert client.call("sendConfirmationEmail", [999999, {}])["succeed"] is False


def test_another_accounts_code_is_unknown(live_server: LiveServer, system: System) -> None:
    owner = client_for(live_server, new_account(system))
    intruder = client_for(live_server, new_account(system))
    list_id = owner.result("createMailingList", ["Owner list"])
    contact_id, code = _pending_recipient(owner)
    owner.result("addConfirmationTask", [contact_id, code, "membership", {"list_id": list_id}])
    intruder_list = intruder.result("createMailingList", ["Intruder list"])

    for method, params in [
        ("confirmRecipient", [code]),
        ("getConfirmationTasks", [code]),
        ("addConfirmationTask", [contact_id, code, "membership", {"list_id": intruder_list}]),
        ("sendConfirmationEmail", [contact_id, {"force": True}]),
    ]:
        answer = intruder.call(method, params)
        assert answer["succeed"] is False and "not found" in answer["message"], method
    assert owner.result("getRecipient", [contact_id])["recipient"]["confirmed"] is False
    assert len(owner.result("getConfirmationTasks", [code])) == 1
