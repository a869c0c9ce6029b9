"""Uploaded files that jobs read, kept in the database so that a worker on any machine can read
them: a file left in the data directory of the machine that took the request would be out of
reach of the workers on the others.

A file is written in chunks of a mebibyte, one transaction each, so that a large upload never
holds a transaction open for long (on SQLite that would stop every other writer); it is complete
once its size is recorded. A worker reads a copy in its own data directory (the file readers
seek), made once and removed when the job ends. An upload is deleted when its job ends; the
workers' sweep deletes the ones left behind (sweep_uploads).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from kirje.domain.errors import NotFound
from kirje.services.base import AccountScope
from kirje.store import uploads as upload_store

if TYPE_CHECKING:
    from kirje.services.system import System

CHUNK_BYTES = 1 << 20
# Under the data directory: workers' copies of uploads, and requests' files being received.
COPIES_FOLDER = "uploads"
INCOMING_FOLDER = "incoming"
# An upload no job was given this long after it was made was left by a failed request.
UNATTACHED_FOR = timedelta(days=1)


@dataclass(frozen=True)
class Upload:
    id: int
    # The file's kind, as its name ends: csv, xls, json.
    suffix: str

    def to_json(self) -> dict:
        return {"id": self.id, "suffix": self.suffix}

    @classmethod
    def from_json(cls, data: dict) -> Upload:
        return cls(id=int(data["id"]), suffix=str(data["suffix"]))


class Uploads:
    def __init__(self, scope: AccountScope) -> None:
        self.scope = scope

    @contextmanager
    def received(self, source: BinaryIO) -> Iterator[Path]:
        """The request's file on this machine's disk while the block runs (to check it before
        anything is stored); removed afterwards."""
        folder = self.scope.data_dir / INCOMING_FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, delete=False) as target:
            path = Path(target.name)
            try:
                while data := source.read(CHUNK_BYTES):
                    target.write(data)
            except BaseException:
                path.unlink(missing_ok=True)
                raise
        try:
            yield path
        finally:
            path.unlink(missing_ok=True)

    def store(self, path: Path, suffix: str) -> Upload:
        """Copies a received file into the database."""
        db, account_id = self.scope.db, self.scope.account_id
        with db.transaction() as conn:
            upload_id = upload_store.create_upload(conn, account_id, suffix, self.scope.clock())
        upload = Upload(upload_id, suffix)
        size = 0
        try:
            with open(path, "rb") as source:
                number = 0
                while data := source.read(CHUNK_BYTES):
                    with db.transaction() as conn:
                        upload_store.add_chunk(conn, upload.id, number, data)
                    number += 1
                    size += len(data)
            with db.transaction() as conn:
                upload_store.complete_upload(conn, account_id, upload.id, size)
        except BaseException:
            # (If the database is gone too, the sweep deletes what is left a day later.)
            self.discard(upload)
            raise
        return upload

    def attach(self, upload: Upload, job_id: int) -> None:
        """Names the job that reads the upload: it lives until that job ends."""
        with self.scope.db.transaction() as conn:
            upload_store.attach_to_job(conn, self.scope.account_id, upload.id, job_id)

    def local_copy(self, upload: Upload) -> Path:
        """The upload as a file in this machine's data directory: fetched from the database,
        unless an earlier run of the job here left it whole."""
        path = _copy_path(self.scope.data_dir, upload)
        with self.scope.db.reading() as conn:
            size = upload_store.upload_size(conn, self.scope.account_id, upload.id)
            if size is None:
                raise NotFound(f"upload {upload.id} not found: its file is gone")
            if path.is_file() and path.stat().st_size == size:
                return path
            path.parent.mkdir(parents=True, exist_ok=True)
            part = path.with_name(path.name + ".part")
            with open(part, "wb") as target:
                for data in upload_store.chunks(conn, upload.id):
                    target.write(data)
        os.replace(part, path)
        return path

    def discard(self, upload: Upload) -> None:
        """Deletes the upload and this machine's copy of it."""
        _copy_path(self.scope.data_dir, upload).unlink(missing_ok=True)
        with self.scope.db.transaction() as conn:
            upload_store.delete_upload(conn, self.scope.account_id, upload.id)


def _copy_path(data_dir: Path, upload: Upload) -> Path:
    return data_dir / COPIES_FOLDER / f"{upload.id}.{upload.suffix}"


def sweep_uploads(system: System) -> list[int]:
    """Deletes the uploads whose job has ended or that no job was given, and this machine's
    copies of uploads that are gone (left by a worker killed mid-import whose job another
    machine finished). Returns the ids of the uploads deleted."""
    with system.db.transaction() as conn:
        deleted = upload_store.delete_ended_uploads(conn, system.clock() - UNATTACHED_FOR)
    _remove_stale_incoming(system.settings.data_dir / INCOMING_FOLDER)
    folder = system.settings.data_dir / COPIES_FOLDER
    copies = {
        path: int(path.name.partition(".")[0])
        for path in (folder.iterdir() if folder.is_dir() else [])
        # (Folders there are an older Kirje's, which kept uploads per account.)
        if path.name.partition(".")[0].isdigit() and path.is_file()
    }
    if copies:
        with system.db.reading() as conn:
            existing = upload_store.existing_uploads(conn, sorted(set(copies.values())))
        for path, upload_id in copies.items():
            if upload_id not in existing:
                path.unlink(missing_ok=True)
    return deleted


def _remove_stale_incoming(folder: Path) -> None:
    """Files of requests that died while their upload was received or checked."""
    if not folder.is_dir():
        return
    stale_before = time.time() - UNATTACHED_FOR.total_seconds()
    for path in folder.iterdir():
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_mtime < stale_before:
                path.unlink()
