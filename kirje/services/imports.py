"""Imports: an uploaded file becomes contacts and list memberships, as a durable job.

The job runs in two phases, each batch in one transaction together with the job's checkpoint,
so a worker killed at any moment leaves a job that another worker finishes exactly:
  1. stage: the file is read in batches (kirje.files; a large one on PostgreSQL in a reader
     process beside the job's), parsed rows are written to the staging table and refused
     lines to the rejection table;
  2. merge: after duplicates are marked (and the list truncated, when asked), ranges of staged
     lines are merged into contacts, memberships, consents and events by set-based statements,
     two ranges at a time on PostgreSQL; the checkpoint names the ranges merged.
The job row is the truth; the result holds the counts that getImportLog prints.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import closing
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, BinaryIO

from sqlalchemy.exc import DBAPIError

from kirje.child_iteration import ChildEnded, iterate_in_child
from kirje.domain.errors import Invalid, NotFound
from kirje.domain.import_log import import_log_text
from kirje.domain.import_rows import split_by_domain
from kirje.domain.imports import ImportCounts, ImportFormat, ImportOptions
from kirje.domain.jobs import Job, JobKind, JobLost, JobState
from kirje.domain.lists import ListKind
from kirje.domain.properties import Property
from kirje.files import check_import, read_import
from kirje.services.account_settings import AccountSettings
from kirje.services.base import AccountScope
from kirje.services.import_staging import StagingRead, staging_batches
from kirje.services.jobs import Jobs
from kirje.services.uploads import Upload, Uploads
from kirje.store import consents as consent_store
from kirje.store import imports as import_store
from kirje.store import lists as list_store
from kirje.store import properties as property_store

if TYPE_CHECKING:
    # Only the handler's signature: services do not depend on the job runner at run time.
    from kirje.jobs import JobContext

logger = logging.getLogger(__name__)

# Staged lines merged per transaction: large enough for set-based speed, small enough that a
# resumed import redoes little.
MERGE_RANGE = 50_000
# Ranges merged at once on PostgreSQL (_ImportRun._merge_in_parallel).
MERGE_CONNECTIONS = 2
# getImportStatus: "no import running".
NOT_RUNNING = -1


@dataclass(frozen=True)
class ImportPayload:
    """The job payload: the uploaded file and what to do with it."""

    upload: Upload
    base64: bool
    options: ImportOptions

    def to_json(self) -> dict:
        return {
            "upload": self.upload.to_json(),
            "base64": self.base64,
            "options": asdict(self.options),
        }

    @classmethod
    def from_json(cls, data: dict) -> ImportPayload:
        options = dict(data["options"])
        options["format"] = ImportFormat(options["format"])
        if isinstance(data["upload"], str):
            # A path in the data directory: the payload of an import an older Kirje queued.
            raise Invalid("the import was queued by an older Kirje version: start it again")
        return cls(
            upload=Upload.from_json(data["upload"]),
            base64=data["base64"],
            options=ImportOptions(**options),
        )


class Imports:
    def __init__(self, scope: AccountScope) -> None:
        self.scope = scope
        self._jobs = Jobs(scope)
        self._uploads = Uploads(scope)

    @property
    def _account_id(self) -> int:
        return self.scope.account_id

    # Starting

    def start(self, source: BinaryIO, options: ImportOptions, *, base64: bool = False) -> Job:
        """Checks the list and the file's header, stores the file and queues the import."""
        self._importable_list(options.list_id)
        self._check_consent(options)
        with self._uploads.received(source) as received:
            # A file without an address column, with unknown property columns or in a shape
            # the reader cannot take is refused before anything is stored or queued.
            check_import(received, options.format, self._properties(), base64=base64)
            upload = self._uploads.store(received, options.format.value)
        payload = ImportPayload(upload=upload, base64=base64, options=options)
        job = self._jobs.submit(JobKind.IMPORT, payload.to_json(), subject_id=options.list_id)
        self._uploads.attach(upload, job.id)
        return job

    def _importable_list(self, list_id: int) -> None:
        with self.scope.db.reading() as conn:
            found = list_store.find_list(conn, self._account_id, list_id, with_counts=False)
        if found is None or found.deleted_at is not None:
            raise NotFound(f"list {list_id} not found")
        if found.kind is not ListKind.STATIC:
            raise Invalid(
                f"list {list_id} is a {found.kind.value} list: imports need a static list"
            )

    def _check_consent(self, options: ImportOptions) -> None:
        if options.consent_id is None:
            return
        if not options.consent_lang:
            raise Invalid("consent_lang is required with consent_id")
        with self.scope.db.reading() as conn:
            found = consent_store.find_consent_type(conn, self._account_id, options.consent_id)
        if found is None:
            raise NotFound(f"consent {options.consent_id} not found")

    def _properties(self) -> list[Property]:
        with self.scope.db.reading() as conn:
            return property_store.all_properties(conn, self._account_id)

    def refused_addresses(self, list_id: int, source: BinaryIO, *, base64: bool) -> list[str]:
        """The dry run of isImportCSVToMailingListAllowed: the file's addresses whose domain
        the account does not allow, in file order. Nothing is stored."""
        self._importable_list(list_id)
        allowed = frozenset(AccountSettings(self.scope).marketing().allowed_domains)
        with self._uploads.received(source) as received:
            batches = read_import(received, ImportFormat.CSV, self._properties(), base64=base64)
            return [
                line.value for batch in batches for line in split_by_domain(batch.rows, allowed)[1]
            ]

    # Reading

    def status(self, list_id: int) -> int:
        """LianaMailer's getImportStatus: -1 when no import of the list is queued or running,
        else the number of lines still to process as far as known (0 while that is unknown)."""
        job = self._jobs.latest(JobKind.IMPORT, list_id)
        if job is None or job.is_finished:
            return NOT_RUNNING
        if job.progress_total is None:
            return 0
        return max(job.progress_total - job.progress_done, 0)

    def log(self, list_id: int) -> str:
        job = self._jobs.latest(JobKind.IMPORT, list_id)
        if job is None:
            raise NotFound(f"list {list_id} has no import")
        with self.scope.db.reading() as conn:
            found = list_store.find_list(conn, self._account_id, list_id, with_counts=False)
            rejected = list(import_store.rejections(conn, job.id))
        result = job.result if isinstance(job.result, dict) else {}
        counts = ImportCounts(**result.get("counts", {}))
        return import_log_text(
            counts,
            rejected,
            list_name=found.name if found else str(list_id),
            seconds=int(result.get("seconds", 0)),
            errors=[job.error] if job.state is JobState.FAILED and job.error else [],
        )


# The job


def run_import(ctx: JobContext) -> dict:
    payload = ImportPayload.from_json(ctx.job.payload)
    try:
        result = _ImportRun(ctx, payload).run()
    except JobLost:
        raise  # another worker has the job, and needs the file
    except Exception:
        # The job fails for good: nothing will read the file again.
        ctx.services.uploads.discard(payload.upload)
        raise
    ctx.services.uploads.discard(payload.upload)
    return result


class _ImportRun:
    def __init__(self, ctx: JobContext, payload: ImportPayload) -> None:
        self.ctx = ctx
        self.payload = payload
        self.options = payload.options
        self.job = ctx.job
        self.db = ctx.system.db
        self.account_id = ctx.job.account_id
        self.clock = ctx.system.clock
        self.checkpoint = dict(ctx.job.checkpoint or {"phase": "stage", "line": 0, "lines": 0})

    def run(self) -> dict:
        started = time.monotonic() - self.checkpoint.get("seconds", 0)
        if self.checkpoint["phase"] == "stage":
            self._stage(started)
            self._prepare_merge(started)
        if self.checkpoint["phase"] == "merge":
            self._merge(started)
        with self.db.transaction() as conn:
            counts = import_store.import_counts(conn, self.job.id)
            counts.source_lines = self.checkpoint["lines"]
            counts.new, counts.updated = self.checkpoint["new"], self.checkpoint["updated"]
            import_store.drop_staging(conn, self.job.id)
        return {"counts": asdict(counts), "seconds": round(time.monotonic() - started)}

    def _stage(self, started: float) -> None:
        read = self._staging_read()
        try:
            self._stage_batches(read, started, in_child=self._reads_in_child(read))
        except ChildEnded as ended:
            # A reader process that could not start, or died (killed, out of memory): what it
            # handed over is committed, and the job's own process reads on from there.
            logger.warning("import %s: %s; reading on in the job's process", self.job.id, ended)
            rest = replace(read, start_after_line=self.checkpoint["line"])
            self._stage_batches(rest, started, in_child=False)

    def _staging_read(self) -> StagingRead:
        with self.db.reading() as conn:
            properties = property_store.all_properties(conn, self.account_id)
        return StagingRead(
            path=self.ctx.services.uploads.local_copy(self.payload.upload),
            format=self.options.format,
            properties=properties,
            base64=self.payload.base64,
            start_after_line=self.checkpoint["line"],
            allowed_domains=frozenset(self.ctx.services.settings.marketing().allowed_domains),
            job_id=self.job.id,
            encoded=self.db.backend == "postgresql",
        )

    def _reads_in_child(self, read: StagingRead) -> bool:
        """Whether to read in a reader process: for a large file on PostgreSQL, where the job's
        process spends half its staging time in COPY and commits, which the reading of the
        next batch can go on beside."""
        from_size = self.ctx.system.settings.import_reader_process_from
        return read.encoded and read.path.stat().st_size >= from_size

    def _stage_batches(self, read: StagingRead, started: float, *, in_child: bool) -> None:
        with self.db.transaction() as conn:
            import_store.discard_staged_after(conn, self.job.id, read.start_after_line)
        batches = iterate_in_child(staging_batches, read) if in_child else staging_batches(read)
        with closing(batches):
            for batch in batches:
                with self.db.transaction() as conn:
                    import_store.stage_rows(conn, self.job.id, batch.rows)
                    import_store.record_rejections(conn, self.job.id, batch.rejected)
                    self.checkpoint.update(
                        line=batch.last_line,
                        lines=batch.lines_read,
                        seconds=time.monotonic() - started,
                    )
                    self.ctx.commit_progress(
                        conn, done=batch.lines_read, checkpoint=self.checkpoint
                    )

    def _prepare_merge(self, started: float) -> None:
        with self.db.transaction() as conn:
            import_store.mark_superseded(conn, self.job.id, keep_all=self.options.use_duplicates)
            if self.options.truncate:
                import_store.truncate_list_for_import(
                    conn, self.account_id, self.options.list_id, self.job.id, self.clock()
                )
            self.checkpoint.update(
                phase="merge",
                last_line=self.checkpoint["line"],
                merged=[],  # the first lines of the ranges merged
                new=0,
                updated=0,
                seconds=time.monotonic() - started,
            )
            self.ctx.commit_progress(
                conn, done=0, total=self.checkpoint["lines"], checkpoint=self.checkpoint
            )

    def _merge(self, started: float) -> None:
        # (A checkpoint without "merged" is an older Kirje's: its ranges are merged again, which
        # changes nothing and counts nothing twice.)
        merged = set(self.checkpoint.get("merged", ()))
        ranges = [r for r in _ranges(1, self.checkpoint["last_line"]) if r[0] not in merged]
        if len(ranges) > 1 and self._merges_in_parallel():
            ranges = self._merge_in_parallel(ranges, started)
        for first, last in ranges:
            self._merge_range(first, last, started)
        # The counts, as the ranges (side by side, each in its own thread) added them up.
        with self.db.transaction() as conn:
            self.checkpoint = self.ctx.locked_checkpoint(conn)

    def _merges_in_parallel(self) -> bool:
        """Whether ranges may be merged side by side, on PostgreSQL (SQLite has one writer):
        only when no two applied lines can name the same contact. Lines that give an email
        (or, lacking one, an SMS number) name distinct contacts once duplicates are marked,
        but a line with only an SMS number may name the contact of another line's email, and
        the later line's values must win."""
        if self.db.backend != "postgresql":
            return False
        with self.db.reading() as conn:
            return not import_store.has_lines_without_email(conn, self.job.id)

    def _merge_in_parallel(
        self, ranges: list[tuple[int, int]], started: float
    ) -> list[tuple[int, int]]:
        """Merges the ranges over MERGE_CONNECTIONS connections at once: a merge is one
        PostgreSQL backend's work, and the worker waits meanwhile. Returns the ranges whose
        transaction met another's writes and was rolled back (a unique key or a deadlock: not
        expected, as the ranges name distinct contacts), to be merged one after another."""
        clashed: list[tuple[int, int]] = []
        pool = ThreadPoolExecutor(MERGE_CONNECTIONS, thread_name_prefix=f"import-{self.job.id}")
        try:
            running = {pool.submit(self._merge_range, *r, started): r for r in ranges}
            for done in as_completed(running):
                try:
                    done.result()
                except DBAPIError as error:
                    if not _is_clash(error):
                        raise
                    clashed.append(running[done])
        finally:
            # On an error (the job lost, say) the ranges not begun are not begun.
            pool.shutdown(wait=True, cancel_futures=True)
        return sorted(clashed)

    def _merge_range(self, first: int, last: int, started: float) -> None:
        # Apart from the merge: ANALYZE holds its lock to the end of its transaction, and the
        # range merged beside this one would skip the table while this one merges.
        with self.db.transaction() as conn:
            import_store.refresh_statistics(conn)
        with self.db.transaction() as conn:
            outcome = import_store.merge_staged(
                conn,
                account_id=self.account_id,
                job_id=self.job.id,
                list_id=self.options.list_id,
                first_line=first,
                last_line=last,
                now=self.clock(),
                options=self.options,
            )
            # As committed by the range merged beside this one, if any; locked to the commit.
            checkpoint = self.ctx.locked_checkpoint(conn)
            merged = sorted({*checkpoint.get("merged", ()), first})
            checkpoint.update(
                merged=merged,
                new=checkpoint["new"] + outcome.new,
                updated=checkpoint["updated"] + outcome.updated,
                seconds=time.monotonic() - started,
            )
            total = checkpoint["last_line"]
            done = sum(min(start + MERGE_RANGE - 1, total) - start + 1 for start in merged)
            self.ctx.commit_progress(conn, done=done, total=total, checkpoint=checkpoint)


def _is_clash(error: DBAPIError) -> bool:
    """A unique key taken, a deadlock or a serialization failure: another transaction's write."""
    return getattr(error.orig, "sqlstate", None) in {"23505", "40P01", "40001"}


def _ranges(first: int, last: int) -> Iterator[tuple[int, int]]:
    for start in range(first, last + 1, MERGE_RANGE):
        yield start, min(start + MERGE_RANGE - 1, last)
