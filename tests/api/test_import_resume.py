"""A worker killed with SIGKILL in the middle of an import leaves a job that another worker
finishes, with no row lost and none doubled. On PostgreSQL the server and each worker have a
data directory of their own, as on three machines: the upload reaches the workers through the
database. (On SQLite all of them are on one machine: the database and the queue are files in
the data directory.)"""

from __future__ import annotations

import base64
import uuid

from sqlalchemy import func, select

from kirje.domain.jobs import JobKind, JobState
from kirje.services.uploads import COPIES_FOLDER
from kirje.store.schema import contacts, events, list_members, uploads
from kirje.store.secret_box import KEY_FILE_NAME
from tests.api.test_liana_mailer_imports import wait_until_imported
from tests.conftest import LiveServer, client_for, new_account
from tests.jobs.workers import job_worker, wait_for_job

ROWS = 150_000


def test_a_killed_worker_leaves_an_import_another_worker_finishes_exactly(
    settings, system, tmp_path, backend
) -> None:
    # A queue of its own, so the first message reaches the worker this test kills.
    queue = f"resume-{uuid.uuid4().hex[:8]}"
    mine = settings.model_copy(update={"job_queue_name": queue})
    server = LiveServer(mine).start()
    try:
        account = new_account(system)
        client = client_for(server, account)
        services = system.for_account(account.account_id)
        client.result("createCustomerProperty", ["city", "FI"])
        list_id = client.result("createMailingList", ["Resumed", ""])
        text = '"email";"firstname";"city"\n' + "".join(
            f'"r{i}@example.com";"R{i}";"Oulu"\n' for i in range(ROWS)
        )
        encoded = base64.b64encode(text.encode()).decode()

        machine_one = _machine(mine, backend, tmp_path / "one", queue)
        with job_worker(mine, tmp_path, **machine_one) as first:
            client.result("importCSVToMailingList", [list_id, None, encoded, None, True])
            job = services.jobs.latest(JobKind.IMPORT, list_id)
            wait_for_job(services, job.id, _part_done, worker=first)
            first.process.kill()
            first.process.wait(timeout=30)
        killed = services.jobs.get(job.id)
        assert killed.state is JobState.RUNNING and killed.progress_done > 0

        with job_worker(mine, tmp_path, **_machine(mine, backend, tmp_path / "two", queue)):
            wait_until_imported(client, list_id, seconds=600)

        finished = services.jobs.get(job.id)
        assert finished.state is JobState.DONE and finished.attempts >= 2
        assert _counts(services, list_id) == (ROWS, ROWS, ROWS, ROWS)
        log = client.result("getImportLog", [list_id])
        assert f" New records: {ROWS}\n Updated records: 0\n Duplicates: 0\n" in log
        # The finishing worker removed the upload; the killed one's copy waits for a sweep
        # on its own machine.
        assert _uploads_left(services) == 0
        copies = _data_dir(mine, backend, tmp_path / "two") / COPIES_FOLDER
        upload = finished.payload["upload"]
        assert not (copies / f"{upload['id']}.{upload['suffix']}").exists()
    finally:
        server.stop()


def _machine(settings, backend: str, data_dir, queue: str) -> dict[str, str]:
    """A worker's environment as on a machine of its own (on PostgreSQL): its own data
    directory, the installation's secret key."""
    key = (settings.data_dir / KEY_FILE_NAME).read_text().strip()
    return {
        "KIRJE_DATA_DIR": str(_data_dir(settings, backend, data_dir)),
        "KIRJE_SECRET_KEY": key,
        "KIRJE_JOB_QUEUE_NAME": queue,
    }


def _data_dir(settings, backend: str, own):
    return own if backend == "postgresql" else settings.data_dir


def _uploads_left(services) -> int:
    with services.scope.db.reading() as conn:
        return conn.execute(
            select(func.count())
            .select_from(uploads)
            .where(uploads.c.account_id == services.account_id)
        ).scalar_one()


def _part_done(job) -> bool:
    """Some batches committed, not all: the kill lands in the middle."""
    return job.state is JobState.RUNNING and job.progress_done > 0


def _counts(services, list_id: int) -> tuple[int, int, int, int]:
    account = services.account_id
    with services.scope.db.reading() as conn:

        def count(table, *where):
            return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()

        people = count(contacts, contacts.c.account_id == account)
        distinct = conn.execute(
            select(func.count(func.distinct(contacts.c.email))).where(
                contacts.c.account_id == account
            )
        ).scalar_one()
        members = count(
            list_members, list_members.c.list_id == list_id, list_members.c.status == "active"
        )
        joins = count(
            events,
            events.c.account_id == account,
            events.c.type == "list-join",
            events.c.list_id == list_id,
        )
    return people, distinct, members, joins
