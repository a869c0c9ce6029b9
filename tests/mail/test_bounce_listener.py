"""`kirje bounces` as a user runs it: a real process reading a maildir or listening for SMTP."""

from __future__ import annotations

import smtplib
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from kirje.domain.deliveries import DeliveryKind, Letter
from kirje.domain.messages import MessageContent
from kirje.services.system import System
from kirje.settings import Settings
from tests.mail.test_bounces import OUT_OF_OFFICE, dsn, mailbox_full, verp
from tests.processes import KIRJE, environment, run_kirje


@dataclass(frozen=True)
class Mailed:
    account_id: int
    delivery_id: int
    aino: int
    eino: int


def mail_two(data_dir: Path) -> Mailed:
    """A delivery to Aino and Eino in the SQLite database `kirje` finds in data_dir."""
    system = System.open(Settings(data_dir=data_dir))
    system.migrate()
    account_id = system.accounts.create("Bounced").account_id
    services = system.for_account(account_id)
    content = MessageContent(
        subject="Uutiskirje", html="<p>Hei!</p>", from_email="news@example.com"
    )
    draft_id = services.messages.create(content).id
    news = services.lists.create("Uutiset")
    aino = services.contacts.create(email="aino@example.com", sms=None)
    eino = services.contacts.create(email="eino@example.com", sms=None)
    services.lists.join(news, [aino, eino])
    delivery = services.deliveries.send(DeliveryKind.BATCH, Letter(draft_id), list_ids=[news])
    system.close()
    return Mailed(account_id, delivery.id, aino, eino)


def bounced(data_dir: Path, mailed: Mailed) -> dict[str, bool]:
    system = System.open(Settings(data_dir=data_dir))
    services = system.for_account(mailed.account_id)
    marks = {
        name: services.contacts.get(contact_id).contact.bounced_at is not None
        for name, contact_id in (("aino", mailed.aino), ("eino", mailed.eino))
    }
    system.close()
    return marks


def test_a_maildir_is_read_once(data_dir: Path) -> None:
    mailed = mail_two(data_dir)
    maildir = data_dir / "bounces"
    for folder in ("new", "cur", "tmp"):
        (maildir / folder).mkdir(parents=True)
    (maildir / "new" / "1001.A.mx").write_bytes(
        dsn("aino@example.com", mailed.delivery_id, mailed.aino)
    )
    (maildir / "new" / "1002.B.mx").write_bytes(OUT_OF_OFFICE)
    # Read by a mail client, not by us: taken.
    soft = mailbox_full("eino@example.com", mailed.delivery_id, mailed.eino)
    (maildir / "cur" / "1000.C.mx:2,F").write_bytes(soft)
    # Flagged seen: taken before, skipped.
    hard = dsn("eino@example.com", mailed.delivery_id, mailed.eino)
    (maildir / "cur" / "999.D.mx:2,S").write_bytes(hard)

    first = run_kirje(data_dir, "bounces", "--maildir", str(maildir)).stdout
    assert first == ('{"hard": 1, "soft": 1, "duplicate": 0, "unmatched": 0, "not-a-bounce": 1}\n')
    assert not list((maildir / "new").iterdir())
    assert sorted(path.name for path in (maildir / "cur").iterdir()) == [
        "1000.C.mx:2,FS",
        "1001.A.mx:2,S",
        "1002.B.mx:2,S",
        "999.D.mx:2,S",
    ]
    assert bounced(data_dir, mailed) == {"aino": True, "eino": False}
    again = run_kirje(data_dir, "bounces", "--maildir", str(maildir)).stdout
    assert again == '{"hard": 0, "soft": 0, "duplicate": 0, "unmatched": 0, "not-a-bounce": 0}\n'


@contextmanager
def listening(data_dir: Path, **settings: str) -> Iterator[int]:
    """`kirje bounces --listen` on a free port; stopped with SIGTERM afterwards."""
    port = free_port()
    process = subprocess.Popen(
        [KIRJE, "bounces", "--listen", f"127.0.0.1:{port}"],
        env={**environment(data_dir), **settings},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_smtp(process, port)
        yield port
    finally:
        process.terminate()
        assert process.wait(timeout=20) == 0, process.stderr.read() if process.stderr else ""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_smtp(process: subprocess.Popen, port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=5):
                return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(process.stderr.read() if process.stderr else "") from None
            time.sleep(0.1)


def send_bounce(port: int, recipient: str, raw: bytes) -> tuple[int, bytes]:
    """One message from the null sender, as an MTA hands a bounce on; the reply to DATA."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo("mx.example.com")
        assert client.mail("")[0] == 250
        assert client.rcpt(recipient)[0] == 250
        return client.data(raw)


def test_the_listener_records_a_dsn_sent_over_smtp(data_dir: Path) -> None:
    mailed = mail_two(data_dir)
    # Delivered-To and the other headers name Eino's mail: the envelope decides.
    raw = dsn("aino@example.com", mailed.delivery_id, mailed.eino, delivered_to=False)
    with listening(data_dir) as port:
        recipient = verp(mailed.delivery_id, mailed.aino)
        assert send_bounce(port, recipient, raw) == (250, b"2.0.0 OK: hard")
        assert send_bounce(port, recipient, raw) == (250, b"2.0.0 OK: duplicate")
        assert send_bounce(port, recipient, OUT_OF_OFFICE) == (250, b"2.0.0 OK: not-a-bounce")
    assert bounced(data_dir, mailed) == {"aino": True, "eino": False}


def test_the_listener_asks_the_mta_to_retry_while_the_database_is_down(data_dir: Path) -> None:
    nothing_there = f"postgresql://postgres@127.0.0.1:{free_port()}/kirje"
    with listening(data_dir, KIRJE_DATABASE_URL=nothing_there) as port:
        code, reply = send_bounce(port, verp(1, 2), dsn("aino@example.com", 1, 2))
    assert (code, reply) == (451, b"4.3.0 Bounce not recorded, try again later")
