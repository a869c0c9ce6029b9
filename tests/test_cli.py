"""The command line, run as a user runs it: real processes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.liana_clients import Credentials, LianaClient

KIRJE = str(Path(sys.executable).parent / "kirje")


def _environment(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIRJE_")}
    env["KIRJE_DATA_DIR"] = str(data_dir)
    return env


def test_account_create_prints_one_json_object(data_dir: Path) -> None:
    done = subprocess.run(
        [KIRJE, "account", "create", "--name", "Shop Oy", "--realm", "eur"],
        env=_environment(data_dir),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    created = json.loads(done.stdout)
    assert done.stdout.count("\n") == 1
    assert set(created) == {"account_id", "liana"}
    assert created["liana"]["realm"] == "EUR"
    assert isinstance(created["liana"]["user_id"], int)
    assert len(created["liana"]["secret"]) == 32
    assert (data_dir / "secret.key").exists()
    assert created["liana"]["secret"].encode() not in (data_dir / "kirje.db").read_bytes()


def test_serve_answers_health_and_signed_calls(data_dir: Path) -> None:
    env = _environment(data_dir)
    created = json.loads(
        subprocess.run(
            [KIRJE, "account", "create", "--name", "Served"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [KIRJE, "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        health = _wait_for(f"{base}/health")
        assert health == {"status": "ok", "database": "sqlite", "version": "0.1.0"}
        liana = created["liana"]
        client = LianaClient(base, Credentials(liana["user_id"], liana["secret"], liana["realm"]))
        assert client.result("echoMessage", "hello") == "hello"
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_serve_demo_prints_credentials_once_created(data_dir: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [KIRJE, "serve", "--demo", "--port", str(port), "--workers", "1"],
        env=_environment(data_dir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(f"http://127.0.0.1:{port}/health")
    finally:
        server.terminate()
        _, printed = server.communicate(timeout=20)
    assert "Created a demo account." in printed
    assert f"http://127.0.0.1:{port}/api/v1/<method>" in printed
    assert "secret:" in printed


def _wait_for(url: str) -> dict:
    deadline = time.monotonic() + 60
    while True:
        try:
            return httpx.get(url, timeout=2).json()
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_serve_replaces_a_worker_that_dies(data_dir: Path) -> None:
    import signal

    import psutil

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [KIRJE, "serve", "--port", str(port), "--workers", "2"],
        env=_environment(data_dir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(f"http://127.0.0.1:{port}/health")
        workers = _workers(psutil.Process(server.pid), 2)
        os.kill(workers[0].pid, signal.SIGKILL)
        replaced = _workers(psutil.Process(server.pid), 2, without=workers[0].pid)
        assert workers[0].pid not in {w.pid for w in replaced}
        assert _wait_for(f"http://127.0.0.1:{port}/health")["status"] == "ok"
    finally:
        server.terminate()
        server.wait(timeout=20)
    assert (
        not psutil.pid_exists(workers[1].pid) or psutil.Process(workers[1].pid).status() == "zombie"
    )


def _workers(parent, count: int, without: int | None = None) -> list:
    """The serving children (the spawn helper process of multiprocessing is not one)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        children = [
            c
            for c in parent.children()
            if c.pid != without
            and c.is_running()
            and "resource_tracker" not in " ".join(c.cmdline())
        ]
        if len(children) == count:
            return children
        time.sleep(0.2)
    raise AssertionError(f"expected {count} workers, found {parent.children()}")


def test_set_rate_limit_changes_one_users_limit(data_dir: Path) -> None:
    env = _environment(data_dir)
    run = dict(env=env, capture_output=True, text=True, timeout=60)
    created = json.loads(subprocess.run([KIRJE, "account", "create", "--name", "R"], **run).stdout)
    user_id = str(created["liana"]["user_id"])
    assert (
        subprocess.run([KIRJE, "account", "set-rate-limit", user_id, "25"], **run).returncode == 0
    )
    from kirje.services.system import System
    from kirje.settings import Settings

    system = System.open(Settings(data_dir=data_dir))
    assert system.accounts.load_credential(int(user_id)).rate_limit_per_second == 25
    system.close()
    refused = subprocess.run([KIRJE, "account", "set-rate-limit", "999999", "5"], **run)
    assert refused.returncode == 1
    assert refused.stderr.strip() == "error: API user 999999 not found"
