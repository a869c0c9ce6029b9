"""Runs the HTTP app in worker processes.

Each worker binds its own socket with SO_REUSEPORT, so the kernel spreads new connections
evenly across them. With one shared listening socket (uvicorn's own multi-worker mode) one
process can accept every keep-alive connection of a burst while the others sit idle.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import time
from multiprocessing.process import BaseProcess

import uvicorn

log = logging.getLogger(__name__)

APP = "kirje.api.app:create_app"
BACKLOG = 2048


_OPTIONS = dict(
    factory=True,
    loop="uvloop",
    http="httptools",
    access_log=False,
    log_level="warning",
    backlog=BACKLOG,
)


def _reuse_port_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(BACKLOG)
    sock.set_inheritable(True)
    return sock


def _run_worker(host: str, port: int) -> None:
    sock = _reuse_port_socket(host, port)
    uvicorn.Server(uvicorn.Config(APP, **_OPTIONS)).run(sockets=[sock])


def serve(host: str, port: int, workers: int) -> None:
    if workers > 1 and hasattr(socket, "SO_REUSEPORT"):
        _supervise(host, port, workers)
    else:
        # One process, or a platform without SO_REUSEPORT: uvicorn's own process manager.
        uvicorn.run(APP, host=host, port=port, workers=workers, **_OPTIONS)


def _supervise(host: str, port: int, workers: int) -> None:
    """Starts the workers, restarts one that dies, stops them all on SIGTERM or SIGINT."""
    context = multiprocessing.get_context("spawn")
    stopping = False

    def stop(_signal, _frame) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def start() -> BaseProcess:
        process = context.Process(target=_run_worker, args=(host, port), daemon=True)
        process.start()
        return process

    processes = [start() for _ in range(workers)]
    while not stopping:
        time.sleep(0.5)
        for index, process in enumerate(processes):
            if not process.is_alive() and not stopping:
                log.warning(
                    "worker %s exited with %s; starting another", process.pid, process.exitcode
                )
                processes[index] = start()
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(timeout=15)
        if process.is_alive():
            process.kill()
