"""Uploads live in the database: a worker on another machine (another data directory) reads the
same bytes, another account reads nothing, and the sweep deletes what no job will read."""

from __future__ import annotations

import io
import os
import time
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from kirje.domain.errors import NotFound
from kirje.domain.jobs import JobKind, JobState
from kirje.jobs.runner import run_here
from kirje.services import uploads as uploads_module
from kirje.services.uploads import Upload, Uploads, sweep_uploads
from kirje.store import jobs as job_store
from kirje.store import uploads as upload_store
from kirje.store.schema import upload_chunks
from tests.conftest import new_account


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(uploads_module, "CHUNK_BYTES", 1000)


def _stored(uploads: Uploads, content: bytes, suffix: str = "csv") -> Upload:
    with uploads.received(io.BytesIO(content)) as path:
        return uploads.store(path, suffix)


def test_a_worker_elsewhere_reads_the_same_bytes(services, tmp_path, small_chunks) -> None:
    content = os.urandom(5500)
    upload = _stored(services.uploads, content)
    elsewhere = Uploads(replace(services.scope, data_dir=tmp_path / "other-machine"))

    copy = elsewhere.local_copy(upload)

    assert copy.read_bytes() == content
    assert copy.is_relative_to(tmp_path / "other-machine")
    assert _chunk_count(services, upload) == 6
    # The request's own file is gone once the upload is stored.
    assert not list((services.scope.data_dir / uploads_module.INCOMING_FOLDER).glob("*"))


def test_a_copy_left_whole_is_read_again_and_a_partial_one_is_fetched_anew(
    services, tmp_path
) -> None:
    upload = _stored(services.uploads, b"email\nsomeone@example.com\n")
    machine = Uploads(replace(services.scope, data_dir=tmp_path))
    copy = machine.local_copy(upload)
    copy.write_bytes(b"email\nsomeone")  # cut short, as by a crash mid-copy

    assert machine.local_copy(upload).read_bytes() == b"email\nsomeone@example.com\n"


def test_another_account_cannot_read_or_delete_an_upload(system, services) -> None:
    upload = _stored(services.uploads, b"email\nsomeone@example.com\n")
    stranger = system.for_account(new_account(system).account_id).uploads

    with pytest.raises(NotFound):
        stranger.local_copy(upload)
    stranger.discard(upload)

    assert services.uploads.local_copy(upload).read_bytes() == b"email\nsomeone@example.com\n"


def test_discard_deletes_the_chunks_and_the_copy(services) -> None:
    upload = _stored(services.uploads, b"email\nsomeone@example.com\n")
    copy = services.uploads.local_copy(upload)

    services.uploads.discard(upload)

    assert not copy.exists()
    assert _chunk_count(services, upload) == 0
    with pytest.raises(NotFound):
        services.uploads.local_copy(upload)


def test_the_sweep_deletes_what_no_job_will_read(system, services) -> None:
    uploads = services.uploads
    ended, waiting, fresh = (_stored(uploads, b"email\na@example.com\n") for _ in range(3))
    for upload, state in ((ended, JobState.FAILED), (waiting, JobState.RUNNING)):
        uploads.attach(upload, _import_job_row(system, services, state=state))
    with system.db.transaction() as conn:
        old_id = upload_store.create_upload(
            conn, services.account_id, "csv", system.clock() - timedelta(days=2)
        )
    orphan_copy = system.settings.data_dir / uploads_module.COPIES_FOLDER / f"{ended.id}.csv"
    uploads.local_copy(ended)
    older_kirjes_folder = system.settings.data_dir / uploads_module.COPIES_FOLDER / "12345"
    older_kirjes_folder.mkdir(exist_ok=True)
    stale = system.settings.data_dir / uploads_module.INCOMING_FOLDER / "stale"
    stale.write_bytes(b"left by a request that died")
    a_week_ago = time.time() - 7 * 86400
    os.utime(stale, (a_week_ago, a_week_ago))

    deleted = sweep_uploads(system)

    assert {ended.id, old_id} <= set(deleted)
    assert waiting.id not in deleted and fresh.id not in deleted
    assert _chunk_count(services, ended) == 0 and _chunk_count(services, waiting) == 1
    assert not orphan_copy.exists() and not stale.exists()
    assert older_kirjes_folder.is_dir()


def _chunk_count(services, upload: Upload) -> int:
    with services.scope.db.reading() as conn:
        return conn.execute(
            select(func.count())
            .select_from(upload_chunks)
            .where(upload_chunks.c.upload_id == upload.id)
        ).scalar_one()


def test_an_import_an_older_kirje_queued_fails_with_a_reason(system, services) -> None:
    list_id = services.lists.create("Queued long ago")
    job_id = _import_job_row(
        system,
        services,
        subject_id=list_id,
        payload={
            "upload": "uploads/1/0123abcd.csv",
            "base64": False,
            "options": {"list_id": list_id, "format": "csv"},
        },
    )

    run_here(system, job_id)

    failed = services.jobs.get(job_id)
    assert failed.state is JobState.FAILED
    assert failed.error == "the import was queued by an older Kirje version: start it again"


def _import_job_row(system, services, **values) -> int:
    """An import job's row only: no worker is woken for it."""
    with system.db.transaction() as conn:
        return job_store.insert_job(
            conn,
            account_id=services.account_id,
            kind=JobKind.IMPORT,
            now=system.clock(),
            **values,
        )
