"""An import merged in many ranges, side by side on PostgreSQL, ends exactly as one merged in a
single range: the same contacts, values, memberships, events and log. A range whose transaction
meets another's writes is merged again after the others."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import re
from collections import Counter

import pytest
from sqlalchemy import insert, select

from kirje.child_iteration import ChildEnded, iterate_in_child
from kirje.domain.errors import Conflict
from kirje.domain.imports import ImportOptions
from kirje.domain.jobs import JobState
from kirje.jobs.runner import run_here
from kirje.services import imports as imports_module
from kirje.services.base import utc_now
from kirje.store import imports as import_store
from kirje.store.schema import contacts, events, list_members
from tests.conftest import new_account

EXISTING = 20


def _file() -> str:
    lines = ['"email";"firstname";"city"']
    lines += [f'"old{i}@example.com";"Old{i}";"Tampere"' for i in range(EXISTING)]
    lines += [f'"new{i}@example.com";"New{i}";"Turku"' for i in range(50)]
    lines += [f'"broken{i}@";"B{i}";"Pori"' for i in range(5)]
    # Later lines of the same addresses: these values win, the earlier lines are duplicates.
    lines += [f'"new{i}@example.com";"Again{i}";"Vaasa"' for i in range(0, 50, 10)]
    return "\n".join(lines) + "\n"


def _imported(system, monkeypatch, merge_range: int) -> dict:
    """A fresh account with EXISTING contacts on a list, one of whom has left it on their
    own, and _file() imported into that list in ranges of merge_range lines."""
    services = system.for_account(new_account(system).account_id)
    for name in ("firstname", "city"):
        with contextlib.suppress(Conflict):
            services.properties.create(name)
    list_id = services.lists.create("Merged")
    earlier = '"email";"city"\n' + "".join(
        f'"old{i}@example.com";"Oulu"\n' for i in range(EXISTING)
    )
    _run(system, services, list_id, earlier)
    services.contacts.leave_list(
        _contact_id(services, "old0@example.com"), list_id, by_contact=True
    )

    with monkeypatch.context() as patched:
        patched.setattr(imports_module, "MERGE_RANGE", merge_range)
        job = _run(system, services, list_id, _file())

    return {
        "log": re.sub(r"Import took \d+ s", "", services.imports.log(list_id)),
        "contacts": _contacts(services),
        "members": _members(services, list_id),
        "events": _event_counts(services),
        "checkpoint": {key: job.checkpoint[key] for key in ("new", "updated", "last_line")},
    }


def _run(system, services, list_id: int, text: str):
    job = services.imports.start(io.BytesIO(text.encode()), ImportOptions(list_id=list_id))
    run_here(system, job.id)
    finished = services.jobs.get(job.id)
    assert finished.state is JobState.DONE, finished.error
    return finished


def test_many_ranges_side_by_side_end_as_one_range(system, backend, monkeypatch) -> None:
    side_by_side = []
    merge_in_parallel = imports_module._ImportRun._merge_in_parallel

    def counted(run, ranges, started):
        side_by_side.append(len(ranges))
        return merge_in_parallel(run, ranges, started)

    monkeypatch.setattr(imports_module._ImportRun, "_merge_in_parallel", counted)
    in_one = _imported(system, monkeypatch, merge_range=1_000_000)
    assert side_by_side == []

    in_many = _imported(system, monkeypatch, merge_range=7)

    assert in_many == in_one
    assert side_by_side == ([12] if backend == "postgresql" else [])
    assert in_one["checkpoint"] == {"new": 50, "updated": EXISTING - 1, "last_line": 81}


def test_a_range_that_meets_another_ones_writes_is_merged_again(
    system, backend, monkeypatch
) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite merges one range at a time")
    insert_new = import_store._RangeMerge.insert_new
    clashed = []

    def clashing_once(merge, **options):
        if merge.first_line == 8 and not clashed:
            clashed.append(merge.first_line)
            # An address another transaction has just taken, as PostgreSQL reports it.
            taken = dict(account_id=merge.account_id, email="old1@example.com", properties={})
            merge.conn.execute(insert(contacts).values(**taken, is_enabled=True, **_now()))
        return insert_new(merge, **options)

    in_one = _imported(system, monkeypatch, merge_range=1_000_000)
    monkeypatch.setattr(import_store._RangeMerge, "insert_new", clashing_once)

    in_many = _imported(system, monkeypatch, merge_range=7)

    assert clashed == [8]
    assert in_many == in_one


def _now() -> dict:
    now = utc_now()
    return {"created_at": now, "updated_at": now}


def _contact_id(services, email: str) -> int:
    with services.scope.db.reading() as conn:
        return conn.execute(
            select(contacts.c.id).where(
                contacts.c.account_id == services.account_id, contacts.c.email == email
            )
        ).scalar_one()


def _contacts(services) -> dict[str, dict]:
    with services.scope.db.reading() as conn:
        rows = conn.execute(
            select(contacts.c.email, contacts.c.properties).where(
                contacts.c.account_id == services.account_id
            )
        )
        return {row.email: row.properties for row in rows}


def _members(services, list_id: int) -> dict[str, str]:
    with services.scope.db.reading() as conn:
        rows = conn.execute(
            select(contacts.c.email, list_members.c.status)
            .join(contacts, contacts.c.id == list_members.c.contact_id)
            .where(list_members.c.account_id == services.account_id)
            .where(list_members.c.list_id == list_id)
        )
        return {row.email: row.status for row in rows}


def _event_counts(services) -> Counter:
    with services.scope.db.reading() as conn:
        types = conn.execute(
            select(events.c.type).where(events.c.account_id == services.account_id)
        ).scalars()
        return Counter(types)


def test_a_file_read_in_a_reader_process_ends_as_one_read_here(
    system, backend, monkeypatch
) -> None:
    in_child = []

    def counted(function, read):
        in_child.append(read.job_id)
        return iterate_in_child(function, read)

    monkeypatch.setattr(imports_module, "iterate_in_child", counted)
    read_here = _imported(system, monkeypatch, merge_range=7)
    assert in_child == []

    monkeypatch.setattr(system.settings, "import_reader_process_from", 0)
    read_there = _imported(system, monkeypatch, merge_range=7)

    assert read_there == read_here
    # Both imports _imported runs. (On SQLite a file is always read in the job's process: its
    # rows are inserted, not COPYed.)
    assert len(in_child) == (2 if backend == "postgresql" else 0)


def test_a_reader_process_that_dies_leaves_the_rest_to_the_jobs_own(
    system, backend, monkeypatch
) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite reads every file in the job's process")
    read_here = _imported(system, monkeypatch, merge_range=7)

    def dying_after_one_batch(function, read):
        batches = iterate_in_child(function, read)
        yield next(batches)
        batches.close()
        raise ChildEnded("the process running the reader ended early (exit code -9)")

    staging_read = imports_module._ImportRun._staging_read
    monkeypatch.setattr(
        imports_module._ImportRun,
        "_staging_read",
        lambda run: dataclasses.replace(staging_read(run), batch_size=10),
    )
    monkeypatch.setattr(imports_module, "iterate_in_child", dying_after_one_batch)
    monkeypatch.setattr(system.settings, "import_reader_process_from", 0)
    read_there = _imported(system, monkeypatch, merge_range=7)

    assert read_there == read_here
