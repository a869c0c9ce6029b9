"""The command line, run as a user runs it: real processes."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psutil

from kirje.services.system import System
from kirje.settings import Settings
from tests.liana_clients import Credentials, LianaClient
from tests.processes import kirje_json, run_kirje, serving, wait_for


def test_account_create_prints_one_json_object(data_dir: Path) -> None:
    created = kirje_json(data_dir, "account", "create", "--name", "Shop Oy", "--realm", "eur")
    assert set(created) == {"account_id", "liana"}
    assert created["liana"]["realm"] == "EUR"
    assert isinstance(created["liana"]["user_id"], int)
    assert len(created["liana"]["secret"]) == 32
    assert (data_dir / "secret.key").exists()
    assert created["liana"]["secret"].encode() not in (data_dir / "kirje.db").read_bytes()


def test_serve_answers_health_and_signed_calls(data_dir: Path) -> None:
    liana = kirje_json(data_dir, "account", "create", "--name", "Served")["liana"]
    with serving(data_dir, "--workers", "2") as server:
        health = wait_for(f"{server.url}/health")
        assert health == {"status": "ok", "database": "sqlite", "version": "0.1.0"}
        credentials = Credentials(liana["user_id"], liana["secret"], liana["realm"])
        assert LianaClient(server.url, credentials).result("echoMessage", "hello") == "hello"


def test_serve_demo_prints_credentials_once_created(data_dir: Path) -> None:
    with serving(data_dir, "--demo", "--workers", "1") as server:
        pass
    printed = server.stderr()
    assert "Created a demo account." in printed
    assert f"{server.url}/api/v1/<method>" in printed
    assert "secret:" in printed


def test_serve_replaces_a_worker_that_dies(data_dir: Path) -> None:
    with serving(data_dir, "--workers", "2", "--no-worker") as server:
        first = _workers(psutil.Process(server.process.pid), 2)
        os.kill(first[0].pid, signal.SIGKILL)
        after = _workers(psutil.Process(server.process.pid), 2, without=first[0].pid)
        assert {w.pid for w in after} - {w.pid for w in first}, "no new worker was started"
        assert wait_for(f"{server.url}/health")["status"] == "ok"
    assert not any(w.is_running() and w.status() != "zombie" for w in after)


def _workers(parent: psutil.Process, count: int, without: int | None = None) -> list:
    """The serving children (not multiprocessing's resource tracker), once there are count."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        children = [
            child
            for child in parent.children()
            if child.pid != without
            and child.is_running()
            and "resource_tracker" not in " ".join(child.cmdline())
        ]
        if len(children) == count:
            return children
        time.sleep(0.2)
    raise AssertionError(f"expected {count} workers, found {parent.children()}")


def test_set_rate_limit_changes_one_users_limit(data_dir: Path) -> None:
    user_id = str(kirje_json(data_dir, "account", "create", "--name", "R")["liana"]["user_id"])
    run_kirje(data_dir, "account", "set-rate-limit", user_id, "25")
    system = System.open(Settings(data_dir=data_dir))
    assert system.accounts.load_credential(int(user_id)).rate_limit_per_second == 25
    system.close()
    refused = run_kirje(data_dir, "account", "set-rate-limit", "999999", "5", check=False)
    assert refused.returncode == 1
    assert refused.stderr.strip() == "error: API user 999999 not found"


def test_an_operator_creates_a_typed_channel_that_imports_name(data_dir: Path) -> None:
    account = str(kirje_json(data_dir, "account", "create", "--name", "Shop")["account_id"])
    created = kirje_json(
        data_dir,
        "channel",
        "create",
        "--account",
        account,
        "--name",
        "Magento",
        "--type",
        "ecs",
        "--system-name",
        "ecs",
    )
    assert (created["name"], created["type"], created["system_name"]) == ("Magento", "ecs", "ecs")
    listed = run_kirje(data_dir, "channel", "list", "--account", account).stdout.splitlines()
    assert [line for line in listed if '"ecs"' in line] and len(listed) == 1
    system = System.open(Settings(data_dir=data_dir))
    assert system.for_account(int(account)).channels.id_named("ecs") == created["id"]
    system.close()


def test_a_draft_is_created_from_an_html_file(data_dir: Path) -> None:
    account = str(kirje_json(data_dir, "account", "create", "--name", "Shop")["account_id"])
    page = data_dir / "letter.html"
    page.write_text("<p>Hei $firstname$, tilauksesi on vastaanotettu.</p>", encoding="utf-8")
    created = kirje_json(
        data_dir,
        "draft",
        "create",
        "--account",
        account,
        "--subject",
        "Tilaus $order_num$",
        "--html-file",
        str(page),
        "--from",
        "kauppa@example.com",
    )
    assert set(created) == {"id"}
    system = System.open(Settings(data_dir=data_dir))
    draft = system.for_account(int(account)).messages.get(created["id"])
    system.close()
    assert (draft.subject, draft.html, draft.from_email) == (
        "Tilaus $order_num$",
        page.read_text(encoding="utf-8"),
        "kauppa@example.com",
    )
