"""Load generators for the HTTP benchmarks: wrk when it is installed, else an asyncio client.

Both replay the same file of raw, pre-built HTTP/1.1 requests (each followed by a NUL byte),
picking one at random for every request, over keep-alive connections to 127.0.0.1 only,
and report the same figures. Either runs in its own process so that it never shares an
interpreter with what it measures. `python -m kirje.bench.load` is the asyncio one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

HOST = "127.0.0.1"
# Longest a single request may take before it counts as failed.
REQUEST_TIMEOUT_SECONDS = 5.0
# Beyond the run itself: process start-up, connection set-up, draining the last requests.
PROCESS_GRACE_SECONDS = 60.0
RESULT_MARKER = "KIRJE_LOAD "
SEPARATOR = b"\0"

# Loads the request file once per wrk thread, then sends a random one each time.
# `done` runs once in wrk's main thread with every thread's statistics merged.
WRK_SCRIPT = r"""
local path
local requests = {}

function init(args)
  path = args[1]
  local file = assert(io.open(path, "rb"))
  local data = file:read("*a")
  file:close()
  local start = 1
  while start <= #data do
    local stop = data:find("\0", start, true)
    requests[#requests + 1] = data:sub(start, stop - 1)
    start = stop + 1
  end
  math.randomseed(os.time() + #requests + tonumber(tostring(requests):sub(-6), 16))
end

function request()
  return requests[math.random(#requests)]
end

function done(summary, latency, _)
  local e = summary.errors
  io.write(string.format(
    'KIRJE_LOAD {"requests": %d, "errors": %d, "seconds": %.6f, "p50_ms": %.3f, "p99_ms": %.3f}\n',
    summary.requests,
    e.connect + e.read + e.write + e.status + e.timeout,
    summary.duration / 1e6,
    latency:percentile(50) / 1000,
    latency:percentile(99) / 1000
  ))
end
"""


@dataclass(frozen=True)
class PreparedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""


@dataclass(frozen=True)
class LoadResult:
    requests: int  # completed, whatever their status
    # Error statuses (non-2xx; wrk counts >= 400), failed connections and timeouts.
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0


def raw_request(request: PreparedRequest, port: int) -> bytes:
    """The request exactly as it goes on the wire, so both generators send the same bytes."""
    lines = [f"{request.method} {request.path} HTTP/1.1", f"Host: {HOST}:{port}"]
    lines += [f"{name}: {value}" for name, value in request.headers.items()]
    lines.append(f"Content-Length: {len(request.body)}")
    head = "\r\n".join(lines) + "\r\n\r\n"
    return head.encode("latin-1") + request.body


def write_requests(path: Path, requests: list[bytes]) -> None:
    if any(SEPARATOR in request for request in requests):
        raise ValueError("a request must not contain a NUL byte")
    path.write_bytes(b"".join(request + SEPARATOR for request in requests))


def read_requests(path: Path) -> list[bytes]:
    return [request for request in path.read_bytes().split(SEPARATOR) if request]


def choose_load(preferred: str) -> str:
    """'wrk' or 'python'; 'auto' takes wrk when it is on PATH."""
    if preferred == "auto":
        return "wrk" if shutil.which("wrk") else "python"
    if preferred == "wrk" and not shutil.which("wrk"):
        raise RuntimeError("wrk is not on PATH (apt-get install wrk), or use --load python")
    return preferred


def run_load(
    kind: str, requests_file: Path, *, port: int, seconds: int, connections: int, threads: int
) -> LoadResult:
    if kind == "wrk":
        command = _wrk_command(requests_file, port, seconds, connections, threads)
        return _run_process(command, seconds)
    command = [sys.executable, "-m", "kirje.bench.load", "--port", str(port)]
    command += ["--requests", str(requests_file), "--seconds", str(seconds)]
    command += ["--connections", str(connections)]
    return _run_process(command, seconds)


def _wrk_command(
    requests_file: Path, port: int, seconds: int, connections: int, threads: int
) -> list[str]:
    script = requests_file.with_suffix(".lua")
    script.write_text(WRK_SCRIPT)
    threads = max(1, min(threads, connections))
    return [
        "wrk",
        f"--threads={threads}",
        f"--connections={connections}",
        f"--duration={seconds}s",
        f"--timeout={int(REQUEST_TIMEOUT_SECONDS)}s",
        f"--script={script}",
        f"http://{HOST}:{port}/",
        "--",
        str(requests_file),
    ]


def _run_process(command: list[str], seconds: int) -> LoadResult:
    completed = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=seconds + PROCESS_GRACE_SECONDS,
        check=False,
    )
    for line in completed.stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            return LoadResult(**json.loads(line[len(RESULT_MARKER) :]))
    raise RuntimeError(
        f"{command[0]} reported nothing (exit {completed.returncode}): "
        f"{completed.stdout[-2000:]}{completed.stderr[-2000:]}"
    )


# The asyncio generator, run in its own process by run_load.


class _Tally:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors = 0


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """The status of one response and whether the server keeps the connection open."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lowered = head.lower()
    start = lowered.find(b"\r\ncontent-length:")
    if start < 0:
        raise ValueError("response without Content-Length")
    end = lowered.find(b"\r\n", start + 2)
    await reader.readexactly(int(lowered[start + 17 : end]))
    return status, b"\r\nconnection: close" not in lowered


async def _drive_connection(
    requests: list[bytes], port: int, deadline: float, tally: _Tally
) -> None:
    writer: asyncio.StreamWriter | None = None
    reader: asyncio.StreamReader | None = None
    clock = time.perf_counter
    while clock() < deadline:
        try:
            if writer is None or reader is None:
                reader, writer = await asyncio.open_connection(HOST, port)
            started = clock()
            writer.write(random.choice(requests))
            status, keep_alive = await _read_response(reader)
            tally.latencies.append(clock() - started)
            if not 200 <= status < 300:
                tally.errors += 1
        except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            tally.errors += 1
            keep_alive = False
        if not keep_alive and writer is not None:
            writer.close()
            writer = reader = None
    if writer is not None:
        writer.close()


async def _drive(requests: list[bytes], port: int, seconds: float, connections: int) -> dict:
    tally = _Tally()
    started = time.perf_counter()
    deadline = started + seconds
    tasks = [
        asyncio.create_task(_drive_connection(requests, port, deadline, tally))
        for _ in range(connections)
    ]
    # One timer for the whole run instead of one per request: a request still hanging
    # this long after the deadline is cancelled and counted as failed.
    _, hanging = await asyncio.wait(tasks, timeout=seconds + REQUEST_TIMEOUT_SECONDS)
    for task in hanging:
        task.cancel()
    tally.errors += len(hanging)
    elapsed = time.perf_counter() - started if not hanging else seconds
    latencies = sorted(tally.latencies)
    return asdict(
        LoadResult(
            requests=len(latencies),
            errors=tally.errors,
            seconds=round(elapsed, 6),
            p50_ms=round(_percentile(latencies, 0.50) * 1000, 3),
            p99_ms=round(_percentile(latencies, 0.99) * 1000, 3),
        )
    )


def _percentile(ordered: list[float], fraction: float) -> float:
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _new_event_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is not built for Windows
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Replay pre-built HTTP requests to 127.0.0.1.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--requests", type=Path, required=True, help="NUL-separated requests")
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args(argv)
    requests = read_requests(args.requests)
    with asyncio.Runner(loop_factory=_new_event_loop) as runner:
        result = runner.run(_drive(requests, args.port, args.seconds, args.connections))
    sys.stdout.write(RESULT_MARKER + json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
