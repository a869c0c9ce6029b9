"""A real SMTP server for tests: aiosmtpd in a thread that records what arrives and misbehaves.

    with SmtpSink() as sink:
        sink.answer("busy@example.test", "450 4.2.1 Mailbox busy")     # at RCPT, every time
        sink.drop("lost@example.test")       # take the whole message, then hang up without a reply
        ... send to sink.url() ...
        sink.messages, sink.connections

Rules match an envelope recipient. `at="rcpt"` acts on that recipient's RCPT command;
`at="data"` acts after the final dot of a message with that recipient (so a message that is
dropped there has been recorded: the server took it and then died before answering). `times`
limits how often a rule fires (None: always), so a test can fail a message once and let its
retry through.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socket
import ssl
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

Stage = Literal["rcpt", "data"]
Tls = Literal["starttls", "implicit"]
HOST = "127.0.0.1"


@dataclass(frozen=True)
class ReceivedMessage:
    sender: str
    recipients: tuple[str, ...]
    # As transmitted: CRLF line endings, dot-stuffing undone. The sink adds no headers.
    content: bytes
    # Which connection carried it: 1, 2, ... in the order connections greeted the sink.
    connection: int
    tls: bool
    login: str | None


@dataclass
class _Rule:
    recipient: str
    stage: Stage
    action: Literal["answer", "delay", "drop"]
    reply: str = ""
    seconds: float = 0.0
    remaining: int | None = None


class _Controller(Controller):
    """Listens on a socket bound before start, so the port is free and known without a race."""

    def __init__(self, handler: Any, listener: socket.socket, **kwargs: Any) -> None:
        super().__init__(handler, hostname=HOST, port=listener.getsockname()[1], **kwargs)
        self._listener = listener

    def _create_server(self):
        return self.loop.create_server(
            self._factory_invoker, sock=self._listener, ssl=self.ssl_context
        )


class SmtpSink:
    def __init__(
        self,
        *,
        tls: Tls | None = None,
        credentials: tuple[str, str] | None = None,
        pipelining: bool = True,
    ) -> None:
        self._tls = tls
        # Offered in EHLO, as Postfix and most servers do (aiosmtpd reads pipelined commands
        # in order but does not say so by itself).
        self.pipelining = pipelining
        self._credentials = credentials
        self._lock = threading.Lock()
        self._messages: list[ReceivedMessage] = []
        self._rules: list[_Rule] = []
        self._servers: list[SMTP] = []
        self._controller: _Controller | None = None
        self.port = 0

    # -- lifecycle

    def start(self) -> SmtpSink:
        listener = socket.socket()
        listener.bind((HOST, 0))
        self.port = listener.getsockname()[1]
        kwargs: dict[str, Any] = {"server_hostname": "sink.test", "ident": "kirje test sink"}
        if self._tls:
            context = _self_signed_server_context()
            kwargs["ssl_context" if self._tls == "implicit" else "tls_context"] = context
        if self._credentials:
            # Without TLS, aiosmtpd warns (rightly) unless told plain-text AUTH is wanted.
            kwargs.update(
                authenticator=self._authenticate,
                auth_required=True,
                auth_require_tls=self._tls is not None,
            )
        self._controller = _Controller(_Handler(self), listener, **kwargs)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def url(self, **options: str | int) -> str:
        scheme = "smtps" if self._tls == "implicit" else "smtp"
        query = "&".join(f"{name}={value}" for name, value in options.items())
        return f"{scheme}://{HOST}:{self.port}" + (f"?{query}" if query else "")

    # -- what arrived

    @property
    def messages(self) -> list[ReceivedMessage]:
        with self._lock:
            return list(self._messages)

    @property
    def connections(self) -> int:
        with self._lock:
            return len(self._servers)

    def reset(self) -> None:
        with self._lock:
            self._messages.clear()
            self._rules.clear()

    # -- misbehaviour

    def answer(
        self, recipient: str, reply: str, *, at: Stage = "rcpt", times: int | None = None
    ) -> None:
        """Answer `reply` (e.g. "450 4.2.1 Mailbox busy") instead of accepting."""
        self._add(_Rule(recipient, at, "answer", reply=reply, remaining=times))

    def delay(
        self, recipient: str, seconds: float, *, at: Stage = "data", times: int | None = None
    ) -> None:
        """Wait this long before answering."""
        self._add(_Rule(recipient, at, "delay", seconds=seconds, remaining=times))

    def drop(self, recipient: str, *, at: Stage = "data", times: int | None = None) -> None:
        """Close the connection instead of answering."""
        self._add(_Rule(recipient, at, "drop", remaining=times))

    def close_connections(self) -> None:
        """Hang up every open connection, as a server does to idle clients."""
        assert self._controller is not None
        loop = self._controller.loop

        async def hang_up() -> None:
            for server in self._servers:
                if server.transport is not None:
                    server.transport.close()

        asyncio.run_coroutine_threadsafe(hang_up(), loop).result(timeout=5)

    def _add(self, rule: _Rule) -> None:
        with self._lock:
            self._rules.append(rule)

    # -- called on the sink's thread

    def _take_rules(self, recipients: list[str], stage: Stage) -> list[_Rule]:
        """The rules that fire now: every matching delay, then the first answer or drop."""
        fired: list[_Rule] = []
        with self._lock:
            final_taken = False
            for rule in self._rules:
                if rule.stage != stage or rule.recipient not in recipients:
                    continue
                if rule.remaining == 0 or (rule.action != "delay" and final_taken):
                    continue
                final_taken = final_taken or rule.action != "delay"
                if rule.remaining is not None:
                    rule.remaining -= 1
                fired.append(rule)
        fired.sort(key=lambda rule: rule.action != "delay")
        return fired

    def _greeted(self, server: SMTP, session: Session) -> None:
        with self._lock:
            if not hasattr(session, "sink_connection"):
                self._servers.append(server)
                session.sink_connection = len(self._servers)

    def _record(self, server: SMTP, session: Session, envelope: Envelope) -> None:
        # STARTTLS sets session.ssl; a connection that began in TLS shows it on its transport.
        tls = session.ssl is not None or server.transport.get_extra_info("sslcontext") is not None
        message = ReceivedMessage(
            # aiosmtpd keeps a null reverse-path as "<>"; an Envelope spells it "".
            sender="" if envelope.mail_from == "<>" else envelope.mail_from,
            recipients=tuple(envelope.rcpt_tos),
            content=envelope.original_content,
            connection=getattr(session, "sink_connection", 0),
            tls=tls,
            login=session.auth_data.login.decode() if session.auth_data else None,
        )
        with self._lock:
            self._messages.append(message)

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert self._credentials is not None
        login, password = self._credentials
        accepted = isinstance(auth_data, LoginPassword) and (
            auth_data.login.decode(),
            auth_data.password.decode(),
        ) == (login, password)
        return AuthResult(
            success=accepted, handled=False, auth_data=auth_data if accepted else None
        )


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self._sink = sink

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list
    ) -> list:
        session.host_name = hostname
        self._sink._greeted(server, session)
        if self._sink.pipelining:
            responses.insert(len(responses) - 1, "250-PIPELINING")
        return responses

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        reply = await self._misbehave(server, [address], "rcpt")
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        rules = self._sink._take_rules(envelope.rcpt_tos, "data")
        if not any(rule.action == "answer" for rule in rules):
            self._sink._record(server, session, envelope)
        return await self._apply(server, rules) or "250 2.0.0 OK: queued"

    async def _misbehave(self, server: SMTP, recipients: list[str], stage: Stage) -> str | None:
        return await self._apply(server, self._sink._take_rules(recipients, stage))

    @staticmethod
    async def _apply(server: SMTP, rules: list[_Rule]) -> str | None:
        for rule in rules:
            if rule.action == "delay":
                await asyncio.sleep(rule.seconds)
            elif rule.action == "answer":
                return rule.reply
            else:
                server.transport.close()
                # Closing cancels this handler (aiosmtpd's connection_lost), so no reply is sent.
                await asyncio.sleep(3600)
        return None


def _self_signed_server_context() -> ssl.SSLContext:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sink.test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory() as directory:
        cert_file, key_file = Path(directory, "cert.pem"), Path(directory, "key.pem")
        cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        context.load_cert_chain(cert_file, key_file)
    return context
