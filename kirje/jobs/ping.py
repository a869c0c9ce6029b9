"""The `ping` job: a few steps of nothing, each committed with its progress.

Operators use it to see that a worker takes and finishes jobs; its steps make it resumable
the way real jobs are (the checkpoint says which step committed last).
"""

from __future__ import annotations

import time
from typing import Any

from kirje.domain.errors import Invalid
from kirje.domain.jobs import JobKind
from kirje.jobs.context import JobContext
from kirje.jobs.kinds import register

MAX_STEPS = 100_000
MAX_STEP_SECONDS = 3600.0


def ping(ctx: JobContext) -> dict[str, int]:
    steps, step_seconds = _read_payload(ctx.job.payload or {})
    committed = int((ctx.job.checkpoint or {}).get("step", 0))
    for step in range(committed + 1, steps + 1):
        time.sleep(step_seconds)
        with ctx.db.transaction() as conn:
            # started_from shows, after a crash, that a new worker did not redo committed steps.
            checkpoint = {"step": step, "started_from": committed}
            ctx.commit_progress(conn, done=step, total=steps, checkpoint=checkpoint)
    return {"pong": steps}


def _read_payload(payload: dict[str, Any]) -> tuple[int, float]:
    steps = payload.get("steps", 1)
    step_seconds = payload.get("step_seconds", 0)
    if not isinstance(steps, int) or isinstance(steps, bool) or not 0 <= steps <= MAX_STEPS:
        raise Invalid(f"ping: steps must be a whole number from 0 to {MAX_STEPS}")
    if (
        not isinstance(step_seconds, int | float)
        or isinstance(step_seconds, bool)
        or not 0 <= step_seconds <= MAX_STEP_SECONDS
    ):
        raise Invalid(f"ping: step_seconds must be a number from 0 to {MAX_STEP_SECONDS:g}")
    return steps, float(step_seconds)


register(JobKind.PING, ping)
