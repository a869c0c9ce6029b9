"""Transports against a real SMTP server (aiosmtpd) and a real maildir."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kirje.domain.errors import Invalid, NotFound
from kirje.mail.transports import (
    Envelope,
    MaildirOutbox,
    Outcome,
    RecipientRefusal,
    SmtpPool,
    SmtpSettings,
    Status,
    Transport,
    list_outbox,
    read_outbox_message,
    transport_for,
)
from tests.mail.smtp_sink import SmtpSink

SENDER = "bounces@kirje.test"


@pytest.fixture(
    params=[("asyncio", {}), ("asyncio", {"use_uvloop": True})], ids=["asyncio", "uvloop"]
)
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict]:
    # The pool works on uvloop too (the loop `kirje serve` runs on), whose transports are no
    # asyncio.Transport subclasses.
    return request.param


@pytest.fixture(params=[True, False], ids=["pipelining", "one-command-at-a-time"])
def sink(request: pytest.FixtureRequest) -> Iterator[SmtpSink]:
    # Every behaviour holds whether the server offers PIPELINING (the pool then sends MAIL,
    # RCPT and DATA at once) or not.
    with SmtpSink(pipelining=request.param) as running:
        yield running


def message(recipient: str, subject: str = "Hello", body: str = "Hi there.") -> bytes:
    return (
        f"From: Kirje <news@kirje.test>\r\nTo: <{recipient}>\r\nSubject: {subject}\r\n"
        f"Date: Tue, 03 Mar 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        f"{body}\r\n"
    ).encode()


def to(recipient: str, **headers: str) -> tuple[Envelope, bytes]:
    return Envelope(SENDER, (recipient,)), message(recipient, **headers)


async def send(transport: Transport, messages: Sequence[tuple[Envelope, bytes]]) -> list[Outcome]:
    """Send and return the outcomes in message order, checking each was reported exactly once."""
    reported: dict[int, Outcome] = {}

    def record(index: int, outcome: Outcome) -> None:
        assert index not in reported, f"message {index} reported twice"
        reported[index] = outcome

    await transport.send_many(messages, record)
    assert sorted(reported) == list(range(len(messages)))
    return [reported[index] for index in range(len(messages))]


def statuses(outcomes: list[Outcome]) -> list[Status]:
    return [outcome.status for outcome in outcomes]


# -- SMTP pool: delivery and connections


@pytest.mark.anyio
async def test_many_messages_over_four_connections_arrive_once_each(sink: SmtpSink) -> None:
    batch = [
        to(
            f"reader{n}@example.test",
            subject=f"Issue {n}",
            # A line starting with a dot must survive dot-stuffing; 8-bit text passes as is.
            body=f".hidden dot line\r\nHyvää päivää, lukija {n}.\r\n.",
        )
        for n in range(120)
    ]
    pool = SmtpPool(SmtpSettings.from_url(sink.url(concurrency=4)))
    try:
        outcomes = await send(pool, batch)
    finally:
        await pool.close()

    assert statuses(outcomes) == [Status.SENT] * 120
    assert {outcome.code for outcome in outcomes} == {250}
    received = {m.recipients: m for m in sink.messages}
    assert len(sink.messages) == len(received) == 120
    for envelope, content in batch:
        arrived = received[envelope.recipients]
        assert arrived.sender == SENDER
        assert arrived.content == content
    # Four connections carried all 120 messages, each connection many of them.
    assert sink.connections == 4
    assert {m.connection for m in sink.messages} == {1, 2, 3, 4}


@pytest.mark.anyio
async def test_with_pipelining_mail_rcpt_and_data_go_out_at_once() -> None:
    # A server that answers nothing of a transaction before its MAIL, RCPT and DATA have all
    # arrived: a client that waited for each reply would stall there until its timeout.
    transactions: list[list[bytes]] = []

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 strict ESMTP\r\n")
        await reader.readline()
        writer.write(b"250-strict\r\n250-PIPELINING\r\n250 SIZE 1000000\r\n")
        while (first := await reader.readline()) and not first.startswith(b"QUIT"):
            group = [first, await reader.readline(), await reader.readline()]
            writer.write(b"250 sender ok\r\n250 recipient ok\r\n354 go ahead\r\n")
            await reader.readuntil(b"\r\n.\r\n")
            writer.write(b"250 queued\r\n")
            transactions.append(group)
        writer.write(b"221 bye\r\n")
        writer.close()

    server = await asyncio.start_server(session, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    pool = SmtpPool(SmtpSettings.from_url(f"smtp://127.0.0.1:{port}?starttls=false&timeout=2"))
    try:
        outcomes = await send(pool, [to(f"p{n}@example.test") for n in range(3)])
    finally:
        await pool.close()
        server.close()

    assert [(outcome.status, outcome.text) for outcome in outcomes] == [(Status.SENT, "queued")] * 3
    assert sorted(group[1] for group in transactions) == [
        f"RCPT TO:<p{n}@example.test>\r\n".encode() for n in range(3)
    ]
    assert {group[0].split(b" ")[0] + group[2] for group in transactions} == {b"MAIL" + b"DATA\r\n"}


@pytest.mark.anyio
async def test_connections_are_kept_open_between_batches(sink: SmtpSink) -> None:
    pool = SmtpPool(SmtpSettings.from_url(sink.url(concurrency=2)))
    try:
        first = await send(pool, [to(f"a{n}@example.test") for n in range(10)])
        second = await send(pool, [to(f"b{n}@example.test") for n in range(10)])
    finally:
        await pool.close()

    assert statuses(first + second) == [Status.SENT] * 20
    assert len(sink.messages) == 20
    assert sink.connections == 2


@pytest.mark.anyio
async def test_connections_the_server_closed_are_reopened(sink: SmtpSink) -> None:
    pool = SmtpPool(SmtpSettings.from_url(sink.url(concurrency=2)))
    try:
        await send(pool, [to(f"a{n}@example.test") for n in range(4)])
        sink.close_connections()
        after = await send(pool, [to(f"b{n}@example.test") for n in range(6)])
    finally:
        await pool.close()

    assert statuses(after) == [Status.SENT] * 6
    second_batch = [m.recipients[0] for m in sink.messages if m.recipients[0].startswith("b")]
    assert sorted(second_batch) == sorted(f"b{n}@example.test" for n in range(6))
    assert sink.connections == 4


def test_a_pool_moves_to_the_event_loop_it_is_used_in(sink: SmtpSink) -> None:
    pool = SmtpPool(SmtpSettings.from_url(sink.url(concurrency=2)))
    # A caller may run each batch in a loop of its own; connections of a finished loop are dropped.
    first = asyncio.run(send(pool, [to(f"a{n}@example.test") for n in range(4)]))
    second = asyncio.run(send(pool, [to(f"b{n}@example.test") for n in range(4)]))
    asyncio.run(pool.close())

    assert statuses(first + second) == [Status.SENT] * 8
    assert len(sink.messages) == 8


@pytest.mark.anyio
async def test_a_null_sender_is_sent_as_such(sink: SmtpSink) -> None:
    pool = SmtpPool(SmtpSettings.from_url(sink.url()))
    try:
        [outcome] = await send(
            pool, [(Envelope("", ("x@example.test",)), message("x@example.test"))]
        )
    finally:
        await pool.close()

    assert outcome.status is Status.SENT
    assert [m.sender for m in sink.messages] == [""]


# -- SMTP pool: what the server answers


@pytest.mark.anyio
async def test_a_temporary_refusal_is_reported_with_the_reply_and_the_connection_goes_on(
    sink: SmtpSink,
) -> None:
    sink.answer("busy@example.test", "450 4.2.1 Mailbox busy, try later")
    pool = SmtpPool(SmtpSettings.from_url(sink.url(concurrency=1)))
    try:
        outcomes = await send(
            pool, [to("busy@example.test"), to("one@example.test"), to("two@example.test")]
        )
    finally:
        await pool.close()

    assert outcomes[0] == Outcome(
        Status.TEMPORARY_FAILURE,
        450,
        "4.2.1 Mailbox busy, try later",
        (RecipientRefusal("busy@example.test", 450, "4.2.1 Mailbox busy, try later"),),
    )
    assert statuses(outcomes[1:]) == [Status.SENT, Status.SENT]
    assert [m.recipients for m in sink.messages] == [("one@example.test",), ("two@example.test",)]
    assert sink.connections == 1


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("stage", "reply", "status", "code"),
    [
        ("rcpt", "550 5.1.1 No such user", Status.PERMANENT_FAILURE, 550),
        ("data", "554 5.7.1 Message rejected as spam", Status.PERMANENT_FAILURE, 554),
        ("data", "451 4.3.0 Queue full", Status.TEMPORARY_FAILURE, 451),
    ],
)
async def test_refusals_are_classified_by_reply_code(
    sink: SmtpSink, stage: str, reply: str, status: Status, code: int
) -> None:
    sink.answer("refused@example.test", reply, at=stage)
    pool = SmtpPool(SmtpSettings.from_url(sink.url(concurrency=1)))
    try:
        refused, accepted = await send(pool, [to("refused@example.test"), to("ok@example.test")])
    finally:
        await pool.close()

    assert (refused.status, refused.code, refused.text) == (status, code, reply[4:])
    assert accepted.status is Status.SENT
    assert [m.recipients for m in sink.messages] == [("ok@example.test",)]


@pytest.mark.anyio
async def test_a_recipient_refused_among_several_is_listed_and_the_rest_get_the_message(
    sink: SmtpSink,
) -> None:
    sink.answer("gone@example.test", "550 5.1.1 Gone")
    envelope = Envelope(SENDER, ("here@example.test", "gone@example.test"))
    pool = SmtpPool(SmtpSettings.from_url(sink.url()))
    try:
        [outcome] = await send(pool, [(envelope, message("here@example.test"))])
    finally:
        await pool.close()

    assert outcome.status is Status.SENT
    assert outcome.refused == (RecipientRefusal("gone@example.test", 550, "5.1.1 Gone"),)
    assert [m.recipients for m in sink.messages] == [("here@example.test",)]


@pytest.mark.anyio
async def test_a_connection_lost_after_the_whole_message_leaves_its_fate_unknown(
    sink: SmtpSink,
) -> None:
    sink.drop("lost@example.test", at="data")
    pool = SmtpPool(SmtpSettings.from_url(sink.url(concurrency=1)))
    try:
        lost, after = await send(pool, [to("lost@example.test"), to("next@example.test")])
    finally:
        await pool.close()

    assert lost.status is Status.UNKNOWN
    assert lost.code is None
    # Why it cannot be retried blindly: the server did get it.
    assert [m.recipients for m in sink.messages] == [("lost@example.test",), ("next@example.test",)]
    assert after.status is Status.SENT
    assert sink.connections == 2


@pytest.mark.anyio
async def test_no_reply_within_the_timeout_after_the_message_is_unknown(sink: SmtpSink) -> None:
    sink.delay("slow@example.test", 30, at="data")
    pool = SmtpPool(SmtpSettings.from_url(sink.url(concurrency=1, timeout=0.5)))
    try:
        [outcome] = await send(pool, [to("slow@example.test")])
    finally:
        await pool.close()

    assert outcome.status is Status.UNKNOWN


@pytest.mark.anyio
async def test_a_connection_lost_before_the_message_is_retried_once_on_a_new_connection(
    sink: SmtpSink,
) -> None:
    sink.drop("flaky@example.test", at="rcpt", times=1)
    pool = SmtpPool(SmtpSettings.from_url(sink.url(concurrency=1)))
    try:
        [outcome] = await send(pool, [to("flaky@example.test")])
    finally:
        await pool.close()

    assert outcome.status is Status.SENT
    assert [m.recipients for m in sink.messages] == [("flaky@example.test",)]
    assert sink.connections == 2


@pytest.mark.anyio
async def test_a_server_closing_the_connection_with_421_gets_the_message_on_a_new_one(
    sink: SmtpSink,
) -> None:
    sink.answer("r@example.test", "421 4.7.0 Too many messages on this connection", times=1)
    pool = SmtpPool(SmtpSettings.from_url(sink.url(concurrency=1)))
    try:
        [outcome] = await send(pool, [to("r@example.test")])
    finally:
        await pool.close()

    assert outcome.status is Status.SENT
    assert [m.recipients for m in sink.messages] == [("r@example.test",)]
    assert sink.connections == 2


@pytest.mark.anyio
async def test_a_message_never_handed_over_is_a_temporary_failure(sink: SmtpSink) -> None:
    sink.drop("doomed@example.test", at="rcpt")
    pool = SmtpPool(SmtpSettings.from_url(sink.url(concurrency=1)))
    try:
        doomed, fine = await send(pool, [to("doomed@example.test"), to("fine@example.test")])
    finally:
        await pool.close()

    assert doomed.status is Status.TEMPORARY_FAILURE
    assert doomed.code is None
    assert "connection lost before the message was sent" in doomed.text
    assert fine.status is Status.SENT
    assert [m.recipients for m in sink.messages] == [("fine@example.test",)]


@pytest.mark.anyio
async def test_an_unreachable_server_fails_every_message_temporarily() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    pool = SmtpPool(SmtpSettings.from_url(f"smtp://127.0.0.1:{closed_port}?concurrency=3"))
    outcomes = await send(pool, [to(f"r{n}@example.test") for n in range(10)])
    await pool.close()

    assert statuses(outcomes) == [Status.TEMPORARY_FAILURE] * 10
    assert all("could not connect" in outcome.text for outcome in outcomes)


# -- SMTP pool: the rate limit


class FakeClock:
    """Time that passes only when the limiter sleeps; concurrent sleeps overlap, as real ones do."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        wake_at = self.now + seconds
        await asyncio.sleep(0)
        self.now = max(self.now, wake_at)


@pytest.mark.anyio
async def test_the_rate_limit_holds_to_its_budget(sink: SmtpSink) -> None:
    clock = FakeClock()
    rate, burst, count = 10, 4, 60
    pool = SmtpPool(
        SmtpSettings.from_url(sink.url(concurrency=burst, rate=rate)),
        clock=clock,
        sleep=clock.sleep,
    )
    sent_at: list[float] = []
    try:
        await pool.send_many(
            [to(f"r{n}@example.test") for n in range(count)],
            lambda index, outcome: sent_at.append(clock.now),
        )
    finally:
        await pool.close()

    assert len(sink.messages) == count
    # By any moment t no more than the burst plus t seconds' worth have gone out...
    for sent, moment in enumerate(sorted(sent_at), start=1):
        assert sent <= burst + rate * moment + 1e-9
    # ...and the limiter did not hold them back longer than the budget asks.
    assert clock.now == pytest.approx((count - burst) / rate)


# -- SMTP pool: TLS and authentication


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("tls", "options"),
    [("starttls", {"starttls": "true"}), ("implicit", {})],
)
async def test_tls_connections_carry_the_messages(tls: str, options: dict[str, str]) -> None:
    with SmtpSink(tls=tls) as sink:
        pool = SmtpPool(SmtpSettings.from_url(sink.url(validate_certs="false", **options)))
        try:
            outcomes = await send(pool, [to("secret@example.test")])
        finally:
            await pool.close()
        assert statuses(outcomes) == [Status.SENT]
        assert [m.tls for m in sink.messages] == [True]


@pytest.mark.anyio
async def test_certificates_are_checked_unless_told_otherwise() -> None:
    with SmtpSink(tls="implicit") as sink:
        pool = SmtpPool(SmtpSettings.from_url(sink.url()))
        outcomes = await send(pool, [to("secret@example.test")])
        await pool.close()
        assert statuses(outcomes) == [Status.TEMPORARY_FAILURE]
        assert "certificate" in outcomes[0].text.lower()
        assert sink.messages == []


@pytest.mark.anyio
async def test_login_uses_the_percent_decoded_password_over_starttls() -> None:
    with SmtpSink(tls="starttls", credentials=("mailer", "p@ss:w/rd%")) as sink:
        # No starttls option: a URL with a password upgrades by default.
        password = quote("p@ss:w/rd%", safe="")
        url = f"smtp://mailer:{password}@127.0.0.1:{sink.port}?validate_certs=false"
        pool = SmtpPool(SmtpSettings.from_url(url))
        try:
            outcomes = await send(pool, [to("member@example.test")])
        finally:
            await pool.close()
        assert statuses(outcomes) == [Status.SENT]
        assert [(m.login, m.tls) for m in sink.messages] == [("mailer", True)]


@pytest.mark.anyio
async def test_a_wrong_password_fails_the_messages_temporarily() -> None:
    with SmtpSink(tls="starttls", credentials=("mailer", "right")) as sink:
        url = f"smtp://mailer:wrong@127.0.0.1:{sink.port}?validate_certs=false&concurrency=2"
        pool = SmtpPool(SmtpSettings.from_url(url))
        outcomes = await send(pool, [to(f"r{n}@example.test") for n in range(5)])
        await pool.close()
        assert statuses(outcomes) == [Status.TEMPORARY_FAILURE] * 5
        assert sink.messages == []


# -- SMTP settings


def test_smtp_url_with_every_option() -> None:
    settings = SmtpSettings.from_url(
        "smtp://user:s3cret@mail.example.test:587"
        "?starttls=true&concurrency=16&rate=2000&timeout=30&helo=out.example.test"
    )
    assert settings == SmtpSettings(
        host="mail.example.test",
        port=587,
        username="user",
        password="s3cret",
        implicit_tls=False,
        starttls=True,
        validate_certs=True,
        concurrency=16,
        rate_per_second=2000.0,
        timeout=30.0,
        helo="out.example.test",
    )


def test_smtp_url_defaults() -> None:
    plain = SmtpSettings.from_url("smtp://relay.internal")
    assert (plain.port, plain.starttls, plain.concurrency, plain.rate_per_second) == (
        25,
        False,
        8,
        None,
    )
    # With a password, STARTTLS unless said otherwise: credentials never cross in clear by default.
    assert SmtpSettings.from_url("smtp://u:p@relay.internal").starttls is True
    assert SmtpSettings.from_url("smtp://u:p@relay.internal?starttls=false").starttls is False
    implicit = SmtpSettings.from_url("smtps://u:p@mail.example.test?validate_certs=false")
    assert (implicit.port, implicit.implicit_tls, implicit.starttls) == (465, True, False)
    assert implicit.validate_certs is False


@given(st.text(min_size=1, max_size=40), st.text(min_size=1, max_size=40))
def test_smtp_url_credentials_are_percent_decoded(username: str, password: str) -> None:
    url = f"smtp://{quote(username, safe='')}:{quote(password, safe='')}@mail.example.test"
    settings = SmtpSettings.from_url(url)
    assert (settings.username, settings.password) == (username, password)


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("http://mail.example.test", "smtp:// or smtps://"),
        ("mail.example.test:25", "smtp:// or smtps://"),
        ("smtp://", "no host"),
        ("smtp://mail.example.test:99999", "bad port"),
        ("smtp://mail.example.test:twenty", "bad port"),
        ("smtp://mail.example.test/inbox", "no path"),
        ("smtp://mail.example.test?concurrency=0", "concurrency must be a whole number above 0"),
        ("smtp://mail.example.test?concurrency=many", "concurrency must be a whole number"),
        ("smtp://mail.example.test?rate=-5", "rate must be a number above 0"),
        ("smtp://mail.example.test?timeout=nan", "timeout must be a number above 0"),
        ("smtp://mail.example.test?starttls=maybe", "starttls must be true or false"),
        ("smtp://mail.example.test?pool=3", "option 'pool' is unknown"),
        ("smtps://mail.example.test?starttls=true", "already TLS"),
        ("smtp://mail.example.test?helo=bad%0D%0Aname", "helo must be a host name"),
    ],
)
def test_bad_smtp_urls_are_refused_with_a_reason(url: str, complaint: str) -> None:
    with pytest.raises(Invalid, match=complaint):
        SmtpSettings.from_url(url)


def test_errors_and_repr_never_show_the_password() -> None:
    with pytest.raises(Invalid) as refused:
        SmtpSettings.from_url("smtp://user:hunter2@mail.example.test?nonsense=1")
    assert "hunter2" not in str(refused.value)
    assert "***" in str(refused.value)
    assert "hunter2" not in repr(SmtpSettings.from_url("smtp://user:hunter2@mail.example.test"))


# -- Envelopes


@pytest.mark.parametrize(
    "address", ["a@example.test\r\nRCPT TO:<x@evil.test>", "a@example.test>", "two words@x.test"]
)
def test_envelope_addresses_that_could_inject_commands_are_refused(address: str) -> None:
    with pytest.raises(Invalid):
        Envelope(SENDER, (address,))
    with pytest.raises(Invalid):
        Envelope(address, ("a@example.test",))


def test_an_envelope_needs_a_recipient_but_may_have_a_null_sender() -> None:
    with pytest.raises(Invalid):
        Envelope(SENDER, ())
    assert Envelope("", ("postmaster@example.test",)).sender == ""


# -- The maildir outbox


@pytest.mark.anyio
async def test_the_outbox_stores_lists_newest_first_and_reads_back(tmp_path: Path) -> None:
    outbox = MaildirOutbox(tmp_path / "outbox")
    sent = []
    for n, subject in enumerate(["First", "=?utf-8?q?Toinen_p=C3=A4iv=C3=A4?=", "Third"]):
        envelope = Envelope(SENDER, (f"reader{n}@example.test",))
        content = message(f"reader{n}@example.test", subject=subject)
        [outcome] = await send(outbox, [(envelope, content)])
        assert outcome.status is Status.SENT
        sent.append((outcome.text, envelope, content))
    await outbox.close()

    listed = list_outbox(tmp_path / "outbox", limit=10)
    assert [entry.id for entry in listed] == [outbox_id for outbox_id, _, _ in reversed(sent)]
    assert [entry.subject for entry in listed] == ["Third", "Toinen päivä", "First"]
    assert [entry.envelope for entry in listed] == [envelope for _, envelope, _ in reversed(sent)]
    assert [entry.size for entry in listed] == [len(content) for _, _, content in reversed(sent)]
    assert listed[0].date is not None and listed[0].date.year == 2026
    for outbox_id, _, content in sent:
        assert read_outbox_message(tmp_path / "outbox", outbox_id) == content
    # A maildir: files sit in new/, nothing is left in tmp/.
    assert len(list((tmp_path / "outbox" / "new").iterdir())) == 3
    assert list((tmp_path / "outbox" / "tmp").iterdir()) == []


@pytest.mark.anyio
async def test_the_outbox_keeps_every_message_of_a_batch_and_pages(tmp_path: Path) -> None:
    outbox = MaildirOutbox(tmp_path / "outbox", concurrency=4)
    batch = [
        (Envelope(SENDER, (f"r{n}@example.test", "cc@example.test")), message(f"r{n}@x.test"))
        for n in range(25)
    ]
    outcomes = await send(outbox, batch)
    await outbox.close()

    assert statuses(outcomes) == [Status.SENT] * 25
    assert len({outcome.text for outcome in outcomes}) == 25
    everything = list_outbox(tmp_path / "outbox", limit=100)
    assert len(everything) == 25
    assert {entry.envelope for entry in everything} == {envelope for envelope, _ in batch}
    page = list_outbox(tmp_path / "outbox", limit=10, offset=20)
    assert [entry.id for entry in page] == [entry.id for entry in everything[20:]]


def test_reading_the_outbox_refuses_ids_that_leave_it(tmp_path: Path) -> None:
    (tmp_path / "outbox" / "new").mkdir(parents=True)
    (tmp_path / "secret").write_bytes(b"not yours")
    for bad in ["../../secret", "..", ".", "", "new/../../secret", "/etc/passwd", "a\x00b"]:
        with pytest.raises(Invalid):
            read_outbox_message(tmp_path / "outbox", bad)
    with pytest.raises(NotFound):
        read_outbox_message(tmp_path / "outbox", "1234567890.P1Q1Rabc.host")


def test_an_empty_or_missing_outbox_lists_nothing(tmp_path: Path) -> None:
    assert list_outbox(tmp_path / "nowhere", limit=10) == []
    with pytest.raises(Invalid):
        list_outbox(tmp_path / "nowhere", limit=-1)


@pytest.mark.anyio
async def test_the_outbox_keeps_unix_line_endings_as_given(tmp_path: Path) -> None:
    content = message("r@example.test").replace(b"\r\n", b"\n")
    outbox = MaildirOutbox(tmp_path / "outbox")
    [outcome] = await send(outbox, [(Envelope(SENDER, ("r@example.test",)), content)])
    await outbox.close()

    assert read_outbox_message(tmp_path / "outbox", outcome.text) == content
    [entry] = list_outbox(tmp_path / "outbox")
    assert (entry.subject, entry.envelope.recipients) == ("Hello", ("r@example.test",))
    stored = (tmp_path / "outbox" / "new" / outcome.text).read_bytes()
    assert stored.startswith(b"X-Kirje-Envelope-From: <bounces@kirje.test>\n")


@pytest.mark.anyio
async def test_an_outbox_that_cannot_be_written_fails_temporarily(tmp_path: Path) -> None:
    blocked = tmp_path / "outbox"
    blocked.write_bytes(b"a file where the directory should be")
    outbox = MaildirOutbox(blocked)
    outcomes = await send(outbox, [to("r@example.test"), to("s@example.test")])
    await outbox.close()

    assert statuses(outcomes) == [Status.TEMPORARY_FAILURE] * 2
    assert all("could not write to the outbox" in outcome.text for outcome in outcomes)


# -- Choosing a transport


@pytest.mark.anyio
async def test_transport_for_picks_smtp_when_configured_and_the_outbox_otherwise(
    tmp_path: Path,
) -> None:
    embedded = transport_for(None, tmp_path)
    assert isinstance(embedded, MaildirOutbox)
    assert embedded.path == tmp_path / "outbox"
    await embedded.close()
    assert isinstance(transport_for("smtp://relay.internal", tmp_path), SmtpPool)
