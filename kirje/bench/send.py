"""The `send` scenario: a personalised, DKIM-signed delivery through the real pipeline.

It loads N contacts with properties onto one list, sends a delivery to it through the delivery
job (render, build, sign, SMTP pool, ledger) into a local sink that counts what arrives, and in
the same run measures the baseline: a minimal aiosmtplib sender pushing pre-built messages into
the same sink over the same number of connections. The sink is Postfix's smtp-sink when it is
installed, else an aiosmtpd sink in a process of its own (kirje.bench.sink); the JSON says which.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import aiosmtplib
from sqlalchemy import insert, literal, select

from kirje.bench.server import free_port
from kirje.domain.deliveries import DeliveryKind, Letter
from kirje.domain.jobs import JobState
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
    concurrency: int


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
            with _DescendantPeaks() as descendants:
                throughput, job = _send(system, options.recipients)
            # Taken before the sink's count is read: the job's own process (this one), and
            # the largest of the processes it started (the fork server, the share processes).
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
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
        # Per process, as the target is.
        "peak_rss_mb": round(peak, 1),
        "peak_rss_mb_share_processes": descendants.largest_mb,
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
    job = services.jobs.get(delivery.job_id)
    if job.state != JobState.DONE:
        raise RuntimeError(f"the delivery job ended {job.state}: {job.error}")
    return count / seconds, job.result or {}


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


class _DescendantPeaks:
    """The largest peak RSS (VmHWM) among this process's descendants while the block runs,
    read from /proc twice a second. The share processes are children of the fork server, not
    of this process, so getrusage(RUSAGE_CHILDREN) never sees them. None without /proc."""

    def __init__(self) -> None:
        self._peaks: dict[int, int] = {}
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="peaks", daemon=True)

    def __enter__(self) -> _DescendantPeaks:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._done.set()
        self._thread.join()

    @property
    def largest_mb(self) -> float | None:
        return round(max(self._peaks.values()) / 1024, 1) if self._peaks else None

    def _watch(self) -> None:
        while not self._done.wait(0.5):
            for pid, peak_kb in _descendant_peaks(os.getpid()).items():
                self._peaks[pid] = max(peak_kb, self._peaks.get(pid, 0))


def _descendant_peaks(root: int) -> dict[int, int]:
    parents: dict[int, int] = {}
    peaks: dict[int, int] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError, ValueError):
            fields = dict(
                line.split(":", 1) for line in (entry / "status").read_text().splitlines()
            )
            parents[int(entry.name)] = int(fields["PPid"])
            if "VmHWM" in fields:
                peaks[int(entry.name)] = int(fields["VmHWM"].split()[0])
    descendants = {}
    for pid, peak in peaks.items():
        ancestor = parents.get(pid)
        while ancestor not in (None, 0, 1, root):
            ancestor = parents.get(ancestor)
        if ancestor == root and pid != root:
            descendants[pid] = peak
    return descendants


@dataclass
class _Sink:
    kind: str
    port: int
    process: subprocess.Popen
    out: Path

    def stop(self) -> dict[str, int]:
        """Recipients received, with how many times each."""
        self.process.terminate()
        self.process.wait(timeout=30)
        if not self.out.exists():
            return {}
        if self.kind == "aiosmtpd":
            return json.loads(self.out.read_text())
        return _dumped_recipients(self.out)


@contextmanager
def _sink(folder: Path) -> Iterator[_Sink]:
    port = free_port()
    if shutil.which("smtp-sink"):
        # smtp-sink counts messages, not recipients: it dumps every transaction (envelope
        # first) into a file, in memory when /dev/shm is there, read once it has stopped.
        dumps = Path(tempfile.mkdtemp(prefix="kirje-sink-", dir=_memory_folder(folder)))
        dumps.chmod(0o777)  # the sink drops root's rights before it writes
        out = dumps / "dump"
        command = ["smtp-sink", "-D", str(out), f"127.0.0.1:{port}", "1000"]
        if os.geteuid() == 0:
            command[1:1] = ["-u", "nobody"]
        kind = "smtp-sink"
    else:
        out = folder / "received.json"
        command = [sys.executable, "-m", "kirje.bench.sink", "--port", str(port), "--out", str(out)]
        kind = "aiosmtpd"
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        if kind == "aiosmtpd":
            assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        else:
            _wait_for_port(port)
        yield _Sink(kind, port, process, out)
    finally:
        if process.poll() is None:
            process.kill()
        if kind == "smtp-sink":
            shutil.rmtree(out.parent, ignore_errors=True)


def _memory_folder(fallback: Path) -> Path:
    shm = Path("/dev/shm")
    return shm if shm.is_dir() and os.access(shm, os.W_OK) else fallback


def _wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


_RECIPIENT = re.compile(rb"^X-Rcpt-Args: <([^>]*)>", re.MULTILINE)


def _dumped_recipients(dump: Path) -> dict[str, int]:
    """Counts the envelope recipients in smtp-sink's dump, a megabyte at a time (the dump
    holds every message: reading it whole would be the largest allocation of the bench)."""
    counts: Counter[str] = Counter()
    tail = b""
    with open(dump, "rb") as file:
        while chunk := file.read(1 << 20):
            # A line cut at the chunk's end is read again with the next chunk.
            text = tail + chunk
            cut = text.rfind(b"\n") + 1
            text, tail = text[:cut], text[cut:]
            counts.update(match.decode() for match in _RECIPIENT.findall(text))
    counts.update(match.decode() for match in _RECIPIENT.findall(tail))
    return dict(counts)


def _say(message: str) -> None:
    print(f"kirje bench send: {message}", file=sys.stderr, flush=True)
