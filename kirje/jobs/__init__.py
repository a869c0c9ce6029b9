"""Durable jobs: handlers by kind, run by workers that a Huey queue wakes.

Submit with `services.jobs.submit(kind, payload)`; register the work with
`register(kind, handler)`, where `handler(ctx: JobContext)` returns the job's result.
"""

from kirje.jobs.context import JobContext
from kirje.jobs.kinds import Handler, register

__all__ = ["Handler", "JobContext", "register"]
