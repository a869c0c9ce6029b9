"""A generator run in a child process, its items handed over one at a time as it makes them.

For CPU work in Python that can go on beside the calling process's own work (a large import's
parsing, beside the job's COPY and commits): the child makes the next item while the caller
uses the last one. A pipe holds little more than one item, so the child is at most one item
ahead and memory stays flat.

A plain subprocess (`python -m kirje.child_iteration module:function`), not multiprocessing:
its spawn start method runs the caller's main module again in the child (the kirje command
imports all of Kirje, about a second), and a fork would copy the job's threads and database
connections. Argument and items are pickled: the pipe joins a process to its own child.
"""

from __future__ import annotations

import importlib
import os
import pickle
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any, BinaryIO, TypeVar

Argument = TypeVar("Argument")
Item = TypeVar("Item")

_ITEM, _ERROR, _END = "item", "error", "end"
# The child's exit code when the caller stopped reading (it ended, or closed the iterator).
_ABANDONED = 3


class ChildEnded(RuntimeError):
    """The child process ended before its generator did (killed, or out of memory)."""


def iterate_in_child(
    function: Callable[[Argument], Iterable[Item]], argument: Argument
) -> Iterator[Item]:
    """Yields what function(argument) yields, computed in a child process; an exception the
    generator raises is raised here. The function must be importable by its module and name.
    Closing the iterator (or leaving a `with closing(...)`) ends the child."""
    target = f"{function.__module__}:{function.__qualname__}"
    try:
        child = subprocess.Popen(
            [sys.executable, "-m", __name__, target], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
    except OSError as error:
        raise ChildEnded(f"no process could be started to run {target}: {error}") from error
    assert child.stdin is not None and child.stdout is not None
    try:
        try:
            with child.stdin:
                pickle.dump(argument, child.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        except BrokenPipeError:
            pass  # it ended before reading its argument: reported below, as any early end
        while True:
            try:
                kind, value = pickle.load(child.stdout)
            except EOFError:
                raise ChildEnded(
                    f"the process running {target} ended early (exit code {child.wait()})"
                ) from None
            if kind == _END:
                return
            if kind == _ERROR:
                raise value
            yield value
    finally:
        if child.poll() is None:
            child.kill()
        child.stdout.close()
        child.wait()


def _serve(target: str, source: BinaryIO, sink: BinaryIO) -> None:
    module_name, _, name = target.partition(":")
    function = getattr(importlib.import_module(module_name), name)
    argument = pickle.load(source)
    try:
        for item in function(argument):
            _send(sink, _ITEM, item)
    except Exception as error:
        _send(sink, _ERROR, _picklable(error))
        return
    _send(sink, _END, None)


def _send(sink: BinaryIO, kind: str, value: Any) -> None:
    try:
        pickle.dump((kind, value), sink, protocol=pickle.HIGHEST_PROTOCOL)
        sink.flush()
    except BrokenPipeError:
        # The caller is gone, or stopped reading: nothing is left to do.
        os._exit(_ABANDONED)


def _picklable(error: Exception) -> Exception:
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        return RuntimeError(f"{type(error).__name__}: {error}")
    return error


if __name__ == "__main__":
    sink = sys.stdout.buffer
    # Whatever the function prints goes to stderr, not into the stream of items.
    sys.stdout = sys.stderr
    _serve(sys.argv[1], sys.stdin.buffer, sink)
