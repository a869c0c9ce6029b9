"""The `send` scenario: a personalised, DKIM-signed delivery through the real pipeline.

It loads N contacts with properties onto one list, sends a delivery to it through the delivery
job (render, build, sign, SMTP pool, ledger) into a local sink that counts what arrives, and in
the same run measures the baseline: a minimal aiosmtplib sender pushing pre-built messages into
the same sink over the same number of connections. The sink is Postfix's smtp-sink when it is
installed, else an aiosmtpd sink in a process of its own (kirje.bench.sink); the JSON says which.
"""

from __future__ import annotations

import asyncio
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import aiosmtplib
from sqlalchemy import insert, literal, select

from kirje.bench.server import free_port
from kirje.domain.deliveries import DeliveryKind, Letter
from kirje.domain.messages import MessageContent
from kirje.jobs.runner import run_here
from kirje.mail.dkim import generate_key
from kirje.mail.mime import OutgoingMessage, build_message
from kirje.services.base import utc_now
from kirje.services.system import System
from kirje.settings import Settings
from kirje.store import dkim_keys as dkim_store
from kirje.store.bulk import load_contacts
from kirje.store.schema import contacts, list_members
from kirje.store.types import Id

HTML = (
    "<html><head><style>p { font-family: sans-serif; color: #333 }</style></head><body>"
    "<h1>Hei $firstname$!</h1>"
    + "<p>Viikon tarjoukset kaupungissa $city$: kahvi, tee ja hunaja. </p>" * 40
    + '<p><a href="https://shop.example/offers">Katso tarjoukset</a></p></body></html>'
)
DOMAIN = "bench.example"


@dataclass(frozen=True)
class SendBenchOptions:
    recipients: int
    concurrency: int = 8


def run_send_bench(options: SendBenchOptions) -> dict:
    with (
        tempfile.TemporaryDirectory(prefix="kirje-bench-send-") as folder,
        _sink(Path(folder)) as sink,
    ):
        base = Settings()
        smtp = f"smtp://127.0.0.1:{sink.port}?starttls=false&concurrency={options.concurrency}"
        settings = base.model_copy(update={"smtp_url": smtp})
        system = System.open(settings)
        try:
            system.migrate()
            baseline = _baseline(sink.port, options)
            throughput, job = _send(system, options.recipients)
        finally:
            system.close()
        received = sink.stop()
    ours = {
        address: count for address, count in received.items() if address.endswith("@send.bench")
    }
    return {
        "scenario": "send",
        "database": system.db.backend,
        "recipients": options.recipients,
        "throughput": round(throughput, 1),
        "unit": "msg/s",
        "baseline": round(baseline, 1),
        "ratio": round(throughput / baseline, 3) if baseline else None,
        "duplicates": sum(count - 1 for count in ours.values()),
        "missing": options.recipients - len(ours),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "sink": sink.kind,
        "concurrency": options.concurrency,
        "job": job,
    }


def _send(system: System, count: int) -> tuple[float, dict]:
    account = system.accounts.create(f"bench send {time.time()}")
    services = system.for_account(account.account_id)
    if not any(p.name == "city" for p in services.properties.all()):
        services.properties.create("city")
    list_id = services.lists.create("Bench")
    _say(f"loading {count} contacts")
    with system.db.transaction() as conn:
        rows = (
            (f"r{n}@send.bench", None, {"firstname": f"Nimi{n}", "city": "Tampere"})
            for n in range(count)
        )
        load_contacts(conn, account.account_id, rows, utc_now())
        conn.execute(
            insert(list_members).from_select(
                ["account_id", "list_id", "contact_id", "status", "is_admin", "joined_at"],
                select(
                    literal(account.account_id, Id),
                    literal(list_id, Id),
                    contacts.c.id,
                    literal("active"),
                    literal(True),
                    contacts.c.created_at,
                ).where(contacts.c.account_id == account.account_id),
            )
        )
    private_pem, _ = generate_key()
    with system.db.transaction() as conn:
        sealed = system.accounts.secret_box.seal(private_pem)
        dkim_store.replace_key(conn, account.account_id, DOMAIN, "bench", sealed, utc_now())
    draft = services.messages.create(
        MessageContent(subject="Tarjouksia, $firstname$", html=HTML, from_email=f"news@{DOMAIN}")
    )
    delivery = services.deliveries.send(DeliveryKind.BATCH, Letter(draft.id), list_ids=[list_id])
    _say(f"sending {count} messages through the delivery job")
    started = time.perf_counter()
    run_here(system, delivery.job_id)
    seconds = time.perf_counter() - started
    return count / seconds, services.jobs.get(delivery.job_id).result or {}


def _baseline(port: int, options: SendBenchOptions) -> float:
    """Messages per second of pre-built messages over the same number of connections."""
    count = min(options.recipients, 20_000)
    message = build_message(
        OutgoingMessage(
            from_address=f"news@{DOMAIN}",
            from_name="Bench",
            to_address="baseline@baseline.bench",
            subject="Tarjouksia",
            html=HTML,
            text="Tarjouksia",
            message_id=f"<baseline@{DOMAIN}>",
            return_path=f"bounces@{DOMAIN}",
        )
    )
    _say(f"baseline: {count} pre-built messages over {options.concurrency} connections")

    async def push() -> float:
        queue: asyncio.Queue[int] = asyncio.Queue()
        for n in range(count):
            queue.put_nowait(n)

        async def connection() -> None:
            smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
            await smtp.connect()
            while not queue.empty():
                n = queue.get_nowait()
                await smtp.sendmail(f"bounces@{DOMAIN}", [f"b{n}@baseline.bench"], message)
            await smtp.quit()

        started = time.perf_counter()
        await asyncio.gather(*(connection() for _ in range(options.concurrency)))
        return count / (time.perf_counter() - started)

    return asyncio.run(push())


@dataclass
class _Sink:
    kind: str
    port: int
    process: subprocess.Popen
    out: Path

    def stop(self) -> dict[str, int]:
        self.process.terminate()
        self.process.wait(timeout=30)
        return json.loads(self.out.read_text()) if self.out.exists() else {}


@contextmanager
def _sink(folder: Path) -> Iterator[_Sink]:
    port, out = free_port(), folder / "received.json"
    if shutil.which("smtp-sink"):
        # Postfix's sink does not count recipients: the ledger is then the only count.
        command = ["smtp-sink", "-c", f"127.0.0.1:{port}", "1000"]
        kind = "smtp-sink"
    else:
        command = [sys.executable, "-m", "kirje.bench.sink", "--port", str(port), "--out", str(out)]
        kind = "aiosmtpd"
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    if kind == "aiosmtpd":
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    else:
        time.sleep(0.5)
    sink = _Sink(kind, port, process, out)
    try:
        yield sink
    finally:
        if process.poll() is None:
            process.kill()


def _say(message: str) -> None:
    print(f"kirje bench send: {message}", file=sys.stderr, flush=True)
