"""Runs the HTTP app in worker processes, and a job worker beside them.

Each worker binds its own socket with SO_REUSEPORT, so the kernel spreads new connections
evenly across them. With one shared listening socket (uvicorn's own multi-worker mode) one
process can accept every keep-alive connection of a burst while the others sit idle.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from typing import Any

import uvicorn

log = logging.getLogger(__name__)

APP = "kirje.api.app:create_app"
BACKLOG = 2048
# Threads of the job worker that `kirje serve` runs beside the HTTP workers.
JOB_WORKER_THREADS = 2

Target = tuple[Callable[..., None], tuple[Any, ...]]


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


def _run_job_worker() -> None:
    from kirje.jobs.worker import run_worker

    # Out of the terminal's process group: Ctrl-C would make the worker finish its jobs first;
    # the supervisor stops it with SIGTERM, and it gives its jobs back to the queue.
    os.setpgrp()

    run_worker(threads=JOB_WORKER_THREADS)


def serve(host: str, port: int, workers: int, *, job_worker: bool = True) -> None:
    """Serves HTTP in `workers` processes and, unless job_worker is False, runs one job worker."""
    targets: list[Target] = [(_run_worker, (host, port))] * workers
    if job_worker:
        targets.append((_run_job_worker, ()))
    if hasattr(socket, "SO_REUSEPORT"):
        _supervise(targets)
        return
    # A platform without SO_REUSEPORT: uvicorn's own process manager, the job worker beside it.
    if job_worker:
        multiprocessing.get_context("spawn").Process(target=_run_job_worker, daemon=True).start()
    uvicorn.run(APP, host=host, port=port, workers=workers, **_OPTIONS)


def _supervise(targets: list[Target]) -> None:
    """Starts a process per target, restarts one that dies, stops them all on SIGTERM or SIGINT."""
    context = multiprocessing.get_context("spawn")
    stopping = False

    def stop(_signal, _frame) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def start(target: Target) -> BaseProcess:
        function, args = target
        # Not daemonic: a daemonic process may not start processes of its own, and the job
        # worker's delivery runs do (kirje.mail.sending). The finally below stops them all.
        process = context.Process(target=function, args=args, daemon=False)
        process.start()
        return process

    processes: list[BaseProcess] = []
    try:
        processes.extend(start(target) for target in targets)
        while not stopping:
            time.sleep(0.5)
            for index, process in enumerate(processes):
                if not process.is_alive() and not stopping:
                    log.warning(
                        "worker %s exited with %s; starting another", process.pid, process.exitcode
                    )
                    processes[index] = start(targets[index])
    finally:
        _stop(processes)


def _stop(processes: list[BaseProcess]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(timeout=15)
        if process.is_alive():
            process.kill()
