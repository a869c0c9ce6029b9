"""Running `kirje` as a user does: real processes, each with a data directory of its own."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

KIRJE = str(Path(sys.executable).parent / "kirje")


def environment(data_dir: Path) -> dict[str, str]:
    """This environment without any KIRJE_* setting, on SQLite in data_dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIRJE_")}
    env["KIRJE_DATA_DIR"] = str(data_dir)
    return env


def run_kirje(
    data_dir: Path, *args: str, timeout: float = 90, check: bool = True
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KIRJE, *args],
        env=environment(data_dir),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=check,
    )


def kirje_json(data_dir: Path, *args: str) -> dict:
    """Runs a command that must print exactly one JSON line on stdout, and reads it."""
    printed = run_kirje(data_dir, *args).stdout
    assert printed.count("\n") == 1, printed
    return json.loads(printed)


@dataclass
class Served:
    process: subprocess.Popen
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stderr(self) -> str:
        """What the server printed; call after the `serving` block has stopped it."""
        return self.process.stderr.read() if self.process.stderr else ""


@contextmanager
def serving(data_dir: Path, *args: str) -> Iterator[Served]:
    """`kirje serve` on a free port, answering /health; stopped with SIGTERM afterwards."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [KIRJE, "serve", "--port", str(port), *args],
        env=environment(data_dir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    served = Served(process, port)
    try:
        wait_for(f"{served.url}/health")
        yield served
    finally:
        process.terminate()
        process.wait(timeout=20)


def wait_for(url: str, seconds: float = 60) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        try:
            return httpx.get(url, timeout=2).json()
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
