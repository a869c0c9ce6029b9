"""The `events` scenario: LianaAutomation event imports through the real HTTP endpoint.

N events for N/10 identities (ten events each: page views, carts, orders) go in signed
requests of 500 events over several connections to `kirje serve`, as shops' plugins send
them. In the same run the same rows are written by a bare COPY into an unindexed table (on
SQLite: one executemany in one transaction): the most the database itself takes, the baseline.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
from sqlalchemy import text

from kirje.api.auth import content_md5, signature
from kirje.bench.load import HOST
from kirje.bench.server import ServerWatch, exit_on_sigterm, free_port, server_process
from kirje.domain.channels import ChannelChanges
from kirje.services.system import System
from kirje.settings import Settings

EVENTS_PER_REQUEST = 500
EVENTS_PER_IDENTITY = 10
RATE_LIMIT_PER_SECOND = 1_000_000
BASELINE_TABLE = "bench_events_baseline"
PATH = "/rest/v1/import"
VERBS = (
    "pbr",
    "pbr",
    "pbr",
    "pbr",
    "addtocart",
    "addtocart",
    "login",
    "order",
    "orderrow",
    "formsend",
)
PRODUCTS = ("Tea", "Coffee", "Mug", "Kettle", "Honey", "Rye bread")


@dataclass(frozen=True)
class EventsBenchOptions:
    events: int
    connections: int = 8
    workers: int = 2


@dataclass(frozen=True)
class Prepared:
    realm: str
    user_id: int
    secret: bytes
    channel_id: int


def run_events_bench(options: EventsBenchOptions) -> dict:
    if options.events < EVENTS_PER_REQUEST:
        raise ValueError(f"--events is at least {EVENTS_PER_REQUEST} (one request)")
    bodies = [orjson.dumps(body) for body in _import_bodies(options.events)]
    with exit_on_sigterm(), tempfile.TemporaryDirectory(prefix="kirje-bench-") as scratch:
        settings = (
            Settings() if os.environ.get("KIRJE_DATA_DIR") else Settings(data_dir=Path(scratch))
        )
        _say(f"{options.events} events in {len(bodies)} requests on {settings.database_backend}")
        user = _prepare(settings)
        bodies = [
            body.replace(b'"channel":"0"', f'"channel":"{user.channel_id}"'.encode())
            for body in bodies
        ]
        port = free_port()
        with (
            server_process(settings, port, options.workers) as server,
            ServerWatch(server.pid) as watch,
        ):
            seconds, latencies, errors = asyncio.run(_send(user, port, bodies, options.connections))
        baseline = _bare_copy(settings, bodies)
    throughput = options.events / seconds
    latencies.sort()
    return {
        "scenario": "events",
        "database": settings.database_backend,
        "events": options.events,
        "throughput": round(throughput, 1),
        "unit": "events/s",
        "baseline": round(baseline, 1),
        "ratio": round(throughput / baseline, 3) if baseline else None,
        "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, 1),
        "peak_rss_mb": round(watch.peak_rss_bytes / 2**20, 1),
        "connections": options.connections,
        "workers": options.workers,
        "errors": errors,
    }


def _import_bodies(events: int):
    """Import bodies of EVENTS_PER_REQUEST events, EVENTS_PER_IDENTITY per identity; the
    channel is filled in once it exists."""
    chooser = random.Random(11)
    identities = max(1, events // EVENTS_PER_IDENTITY)
    data = []
    for person in range(identities):
        identity = {
            "email": f"visitor{person}@example{person % 89}.com",
            "token": f"tok{person:012x}",
        }
        data.append(
            {
                "identity": identity,
                "events": [_event(chooser, n) for n in range(EVENTS_PER_IDENTITY)],
            }
        )
    per_request = EVENTS_PER_REQUEST // EVENTS_PER_IDENTITY
    for start in range(0, len(data), per_request):
        yield {"channel": "0", "no_duplicates": False, "data": data[start : start + per_request]}


def _event(chooser: random.Random, n: int) -> dict:
    verb = VERBS[n % len(VERBS)]
    product = chooser.choice(PRODUCTS)
    items = {"url": f"https://shop.example/{product.lower().replace(' ', '-')}", "product": product}
    if verb in ("order", "orderrow", "addtocart"):
        items |= {
            "quantity": chooser.randint(1, 5),
            "total": f"{chooser.uniform(3, 90):.2f}",
            "currency": "EUR",
        }
    return {"verb": verb, "items": items}


def _prepare(settings: Settings) -> Prepared:
    system = System.open(settings, pool_size=1)
    try:
        system.migrate()
        created = system.accounts.create(f"bench events {datetime.now().isoformat()}")
        system.accounts.set_rate_limit(created.user_id, RATE_LIMIT_PER_SECOND)
        channel = system.for_account(created.account_id).channels.create(
            ChannelChanges(name="Bench shop")
        )
    finally:
        system.close()
    return Prepared(created.realm, created.user_id, created.secret.encode(), channel.id)


def _signed_headers(user: Prepared, body: bytes) -> dict[str, str]:
    date = datetime.now(UTC).isoformat(timespec="seconds")
    md5 = content_md5(body)
    sig = signature(user.secret, "POST", md5, date, body, PATH.encode())
    return {
        "Content-Type": "application/json",
        "Content-md5": md5,
        "Date": date,
        "Authorization": f"{user.realm} {user.user_id}:{sig}",
    }


async def _send(user: Prepared, port: int, bodies: list[bytes], connections: int):
    """Sends every body once over `connections` connections; (seconds, latencies, errors)."""
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(
        base_url=f"http://{HOST}:{port}", timeout=120, limits=limits
    ) as client:

        async def drive() -> None:
            nonlocal errors
            while not queue.empty():
                body = queue.get_nowait()
                headers = _signed_headers(user, body)
                began = time.perf_counter()
                response = await client.post(PATH, content=body, headers=headers)
                latencies.append(time.perf_counter() - began)
                if response.status_code != 200 or response.json().get("succeed") is not True:
                    errors += 1
                    if errors <= 3:
                        _say(f"request failed: {response.status_code} {response.text[:200]}")

        started = time.perf_counter()
        await asyncio.gather(*(drive() for _ in range(connections)))
        return time.perf_counter() - started, latencies, errors


def _bare_copy(settings: Settings, bodies: list[bytes]) -> float:
    """Events per second of writing the same rows into an unindexed table, by the database's
    own bulk path."""
    now = datetime.now(UTC)
    rows = []
    for body in bodies:
        for person, entry in enumerate(orjson.loads(body)["data"]):
            for event in entry["events"]:
                rows.append(
                    (1, person, event["verb"], now, 1, orjson.dumps(event["items"]).decode())
                )
    system = System.open(settings, pool_size=1)
    try:
        with system.db.transaction() as conn:
            conn.execute(text(f"DROP TABLE IF EXISTS {BASELINE_TABLE}"))
            json_type = "JSONB" if system.db.backend == "postgresql" else "TEXT"
            conn.execute(
                text(
                    f"CREATE TABLE {BASELINE_TABLE} (account_id BIGINT, contact_id BIGINT,"
                    f" type TEXT, at TIMESTAMP WITH TIME ZONE, channel_id BIGINT, data {json_type})"
                )
            )
        started = time.perf_counter()
        with system.db.transaction() as conn:
            if system.db.backend == "postgresql":
                cursor = conn.connection.driver_connection.cursor()
                with cursor.copy(f"COPY {BASELINE_TABLE} FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                conn.connection.driver_connection.executemany(
                    f"INSERT INTO {BASELINE_TABLE} VALUES (?, ?, ?, ?, ?, ?)",
                    [(*row[:3], row[3].isoformat(), *row[4:]) for row in rows],
                )
        seconds = time.perf_counter() - started
        with system.db.transaction() as conn:
            conn.execute(text(f"DROP TABLE {BASELINE_TABLE}"))
    finally:
        system.close()
    return len(rows) / seconds


def _say(message: str) -> None:
    print(f"kirje bench events: {message}", file=sys.stderr, flush=True)
