"""A generator run in a child process: its items arrive in order, its errors are raised in the
caller, and the child never outlives the caller's interest (closed early, or killed)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from kirje.child_iteration import ChildEnded, iterate_in_child
from kirje.domain.errors import Invalid

# Larger than a pipe holds: the child blocks on it until the caller reads.
LARGE = 3_000_000


# The generators the child runs (importable by module and name).


def numbered(n: int) -> Iterator[tuple[int, bytes]]:
    for index in range(n):
        yield index, bytes([index % 256]) * (LARGE if index % 2 else 10)


def refusing(n: int) -> Iterator[int]:
    yield from range(n)
    raise Invalid("line 3: the file is not what it says")


class _Unpicklable(Exception):
    def __init__(self, first: str, second: str) -> None:
        super().__init__(f"{first} {second}")


def refusing_unpicklably(_: None) -> Iterator[int]:
    yield 1
    raise _Unpicklable("no", "way")


def its_pid_forever(_: None) -> Iterator[int]:
    while True:
        yield os.getpid()


def dying(_: None) -> Iterator[int]:
    yield 1
    os._exit(9)


# The tests


def test_the_items_arrive_in_order_whatever_their_size() -> None:
    received = list(iterate_in_child(numbered, 5))
    assert [index for index, _ in received] == [0, 1, 2, 3, 4]
    assert [len(data) for _, data in received] == [10, LARGE, 10, LARGE, 10]
    assert received[3][1] == bytes([3]) * LARGE


def test_an_error_in_the_child_is_raised_in_the_caller_after_its_items() -> None:
    received = []
    with pytest.raises(Invalid, match="line 3: the file is not what it says"):
        for item in iterate_in_child(refusing, 2):
            received.append(item)
    assert received == [0, 1]


def test_an_error_that_cannot_travel_arrives_as_its_text() -> None:
    with pytest.raises(RuntimeError, match="_Unpicklable: no way"):
        list(iterate_in_child(refusing_unpicklably, None))


def test_a_child_that_dies_is_reported_with_its_exit_code() -> None:
    with pytest.raises(ChildEnded, match="exit code 9"):
        list(iterate_in_child(dying, None))


def test_a_function_the_child_cannot_import_is_reported() -> None:
    def nowhere(_: None) -> Iterator[int]:
        yield 1

    with pytest.raises(ChildEnded, match="exit code 1"):
        list(iterate_in_child(nowhere, None))


def test_closing_the_iterator_ends_the_child() -> None:
    items = iterate_in_child(its_pid_forever, None)
    pid = next(items)
    items.close()
    assert not _alive(pid)


def test_the_child_ends_when_its_caller_is_killed() -> None:
    caller = subprocess.Popen(
        [sys.executable, "-c", _CALLER],
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.path.dirname(os.path.dirname(__file__)),
    )
    try:
        child_pid = int(caller.stdout.readline())
        assert _alive(child_pid)
        caller.send_signal(signal.SIGKILL)
        caller.wait(timeout=30)
        assert _ends_soon(child_pid)
    finally:
        caller.kill()
        caller.wait()


# Takes one item, then stops reading (as a worker busy with a COPY) until it is killed.
_CALLER = """
import time
from kirje.child_iteration import iterate_in_child
from tests.test_child_iteration import its_pid_forever
items = iterate_in_child(its_pid_forever, None)
print(next(items), flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    """Whether the process runs (a zombie, ended but not yet reaped by its parent, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _ends_soon(pid: int, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True
