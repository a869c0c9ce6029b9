"""The `segment` scenario: member count of a dynamic list over N contacts, cold and warm.

It loads N contacts with properties through the store's bulk path, then counts a dynamic list
whose condition has one `ilike` on a custom property, one `in` and one `begins-not`, through the
same service the API uses. The baseline is a bare count(*) of the contacts table, and the count is
checked against a plain SQL query written by hand for the same condition.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlalchemy import text

from kirje.services.base import utc_now
from kirje.services.system import System
from kirje.settings import Settings
from kirje.store.bulk import load_contacts

CITIES = ("Helsinki", "Espoo", "Tampere", "Vantaa", "Oulu", "Turku", "Hella", "Lahti")
TIERS = ("gold", "silver", "bronze", "none")
CONDITION = {
    "conditions": [
        {"name": "city", "condition": "ilike", "value": "hel"},
        {"name": "tier", "condition": "in", "value": ["gold", "silver"]},
        {"name": "email", "condition": "begins-not", "value": "test"},
    ],
    "enabled": True,
}
# The same condition, written by hand: the count must agree with the compiled one.
PLAIN_SQL = {
    "postgresql": (
        "SELECT count(*) FROM contacts WHERE account_id = :account AND deleted_at IS NULL "
        "AND properties->>'city' ILIKE '%hel%' AND properties->>'tier' IN ('gold', 'silver') "
        "AND (email IS NULL OR email NOT ILIKE 'test%')"
    ),
    "sqlite": (
        "SELECT count(*) FROM contacts WHERE account_id = :account AND deleted_at IS NULL "
        "AND lower(json_extract(properties, '$.city')) LIKE '%hel%' "
        "AND json_extract(properties, '$.tier') IN ('gold', 'silver') "
        "AND (email IS NULL OR lower(email) NOT LIKE 'test%')"
    ),
}
WARM_RUNS = 5


@dataclass(frozen=True)
class SegmentBenchOptions:
    contacts: int


def run_segment_bench(options: SegmentBenchOptions) -> dict:
    settings = Settings()
    system = System.open(settings)
    system.migrate()
    try:
        account = system.accounts.create("Segment bench")
        services = system.for_account(account.account_id)
        services.properties.create("city")
        services.properties.create("tier")
        _say(f"loading {options.contacts} contacts on {system.db.backend}")
        load_seconds = _timed(lambda: _load(system, account.account_id, options.contacts))
        _analyze(system)
        list_id = services.lists.create(
            "Helsinki region, gold and silver", condition=json.dumps(CONDITION)
        )
        system.db.dispose()  # cold: fresh connections, no statement or plan cached
        started = time.perf_counter()
        members = services.lists.member_count(list_id)
        cold = time.perf_counter() - started
        warm = statistics.median(
            _timed(lambda: services.lists.member_count(list_id)) for _ in range(WARM_RUNS)
        )
        baseline = statistics.median(_timed(lambda: _count_all(system)) for _ in range(WARM_RUNS))
        plain = _plain_count(system, account.account_id)
    finally:
        system.close()
    return {
        "scenario": "segment",
        "database": system.db.backend,
        "contacts": options.contacts,
        "cold_ms": round(cold * 1000, 1),
        "warm_ms": round(warm * 1000, 1),
        "baseline_ms": round(baseline * 1000, 1),
        "members": members,
        "plain_sql_members": plain,
        "counts_agree": members == plain,
        "load_seconds": round(load_seconds, 2),
        "load_rows_per_s": round(options.contacts / load_seconds) if load_seconds else None,
    }


def _rows(count: int) -> Iterator[tuple[str, None, dict[str, str]]]:
    chooser = random.Random(42)
    for index in range(count):
        prefix = "test" if chooser.random() < 0.1 else "user"
        properties = {"city": chooser.choice(CITIES), "tier": chooser.choice(TIERS)}
        yield f"{prefix}{index}@example.com", None, properties


def _load(system: System, account_id: int, count: int) -> None:
    with system.db.transaction() as conn:
        load_contacts(conn, account_id, _rows(count), utc_now())


def _analyze(system: System) -> None:
    with system.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE contacts" if system.db.backend == "postgresql" else "ANALYZE"))


def _count_all(system: System) -> int:
    with system.db.reading() as conn:
        return conn.execute(text("SELECT count(*) FROM contacts")).scalar_one()


def _plain_count(system: System, account_id: int) -> int:
    with system.db.reading() as conn:
        query = text(PLAIN_SQL[system.db.backend])
        return conn.execute(query, {"account": account_id}).scalar_one()


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _say(message: str) -> None:
    print(f"kirje bench segment: {message}", file=sys.stderr, flush=True)
