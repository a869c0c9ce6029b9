"""Transports that deliver built messages: a pool of SMTP connections, or the local maildir outbox.

A transport takes a batch of (envelope, bytes) and reports each message's outcome as soon as it is
known, so the sender can record it in its ledger at once: a crash then leaves in doubt only the
messages that were in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.parser
import email.policy
import itertools
import math
import os
import re
import secrets
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Protocol, cast
from urllib.parse import SplitResult, parse_qsl, unquote, urlsplit

import aiosmtplib

from kirje.domain.errors import Invalid, NotFound

# -- What a transport is handed and what it answers -------------------------------------------

# Characters that would let an address break out of an SMTP command or a header line.
_UNSAFE_IN_ADDRESS = re.compile(r"[\x00-\x20\x7f<>]")


@dataclass(frozen=True, slots=True)
class Envelope:
    """Who the message is from and to, as SMTP says it (MAIL FROM, RCPT TO), apart from its headers.

    The sender may be empty (a null reverse-path, as bounces use).
    """

    sender: str
    recipients: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.recipients:
            raise Invalid("an envelope needs at least one recipient")
        for address in (self.sender, *self.recipients):
            if _UNSAFE_IN_ADDRESS.search(address):
                raise Invalid(f"not a usable envelope address: {address!r}")
        if not all(self.recipients):
            raise Invalid("an envelope recipient may not be empty")


class Status(StrEnum):
    SENT = "sent"
    # Not handed over, or refused for now: send it again later.
    TEMPORARY_FAILURE = "temporary-failure"
    # Refused for good: sending it again would be refused again.
    PERMANENT_FAILURE = "permanent-failure"
    # The connection died after the whole message was sent and before the server answered:
    # it may or may not have been accepted.
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class RecipientRefusal:
    recipient: str
    code: int
    text: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """One message's fate.

    `code` and `text` are the server's final reply; `code` is None when no reply decided it
    (a lost connection, a local disk error) and `text` then says what happened. For the maildir
    outbox `text` is the stored message's outbox id. `refused` lists the recipients the server
    refused while it took the message for others.
    """

    status: Status
    code: int | None = None
    text: str = ""
    refused: tuple[RecipientRefusal, ...] = ()


OnOutcome = Callable[[int, Outcome], None]


class Transport(Protocol):
    async def send_many(
        self, messages: Sequence[tuple[Envelope, bytes]], on_outcome: OnOutcome
    ) -> None:
        """Deliver the messages, calling on_outcome(index, outcome) once per message, on the event
        loop, as soon as that message's outcome is known. on_outcome should be quick: every
        connection waits while it runs."""
        ...

    async def close(self) -> None: ...

    @property
    def concurrency(self) -> int:
        """How many messages it has in flight at most."""
        ...


async def _run_workers(count: int, work: Callable[[], Awaitable[None]]) -> None:
    async with asyncio.TaskGroup() as group:
        for _ in range(count):
            group.create_task(work())


# -- SMTP settings ------------------------------------------------------------------------------

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_OPTIONS = {"starttls", "concurrency", "rate", "timeout", "validate_certs", "helo"}


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """Where and how to send over SMTP, read from one URL (KIRJE_SMTP_URL).

    smtp://user:password@host:587?starttls=true&concurrency=8&rate=2000
    smtps://user:password@host (implicit TLS, port 465)

    Options: starttls (default: true when a user is given, so a password never crosses the
    network in clear unless `starttls=false` says so), concurrency (open connections, default 8),
    rate (messages per second over the whole pool, default unlimited), timeout (seconds to wait
    for each reply, default 60), validate_certs (default true), helo (the name we greet with,
    default this host's FQDN).
    """

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    implicit_tls: bool = False
    starttls: bool = False
    validate_certs: bool = True
    concurrency: int = 8
    rate_per_second: float | None = None
    timeout: float = 60.0
    helo: str | None = None

    def __repr__(self) -> str:
        # Settings end up in logs and tracebacks; the password must not.
        scheme = "smtps" if self.implicit_tls else "smtp"
        user = f"{self.username}:***@" if self.username else ""
        return f"SmtpSettings({scheme}://{user}{self.host}:{self.port})"

    @classmethod
    def from_url(cls, url: str) -> SmtpSettings:
        parts = urlsplit(url.strip())
        redacted = _redact(parts)
        if parts.scheme not in ("smtp", "smtps"):
            raise Invalid(f"SMTP URL must start with smtp:// or smtps://: {redacted}")
        implicit_tls = parts.scheme == "smtps"
        try:
            port = parts.port
        except ValueError:
            raise Invalid(f"SMTP URL has a bad port: {redacted}") from None
        if not parts.hostname:
            raise Invalid(f"SMTP URL has no host: {redacted}")
        if parts.path not in ("", "/") or parts.fragment:
            raise Invalid(f"SMTP URL takes no path: {redacted}")
        options = _url_options(parts.query, redacted)
        username = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password is not None else None
        starttls = _flag(options, "starttls", default=username is not None, url=redacted)
        if implicit_tls and starttls and "starttls" in options:
            raise Invalid(f"smtps:// is already TLS; starttls does not apply: {redacted}")
        return cls(
            host=parts.hostname,
            port=port or (465 if implicit_tls else 25),
            username=username,
            password=password,
            implicit_tls=implicit_tls,
            starttls=starttls and not implicit_tls,
            validate_certs=_flag(options, "validate_certs", default=True, url=redacted),
            concurrency=int(_number(options, "concurrency", 8, url=redacted, whole=True)),
            rate_per_second=_rate(options, redacted),
            timeout=_number(options, "timeout", 60.0, url=redacted),
            helo=_helo(options, redacted),
        )


def _redact(parts: SplitResult) -> str:
    if parts.password is None:
        return parts.geturl()
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")).geturl()


def _url_options(query: str, url: str) -> dict[str, str]:
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise Invalid(f"SMTP URL has a malformed query: {url}") from None
    options = {name.lower(): value for name, value in pairs}
    unknown = sorted(set(options) - _OPTIONS)
    if unknown:
        known = ", ".join(sorted(_OPTIONS))
        raise Invalid(f"SMTP URL option {unknown[0]!r} is unknown (known: {known}): {url}")
    return options


def _flag(options: dict[str, str], name: str, *, default: bool, url: str) -> bool:
    value = options.get(name)
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise Invalid(f"SMTP URL option {name} must be true or false, not {value!r}: {url}")


def _number(
    options: dict[str, str], name: str, default: float, *, url: str, whole: bool = False
) -> float:
    value = options.get(name)
    if value is None:
        return default
    try:
        number = int(value) if whole else float(value)
    except ValueError:
        number = math.nan
    if not number > 0 or math.isinf(number):
        kind = "a whole number" if whole else "a number"
        raise Invalid(f"SMTP URL option {name} must be {kind} above 0, not {value!r}: {url}")
    return number


def _helo(options: dict[str, str], url: str) -> str | None:
    name = options.get("helo")
    if name and not re.fullmatch(r"[A-Za-z0-9.:\[\]-]{1,255}", name):
        raise Invalid(f"SMTP URL option helo must be a host name, not {name!r}: {url}")
    return name or None


def _rate(options: dict[str, str], url: str) -> float | None:
    if options.get("rate", "").lower() in ("", "unlimited"):
        return None
    return _number(options, "rate", 0, url=url)


# -- The rate limit -----------------------------------------------------------------------------


class SendRate:
    """At most `per_second` messages a second over the whole pool, after a burst of `burst`.

    A token bucket in its GCRA form (one "theoretical arrival time"), written here rather than
    taken from `limits`: the pool needs to wait for its turn, not be told no, and the clock and
    sleep must be injectable so tests can check the budget without waiting on the wall clock.
    Each caller reserves its own slot, so callers waiting together are spread evenly.
    """

    def __init__(
        self,
        per_second: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self._interval = 1.0 / per_second
        self._tolerance = (max(burst, 1) - 1) * self._interval
        self._clock = clock
        self._sleep = sleep
        self._next_slot = -math.inf

    async def wait_turn(self) -> None:
        now = self._clock()
        slot = max(self._next_slot, now)
        self._next_slot = slot + self._interval
        delay = slot - self._tolerance - now
        if delay > 0:
            await self._sleep(delay)


# -- SMTP ---------------------------------------------------------------------------------------

_LINE_ENDINGS = re.compile(rb"\r\n|\n|\r")


def _wire_form(content: bytes) -> tuple[bytes, int]:
    """The DATA payload (CRLF lines, dot-stuffed, ending in a lone dot) and its SIZE to declare.

    What kirje.mail.mime builds already has CRLF line endings: three counts at C speed find
    that, where a regex substitution would copy the message line by line (it took a fifth of
    the SMTP client's time)."""
    crlf = content.count(b"\r\n")
    lines = (
        content
        if content.count(b"\n") == crlf and content.count(b"\r") == crlf
        else _LINE_ENDINGS.sub(b"\r\n", content)
    )
    if not lines.endswith(b"\r\n"):
        lines += b"\r\n"
    # Every line ends in CRLF now, so a line that starts with a dot follows "\n" (or opens
    # the message): bytes.replace does the stuffing at C speed.
    stuffed = lines.replace(b"\n.", b"\n..")
    if stuffed.startswith(b"."):
        stuffed = b"." + stuffed
    return stuffed + b".\r\n", len(lines)


class _NotHandedOver(Exception):
    """The connection failed before the final dot was written: the server does not have it."""


_SERVICE_CLOSING = 421


def _decided_by(code: int, text: str, refused: tuple[RecipientRefusal, ...] = ()) -> Outcome:
    if 200 <= code < 300:
        status = Status.SENT
    elif 400 <= code < 500:
        status = Status.TEMPORARY_FAILURE
    else:
        status = Status.PERMANENT_FAILURE
    return Outcome(status, code, text, refused)


def _all_refused(refused: list[RecipientRefusal]) -> Outcome:
    # Nobody has the message, so a retry duplicates nothing: retry if any refusal was temporary.
    first = next((r for r in refused if 400 <= r.code < 500), refused[0])
    return _decided_by(first.code, first.text, tuple(refused))


def _address(address: str) -> bytes:
    return b"<" + address.encode() + b">"


class _ProtocolError(Exception):
    """The server answered something that is not an SMTP reply."""


class _Replies(asyncio.Protocol):
    """The reading side of an SMTP connection once it is open: replies parsed as they arrive
    and handed out in order, so that commands can be pipelined (RFC 2920).

    aiosmtplib opens the connection (greeting, EHLO, STARTTLS, AUTH); the mail transactions then
    run on this protocol instead of aiosmtplib's, which keeps only the reply of the command it
    is waiting for and drops any that arrives otherwise (so it cannot pipeline). An SMTP reply
    is lines of a three-digit code, "-" on all but the last; that is the whole parser."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._replies: deque[tuple[int, str]] = deque()
        self._waiter: asyncio.Future[None] | None = None
        # How many replies the waiter waits for.
        self._wanted = 1
        self.lost: BaseException | None = None

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        try:
            while (reply := self._take_reply()) is not None:
                self._replies.append(reply)
        except _ProtocolError as error:
            self.lost = error
        if len(self._buffer) > _LONGEST_REPLY:
            self.lost = _ProtocolError("an SMTP reply too long")
        self._wake()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = exc or ConnectionResetError("the server closed the connection")
        self._wake()

    def eof_received(self) -> bool:
        self.lost = ConnectionResetError("the server closed the connection")
        self._wake()
        return False

    async def reply(self) -> tuple[int, str]:
        """The next reply; raises ConnectionError once the connection is gone and every
        reply that came before it was read."""
        return (await self.replies(1))[0]

    async def replies(self, count: int) -> list[tuple[int, str]]:
        """The next `count` replies, waited for together (one wake-up for a pipelined group
        rather than one per reply)."""
        while len(self._replies) < count:
            if self.lost is not None:
                raise ConnectionError(str(self.lost) or type(self.lost).__name__)
            self._wanted = count
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        return [self._replies.popleft() for _ in range(count)]

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if len(self._replies) >= self._wanted or self.lost is not None:
            waiter.set_result(None)

    def _take_reply(self) -> tuple[int, str] | None:
        buffer, offset, lines = self._buffer, 0, []
        while True:
            end = buffer.find(b"\n", offset)
            if end < 0:
                return None
            line = bytes(buffer[offset:end]).rstrip(b"\r")
            offset = end + 1
            if not line[:3].isdigit():
                raise _ProtocolError(f"not an SMTP reply: {line[:60]!r}")
            lines.append(line)
            if line[3:4] != b"-":
                break
        del buffer[:offset]
        text = "\n".join(line[4:].decode("utf-8", "surrogateescape").strip() for line in lines)
        return int(lines[-1][:3]), text


# A reply longer than this (without its end) is not a server speaking SMTP.
_LONGEST_REPLY = 64 * 1024


@dataclass(eq=False)
class _Connection:
    """An open SMTP connection, after EHLO (and STARTTLS, AUTH), ready for mail transactions."""

    transport: asyncio.Transport
    replies: _Replies
    # The EHLO keywords, lowercased.
    extensions: frozenset[str]

    @property
    def is_open(self) -> bool:
        return self.replies.lost is None and not self.transport.is_closing()

    def write(self, data: bytes) -> None:
        if not self.is_open:
            raise ConnectionResetError("the connection is closed")
        self.transport.write(data)

    async def command(self, line: bytes) -> tuple[int, str]:
        self.write(line)
        return await self.replies.reply()

    def close(self) -> None:
        self.transport.close()

    async def quit(self, timeout: float) -> None:
        try:
            async with asyncio.timeout(timeout):
                await self.command(b"QUIT\r\n")
        except (OSError, TimeoutError):
            pass
        finally:
            self.close()


class SmtpPool:
    """Up to `concurrency` SMTP connections, each sending message after message, kept open between
    batches and reopened when they drop.

    aiosmtplib opens each connection (TLS, EHLO, AUTH); the mail transactions are then driven by
    the pool itself (_Replies), with MAIL, RCPT and DATA sent at once when the server offers
    PIPELINING: two round trips a message instead of four. The outcome of a lost connection
    depends on where it was lost: before the final dot is written the server cannot have the
    message (a temporary failure, retried once on a fresh connection right away); after it,
    the server may have taken it (UNKNOWN).

    One send_many runs at a time; a second waits for the first.
    """

    def __init__(
        self,
        settings: SmtpSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self._settings = settings
        self._idle: list[_Connection] = []
        self._rate = (
            SendRate(settings.rate_per_second, settings.concurrency, clock=clock, sleep=sleep)
            if settings.rate_per_second
            else None
        )
        self._helo = settings.helo
        self._loop: asyncio.AbstractEventLoop | None = None
        self._batch_lock = asyncio.Lock()

    async def send_many(
        self, messages: Sequence[tuple[Envelope, bytes]], on_outcome: OnOutcome
    ) -> None:
        self._bind_to_running_loop()
        async with self._batch_lock:
            pending = deque(range(len(messages)))
            connect_errors: list[str] = []

            async def work() -> None:
                await self._work(messages, pending, on_outcome, connect_errors)

            await _run_workers(min(self._settings.concurrency, len(messages)), work)
            # Every connection failed to open: the rest were never tried.
            while pending:
                reason = f"could not connect to the SMTP server: {connect_errors[-1]}"
                on_outcome(pending.popleft(), Outcome(Status.TEMPORARY_FAILURE, None, reason))

    def _bind_to_running_loop(self) -> None:
        # Connections belong to the event loop that opened them. A caller that runs each batch in
        # a new loop (asyncio.run per batch) would otherwise be handed connections it cannot use.
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return
        for connection in self._idle:
            with contextlib.suppress(RuntimeError):  # their loop may be closed already
                connection.close()
        self._idle = []
        self._batch_lock = asyncio.Lock()
        self._loop = loop

    @property
    def concurrency(self) -> int:
        return self._settings.concurrency

    async def close(self) -> None:
        if self._loop is not asyncio.get_running_loop():
            self._bind_to_running_loop()
            return
        idle, self._idle = self._idle, []
        for connection in idle:
            await connection.quit(timeout=5)

    async def _work(
        self,
        messages: Sequence[tuple[Envelope, bytes]],
        pending: deque[int],
        on_outcome: OnOutcome,
        connect_errors: list[str],
    ) -> None:
        connection = self._idle.pop() if self._idle else None
        try:
            while pending:
                index = pending.popleft()
                envelope, content = messages[index]
                if self._rate:
                    await self._rate.wait_turn()
                try:
                    connection, outcome = await self._deliver(connection, envelope, content)
                except (OSError, aiosmtplib.SMTPException) as error:
                    # This connection slot cannot open; the other slots carry on without it.
                    connect_errors.append(str(error))
                    reason = f"could not connect to the SMTP server: {error}"
                    on_outcome(index, Outcome(Status.TEMPORARY_FAILURE, None, reason))
                    return
                on_outcome(index, outcome)
        except BaseException:
            # Cancelled or failed mid-transaction: the connection's state is unknown.
            if connection is not None:
                connection.close()
            connection = None
            raise
        finally:
            if connection is not None and connection.is_open:
                self._idle.append(connection)

    async def _deliver(
        self, connection: _Connection | None, envelope: Envelope, content: bytes
    ) -> tuple[_Connection | None, Outcome]:
        """Send one message, retrying once on a fresh connection if the first was lost before the
        message was handed over (an idle connection the server has since closed, a 421)."""
        for attempt in (1, 2):
            if connection is None or not connection.is_open:
                connection = await self._connect()
            try:
                return connection, await self._transact(connection, envelope, content)
            except _NotHandedOver as lost:
                connection.close()
                connection = None
                if attempt == 2:
                    reason = f"connection lost before the message was sent: {lost}"
                    return None, Outcome(Status.TEMPORARY_FAILURE, None, reason)
        raise AssertionError("unreachable")

    async def _connect(self) -> _Connection:
        settings = self._settings
        if self._helo is None:
            # getfqdn may ask DNS: once per pool, off the event loop.
            self._helo = await asyncio.to_thread(socket.getfqdn)
        smtp = aiosmtplib.SMTP(
            hostname=settings.host,
            port=settings.port,
            username=settings.username,
            password=settings.password,
            use_tls=settings.implicit_tls,
            start_tls=settings.starttls,
            validate_certs=settings.validate_certs,
            timeout=settings.timeout,
            local_hostname=self._helo,
        )
        await smtp.connect()
        try:
            if smtp.is_ehlo_or_helo_needed:
                try:
                    await smtp.ehlo()
                except aiosmtplib.SMTPHeloError:
                    await smtp.helo()
        except BaseException:
            smtp.close()
            raise
        # Any transport of the loop's (uvloop's are no asyncio.Transport subclasses).
        transport = cast(asyncio.Transport, smtp.transport)
        if transport is None or transport.is_closing():
            smtp.close()
            raise aiosmtplib.SMTPServerDisconnected("the connection closed while it opened")
        replies = _Replies()
        transport.set_protocol(replies)
        return _Connection(transport, replies, frozenset(smtp.esmtp_extensions))

    async def _transact(
        self, connection: _Connection, envelope: Envelope, content: bytes
    ) -> Outcome:
        payload, size = _wire_form(content)
        mail_options = self._mail_options(connection, envelope, content, size)
        if mail_options is None:
            return Outcome(Status.PERMANENT_FAILURE, None, "the server does not support SMTPUTF8")
        commands = [b" ".join((b"MAIL FROM:" + _address(envelope.sender), *mail_options))]
        commands += [b"RCPT TO:" + _address(recipient) for recipient in envelope.recipients]
        commands.append(b"DATA")
        try:
            async with asyncio.timeout(self._settings.timeout):
                replies = await self._commands(connection, commands)
        except (OSError, TimeoutError) as error:
            raise _NotHandedOver(str(error) or type(error).__name__) from error
        closing = next((reply for reply in replies if reply[0] == _SERVICE_CLOSING), None)
        if closing is not None:
            # The server is closing this connection (often: enough messages on it).
            raise _NotHandedOver(f"{closing[0]} {closing[1]}")
        (mail_code, mail_text), *rcpt_replies, (data_code, data_text) = replies
        refused = [
            RecipientRefusal(recipient, code, text)
            for recipient, (code, text) in zip(envelope.recipients, rcpt_replies, strict=True)
            if not 200 <= code < 300
        ]
        if data_code != 354:
            if not 200 <= mail_code < 300:
                outcome = _decided_by(mail_code, mail_text)
            elif len(refused) == len(envelope.recipients):
                outcome = _all_refused(refused)
            else:
                outcome = _decided_by(data_code, data_text, tuple(refused))
            return await self._abandon(connection, outcome)
        if len(refused) == len(envelope.recipients) or not 200 <= mail_code < 300:
            # A server that took DATA after refusing everyone: end it with no message at all.
            return await self._abandon(
                connection,
                _all_refused(refused) if refused else _decided_by(mail_code, mail_text),
                b".\r\n",
            )
        try:
            connection.write(payload)
        except OSError as error:
            raise _NotHandedOver(str(error) or type(error).__name__) from error
        # The final dot is on its way: from here on, a lost connection leaves the outcome unknown.
        try:
            async with asyncio.timeout(self._settings.timeout):
                code, text = await connection.replies.reply()
        except (OSError, TimeoutError) as error:
            connection.close()
            reason = f"no reply after the message was sent: {error or type(error).__name__}"
            return Outcome(Status.UNKNOWN, None, reason, tuple(refused))
        if code == _SERVICE_CLOSING:
            connection.close()
        return _decided_by(code, text, tuple(refused))

    @staticmethod
    async def _commands(connection: _Connection, commands: list[bytes]) -> list[tuple[int, str]]:
        """The replies to MAIL, RCPT... and DATA: written at once when the server pipelines,
        else one by one, stopping early (as if refused) once MAIL or every RCPT is refused."""
        if "pipelining" in connection.extensions:
            connection.write(b"".join(command + b"\r\n" for command in commands))
            return await connection.replies.replies(len(commands))
        replies = [await connection.command(commands[0] + b"\r\n")]
        if 200 <= replies[0][0] < 300:
            for command in commands[1:-1]:
                replies.append(await connection.command(command + b"\r\n"))
        recipients = replies[1:]
        if len(replies) == len(commands) - 1 and any(200 <= code < 300 for code, _ in recipients):
            replies.append(await connection.command(commands[-1] + b"\r\n"))
        else:
            # DATA was not sent: nobody was taken, so it counts as refused with the last reply.
            replies += [replies[-1]] * (len(commands) - len(replies))
        return replies

    @staticmethod
    def _mail_options(
        connection: _Connection, envelope: Envelope, content: bytes, size: int
    ) -> list[bytes] | None:
        options: list[bytes] = []
        if "size" in connection.extensions:
            options.append(b"SIZE=%d" % size)
        if not content.isascii() and "8bitmime" in connection.extensions:
            options.append(b"BODY=8BITMIME")
        if not all(address.isascii() for address in (envelope.sender, *envelope.recipients)):
            if "smtputf8" not in connection.extensions:
                return None
            options.append(b"SMTPUTF8")
        return options

    async def _abandon(
        self, connection: _Connection, outcome: Outcome, before: bytes = b""
    ) -> Outcome:
        """End a refused transaction with RSET so the connection can carry the next message."""
        try:
            async with asyncio.timeout(self._settings.timeout):
                if before:
                    await connection.command(before)
                code, _ = await connection.command(b"RSET\r\n")
            if code != 250:
                connection.close()
        except (OSError, TimeoutError):
            connection.close()
        return outcome


# -- The maildir outbox -------------------------------------------------------------------------

# Outbox ids are file names we made; anything else (a slash, "..", a colon) is refused before
# it comes near the file system.
_OUTBOX_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
_ENVELOPE_FROM = b"X-Kirje-Envelope-From: "
_ENVELOPE_TO = b"X-Kirje-Envelope-To: "
_HEADER_READ_LIMIT = 64 * 1024
_sequence = itertools.count()


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    id: str
    envelope: Envelope
    subject: str | None
    # The message's Date header; stored_at is when the outbox took it.
    date: datetime | None
    stored_at: datetime
    # Of the message as sent, without the envelope lines the outbox keeps with it.
    size: int


class MaildirOutbox:
    """The embedded transport: each message becomes a file in a maildir (new/), for the admin to
    read; nothing leaves the machine.

    A maildir has no envelope, so the outbox keeps it in lines prepended to the message:
    `X-Kirje-Envelope-From: <sender>` and one `X-Kirje-Envelope-To: <recipient>` per recipient
    (names of our own, unlike Return-Path or Delivered-To, so they can never be confused with
    the message's own headers and are stripped exactly when read back). The message bytes are
    kept as given; `mailbox.Maildir` would rewrite line endings.

    Each file is written under tmp/, flushed to disk, renamed into new/ and the directory flushed,
    so a message reported SENT survives a crash. Writes run in threads, several at once, because
    a flush to disk costs milliseconds and concurrent flushes share the journal's commits.
    """

    def __init__(self, path: Path, *, concurrency: int = 8) -> None:
        self.path = path
        self._concurrency = concurrency
        self._threads = ThreadPoolExecutor(concurrency, thread_name_prefix="kirje-outbox")
        self._host = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:64] or "localhost"

    async def send_many(
        self, messages: Sequence[tuple[Envelope, bytes]], on_outcome: OnOutcome
    ) -> None:
        loop = asyncio.get_running_loop()
        pending = deque(range(len(messages)))

        async def work() -> None:
            while pending:
                index = pending.popleft()
                envelope, content = messages[index]
                try:
                    outbox_id = await loop.run_in_executor(
                        self._threads, self._store, envelope, content
                    )
                except OSError as error:
                    reason = f"could not write to the outbox: {error}"
                    on_outcome(index, Outcome(Status.TEMPORARY_FAILURE, None, reason))
                else:
                    on_outcome(index, Outcome(Status.SENT, None, outbox_id))

        await _run_workers(min(self._concurrency, len(messages)), work)

    @property
    def concurrency(self) -> int:
        return self._concurrency

    async def close(self) -> None:
        self._threads.shutdown(wait=True)

    def _store(self, envelope: Envelope, content: bytes) -> str:
        for folder in ("tmp", "new", "cur"):
            (self.path / folder).mkdir(parents=True, exist_ok=True)
        # Names begin with the time in nanoseconds, so they sort oldest to newest.
        name = (
            f"{time.time_ns()}.P{os.getpid()}Q{next(_sequence)}R{secrets.token_hex(4)}.{self._host}"
        )
        staged = self.path / "tmp" / name
        try:
            with open(staged, "xb") as file:
                file.write(_envelope_lines(envelope, content))
                file.write(content)
                file.flush()
                os.fsync(file.fileno())
            os.rename(staged, self.path / "new" / name)
        except OSError:
            with contextlib.suppress(OSError):
                staged.unlink()
            raise
        _fsync_directory(self.path / "new")
        return name


def _fsync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _line_ending(content: bytes) -> bytes:
    return b"\r\n" if b"\r\n" in content[:_HEADER_READ_LIMIT] else b"\n"


def _envelope_lines(envelope: Envelope, content: bytes) -> bytes:
    newline = _line_ending(content)
    lines = [_ENVELOPE_FROM + _address(envelope.sender)]
    lines += [_ENVELOPE_TO + _address(recipient) for recipient in envelope.recipients]
    return newline.join(lines) + newline


def _split_envelope(data: bytes) -> tuple[Envelope | None, int]:
    """The envelope the outbox prepended, and where the message itself begins."""
    sender: str | None = None
    recipients: list[str] = []
    offset = 0
    while data.startswith((_ENVELOPE_FROM, _ENVELOPE_TO), offset):
        end = data.find(b"\n", offset)
        if end == -1:
            break
        line = data[offset:end].rstrip(b"\r")
        name, _, value = line.partition(b": ")
        address = value.decode(errors="replace").removeprefix("<").removesuffix(">")
        if name + b": " == _ENVELOPE_FROM:
            sender = address
        else:
            recipients.append(address)
        offset = end + 1
    if sender is None or not recipients:
        return None, offset
    return Envelope(sender, tuple(recipients)), offset


def list_outbox(path: Path, limit: int = 50, offset: int = 0) -> list[OutboxEntry]:
    """A page of the outbox, newest first."""
    if limit < 0 or offset < 0:
        raise Invalid("limit and offset may not be negative")
    names = _outbox_files(path)
    names.sort(key=lambda item: item[0], reverse=True)
    entries = []
    for outbox_id, file in names[offset : offset + limit]:
        entry = _read_entry(outbox_id, file)
        if entry is not None:
            entries.append(entry)
    return entries


def read_outbox_message(path: Path, outbox_id: str) -> bytes:
    """The message as it was sent, without the envelope lines the outbox kept with it."""
    file = _find_outbox_file(path, outbox_id)
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        raise NotFound(f"no message {outbox_id} in the outbox") from None
    _, start = _split_envelope(data)
    return data[start:]


def _outbox_files(path: Path) -> list[tuple[str, Path]]:
    files = []
    # new/ holds what the outbox wrote; a mail client reading the maildir moves messages to cur/,
    # adding ":2,<flags>" to the name.
    for folder in ("new", "cur"):
        try:
            with os.scandir(path / folder) as listing:
                for item in listing:
                    outbox_id = item.name.partition(":")[0]
                    if _OUTBOX_ID.fullmatch(outbox_id) and item.is_file():
                        files.append((outbox_id, Path(item.path)))
        except FileNotFoundError:
            continue
    return files


def _find_outbox_file(path: Path, outbox_id: str) -> Path:
    if not _OUTBOX_ID.fullmatch(outbox_id):
        raise Invalid(f"not an outbox message id: {outbox_id!r}")
    fresh = path / "new" / outbox_id
    if fresh.is_file():
        return fresh
    try:
        with os.scandir(path / "cur") as listing:
            for item in listing:
                if item.name == outbox_id or item.name.startswith(outbox_id + ":"):
                    return Path(item.path)
    except FileNotFoundError:
        pass
    raise NotFound(f"no message {outbox_id} in the outbox")


def _read_entry(outbox_id: str, file: Path) -> OutboxEntry | None:
    try:
        with open(file, "rb") as opened:
            stat = os.fstat(opened.fileno())
            head = opened.read(_HEADER_READ_LIMIT)
    except FileNotFoundError:
        return None  # moved or deleted while we listed
    envelope, start = _split_envelope(head)
    if envelope is None:
        return None
    subject, date = _subject_and_date(head[start:])
    return OutboxEntry(
        id=outbox_id,
        envelope=envelope,
        subject=subject,
        date=date,
        stored_at=datetime.fromtimestamp(stat.st_mtime, UTC),
        size=stat.st_size - start,
    )


def _subject_and_date(head: bytes) -> tuple[str | None, datetime | None]:
    parser = email.parser.BytesHeaderParser(policy=email.policy.default)
    headers = parser.parsebytes(head)
    try:
        subject = headers.get("Subject")
        date = headers.get("Date")
        return (
            str(subject) if subject is not None else None,
            getattr(date, "datetime", None),
        )
    except (ValueError, IndexError, TypeError, AttributeError):
        # The standard parser raises on some malformed headers; one bad message must not
        # break the listing of the outbox.
        return None, None


# -- Choosing one -------------------------------------------------------------------------------


def transport_for(smtp_url: str | None, data_dir: Path) -> Transport:
    """SMTP when a URL is configured, else the outbox in the data directory."""
    if smtp_url:
        return SmtpPool(SmtpSettings.from_url(smtp_url))
    return MaildirOutbox(data_dir / "outbox")
