"""A counting SMTP sink for `kirje bench send`: aiosmtpd in a process of its own.

It accepts every message, counts the recipients it got, and writes the counts as JSON to a file
when told to stop (SIGTERM), so the bench can say how many were duplicated or missing. Postfix's
smtp-sink is faster and is used instead when it is installed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import threading
from collections import Counter

from aiosmtpd.controller import Controller


class _Counting:
    def __init__(self) -> None:
        self.received: Counter[str] = Counter()
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:
        with self.lock:
            self.received.update(envelope.rcpt_tos)
        return "250 OK"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    handler = _Counting()
    controller = Controller(handler, hostname="127.0.0.1", port=args.port, ready_timeout=10)
    controller.start()
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    print("ready", flush=True)
    stopped.wait()
    controller.stop()
    with handler.lock, open(args.out, "w") as out:
        json.dump(dict(handler.received), out)


if __name__ == "__main__":
    asyncio.set_event_loop_policy(None)
    main()
