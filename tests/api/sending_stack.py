"""Module-scoped fixtures for tests that send mail through a real `kirje worker` process: an
aiosmtpd sink, a server with a job queue of its own, and a worker that mails to the sink and
puts the server's URL in the tracking links.

A test module takes them with `sink, send_settings, server, worker = sending_stack("name")`.
"""

from __future__ import annotations

import pytest

from tests.conftest import LiveServer
from tests.jobs.workers import quiet_worker, with_own_queue
from tests.mail.smtp_sink import SmtpSink


def sending_stack(queue: str):
    @pytest.fixture(scope="module", name="sink")
    def sink():
        with SmtpSink() as running:
            yield running

    @pytest.fixture(scope="module", name="send_settings")
    def send_settings(settings):
        return with_own_queue(settings, queue)

    @pytest.fixture(scope="module", name="server")
    def server(send_settings, system):
        running = LiveServer(send_settings).start()
        yield running
        running.stop()

    @pytest.fixture(scope="module", name="worker")
    def worker(send_settings, sink, server, tmp_path_factory):
        folder = tmp_path_factory.mktemp(f"{queue}-worker")
        env = {"KIRJE_SMTP_URL": sink.url(starttls="false"), "KIRJE_PUBLIC_URL": server.url}
        with quiet_worker(send_settings, folder, **env) as running:
            yield running

    return sink, send_settings, server, worker
