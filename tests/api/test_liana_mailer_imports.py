"""List imports over HTTP, run by a real `kirje worker` process: the seed's example flow, exact
counts and logs, idempotence, truncate, spreadsheets through v2, bad input."""

from __future__ import annotations

import base64
import io
import time

import pytest
from sqlalchemy import func, select

from kirje.store.schema import contacts, events, list_members
from tests.conftest import LiveServer, client_for
from tests.jobs.workers import quiet_worker, with_own_queue
from tests.liana_clients import LianaClient

SEED_CSV = '"email";"firstname";"lastname"\n' + "".join(
    f'"recipient+{i}@example.com";"John{i}";"Doe{i}"\n' for i in range(1, 11)
)


# These tests run their own server and worker on a queue of their own (see quiet_worker).
@pytest.fixture(scope="module")
def import_settings(settings):
    return with_own_queue(settings, "imports")


@pytest.fixture(scope="module")
def import_server(import_settings, system):
    server = LiveServer(import_settings).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def worker(import_settings, tmp_path_factory):
    with quiet_worker(import_settings, tmp_path_factory.mktemp("import-worker")) as running:
        yield running


@pytest.fixture
def client(import_server, account) -> LianaClient:
    return client_for(import_server, account)


def b64(text: str | bytes) -> str:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return base64.b64encode(data).decode("ascii")


def wait_until_imported(client: LianaClient, list_id: int, seconds: float = 180) -> None:
    """The seed's loop: poll getImportStatus until the result is exactly the integer -1."""
    deadline = time.monotonic() + seconds
    while True:
        status = client.result("getImportStatus", [list_id])
        assert isinstance(status, int) and status >= -1
        if status == -1 and not isinstance(status, bool):
            return
        assert time.monotonic() < deadline, "the import never finished"
        time.sleep(0.2)


def import_csv(client: LianaClient, list_id: int, text: str, *, truncate: bool = False) -> None:
    answer = client.call("importCSVToMailingList", [list_id, None, b64(text), None, True, truncate])
    assert answer == {"succeed": True, "result": None}
    wait_until_imported(client, list_id)


def member_emails(client: LianaClient, list_id: int) -> list[str]:
    members = client.result("getMailingListMembers", [list_id, 0, 0, "email"])
    return [m["recipient"]["email"] for m in members]


def test_the_seed_import_example_works_as_written(client: LianaClient, worker) -> None:
    list_id = client.result("createMailingList", ["Seed example list", "made by the example"])
    import_csv(client, list_id, SEED_CSV, truncate=True)
    assert member_emails(client, list_id) == sorted(
        f"recipient+{i}@example.com" for i in range(1, 11)
    )
    recipient = client.result("getRecipientByEmail", ["recipient+3@example.com"])
    assert recipient["properties"] == {"firstname": "John3", "lastname": "Doe3"}
    log = client.result("getImportLog", [list_id])
    assert log.startswith(
        "Import summary:\n 10 records imported to Seed example list\n\nDetails:\n"
    )
    assert " Source CSV file had 11 lines\n New records: 10\n Updated records: 0\n" in log
    assert log.endswith("\nErrors:\n No errors\n")
    encoded = client.result("getImportLog", [list_id, True])
    assert base64.b64decode(encoded).decode("utf-8") == log


def test_fifty_thousand_rows_with_one_percent_bad_give_exact_counts_and_log(
    client: LianaClient, services, worker
) -> None:
    client.result("createCustomerProperty", ["city", "FI"])
    lines = ['"email";"firstname";"city"']
    bad_lines = []
    for i in range(50_000):
        if i % 100 == 99:
            lines.append(f'"broken{i}@";"B{i}";"Espoo"')
            bad_lines.append((i + 2, f"broken{i}@"))
        else:
            lines.append(f'"person{i}@example.com";"P{i}";"Helsinki"')
    list_id = client.result("createMailingList", ["Fifty thousand", ""])
    import_csv(client, list_id, "\n".join(lines) + "\n")

    assert client.result("getMailingListMemberCount", [list_id]) == 49_500
    log = client.result("getImportLog", [list_id])
    assert " 49500 records imported to Fifty thousand\n" in log
    assert " New records: 49500\n" in log and " Rejected: 500\n" in log
    section = log.split("\nRejected records:\n", 1)[1].split("\n\nErrors:", 1)[0]
    expected = [f" line {line}: invalid email address: {value}" for line, value in bad_lines]
    assert section.split("\n") == expected
    with services.scope.db.reading() as conn:
        joins = conn.execute(
            select(func.count())
            .select_from(events)
            .where(events.c.account_id == services.account_id, events.c.list_id == list_id)
            .where(events.c.type == "list-join")
        ).scalar_one()
    assert joins == 49_500


def test_the_same_import_twice_changes_nothing_the_second_time(
    client: LianaClient, services, worker
) -> None:
    list_id = client.result("createMailingList", ["Twice", ""])
    import_csv(client, list_id, SEED_CSV)
    before = _state(services, list_id)
    import_csv(client, list_id, SEED_CSV)
    assert _state(services, list_id) == before
    log = client.result("getImportLog", [list_id])
    assert " New records: 0\n Updated records: 10\n" in log


def _state(services, list_id: int) -> tuple:
    account = services.account_id
    with services.scope.db.reading() as conn:
        people = conn.execute(
            select(contacts.c.id, contacts.c.email, contacts.c.properties)
            .where(contacts.c.account_id == account)
            .order_by(contacts.c.id)
        ).all()
        members = conn.execute(
            select(list_members.c.contact_id, list_members.c.status)
            .where(list_members.c.list_id == list_id)
            .order_by(list_members.c.contact_id)
        ).all()
        joins = conn.execute(
            select(func.count())
            .select_from(events)
            .where(events.c.account_id == account, events.c.type == "list-join")
        ).scalar_one()
    return [tuple(p) for p in people], [tuple(m) for m in members], joins


def test_truncate_replaces_the_members_but_keeps_self_unsubscribed_out(
    client: LianaClient, worker
) -> None:
    list_id = client.result("createMailingList", ["Truncated", ""])
    ids = {
        name: client.result("createRecipient", [f"{name}@example.com"])
        for name in ("stays", "goes", "left")
    }
    client.result("joinMailingList", [list_id, list(ids.values())])
    client.result("leaveMailingList", [list_id, ids["left"], "no more mail", False])

    csv_text = '"email"\n"stays@example.com"\n"left@example.com"\n"new@example.com"\n'
    import_csv(client, list_id, csv_text, truncate=True)

    assert member_emails(client, list_id) == ["new@example.com", "stays@example.com"]
    log = client.result("getImportLog", [list_id])
    assert "\nCancelled subscriptions:\n line 3:" in log
    assert client.result("getRecipient", [ids["goes"]])["recipient"]["email"] == "goes@example.com"


def test_a_spreadsheet_imports_through_v2_into_a_named_list_in_a_folder(
    client: LianaClient, worker
) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["email", "firstname"])
    sheet.append(["sheet1@example.com", "Sheet"])
    sheet.append(["sheet2@example.com", "Book"])
    buffer = io.BytesIO()
    book.save(buffer)
    body = {
        "name": "From a sheet",
        "folder": "Imports/2026",
        "type": "xls",
        "data": b64(buffer.getvalue()),
    }
    answer = client.call_v2("import/mailinglist", body)
    assert answer["succeed"] is True
    list_id = answer["result"]["list_id"]
    assert isinstance(list_id, int) and answer["result"]["succeed"] is True
    wait_until_imported(client, list_id)
    assert member_emails(client, list_id) == ["sheet1@example.com", "sheet2@example.com"]
    listed = client.result("getMailingList", [list_id])
    assert (listed["name"], listed["folder"]) == ("From a sheet", "Imports/2026")
    again = client.call_v2("import/mailinglist", {**body, "folder": "/Imports/2026/"})
    assert again["result"]["list_id"] == list_id


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('"name";"firstname"\n"x";"y"\n', "no email or sms column"),
        ('"email";"favourite_colour"\n"a@example.com";"red"\n', "favourite_colour"),
        ("", "required"),
    ],
)
def test_a_file_the_import_cannot_take_is_refused_at_once(
    client: LianaClient, content: str, message: str
) -> None:
    list_id = client.result("createMailingList", ["Refused", ""])
    answer = client.call("importCSVToMailingList", [list_id, None, content])
    assert answer["succeed"] is False and message in answer["message"]
    assert client.result("getImportStatus", [list_id]) == -1
    assert client.result("getMailingListMemberCount", [list_id]) == 0


def test_a_comma_separated_file_is_read_with_its_own_delimiter(client: LianaClient, worker) -> None:
    list_id = client.result("createMailingList", ["Commas", ""])
    import_csv(client, list_id, "email,firstname\r\ncomma@example.com,Comma\r\n")
    assert member_emails(client, list_id) == ["comma@example.com"]


def test_json_import(client: LianaClient, worker) -> None:
    list_id = client.result("createMailingList", ["From JSON", ""])
    document = '[{"email": "j1@example.com", "firstname": "J"}, {"email": "j2@example.com"}]'
    assert client.result("importJSONToMailingList", [list_id, document]) is True
    wait_until_imported(client, list_id)
    assert member_emails(client, list_id) == ["j1@example.com", "j2@example.com"]


def test_dry_run_lists_the_addresses_outside_the_allowed_domains(client: LianaClient) -> None:
    list_id = client.result("createMailingList", ["Dry run", ""])
    client.result("setMarketingSettings", [[{"name": "allowed_domains", "value": ["example.com"]}]])
    text = '"email"\n"ok@example.com"\n"no@elsewhere.org"\n'
    assert client.result("isImportCSVToMailingListAllowed", [list_id, None, text]) == (
        "email\nno@elsewhere.org\n"
    )
    assert client.result("getMailingListMemberCount", [list_id]) == 0
