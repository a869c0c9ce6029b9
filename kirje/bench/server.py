"""The server under test for HTTP benchmarks: `kirje serve` as a subprocess, and a watch on it."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil

from kirje.bench.load import HOST
from kirje.settings import Settings

READY_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 10.0


@contextlib.contextmanager
def server_process(settings: Settings, port: int, workers: int) -> Iterator[subprocess.Popen]:
    """`kirje serve` in its own process group, always stopped on the way out."""
    env = {**os.environ, "KIRJE_DATA_DIR": str(settings.data_dir)}
    command = [*_kirje_command(), "serve", "--host", HOST, "--port", str(port)]
    command += ["--workers", str(workers)]
    # The server's stdout goes to our stderr: our stdout carries the one result line.
    process = subprocess.Popen(command, env=env, stdout=sys.stderr, start_new_session=True)
    try:
        _wait_until_ready(process, port)
        yield process
    finally:
        _stop(process)


@contextlib.contextmanager
def exit_on_sigterm() -> Iterator[None]:
    """A terminated bench still stops its server: the server has a process group of its own,
    so nothing else would."""

    def leave(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, leave)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _kirje_command() -> list[str]:
    script = Path(sys.executable).parent / "kirje"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from kirje.cli import main; main()"]


def _wait_until_ready(process: subprocess.Popen, port: int) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    with httpx.Client(base_url=f"http://{HOST}:{port}", timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"kirje serve exited with {process.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if client.get("/health").status_code == 200:
                    return
            time.sleep(0.1)
    raise TimeoutError(f"kirje serve was not ready within {READY_TIMEOUT_SECONDS:.0f} s")


def _stop(process: subprocess.Popen) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
            return
        except subprocess.TimeoutExpired:
            continue


class ServerWatch:
    """The server's process tree: peak resident memory, sampled on a thread, and CPU time."""

    INTERVAL_SECONDS = 0.1

    def __init__(self, pid: int) -> None:
        self._root = psutil.Process(pid)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.peak_rss_bytes = 0

    def __enter__(self) -> ServerWatch:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stopping.set()
        self._thread.join(timeout=STOP_TIMEOUT_SECONDS)

    def _run(self) -> None:
        while not self._stopping.wait(self.INTERVAL_SECONDS):
            rss = sum(self._each(lambda process: process.memory_info().rss).values())
            self.peak_rss_bytes = max(self.peak_rss_bytes, rss)

    def cpu_seconds(self) -> dict[int, float]:
        """User and system CPU time so far of each process in the tree, by pid."""
        return self._each(lambda process: sum(process.cpu_times()[:2]))

    def _each(self, measure: Callable[[psutil.Process], float]) -> dict[int, float]:
        """A figure for every process of the tree still there when asked: workers may exit."""
        figures: dict[int, float] = {}
        with contextlib.suppress(psutil.Error):
            for process in [self._root, *self._root.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    figures[process.pid] = measure(process)
        return figures


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]
