"""v1 double opt-in: confirmation tasks, confirming a recipient, the confirmation mail."""

from __future__ import annotations

from typing import Any

import msgspec

from kirje.api.liana_mailer.dispatch import Call, keyed_options
from kirje.api.liana_mailer.views import local_time
from kirje.domain.confirmations import ConfirmationTask
from kirje.domain.errors import Invalid


def add_confirmation_task(
    ctx: Call, member_id: int, confirmation_code: str, task_type: str, task: dict
) -> int:
    ctx.confirmations.add_tasks(member_id, confirmation_code, [(task_type, task)])
    return 1


def add_confirmation_tasks(
    ctx: Call, member_id: int, confirmation_code: str, tasks: list[dict]
) -> list[int]:
    typed = [_typed_task(entry, position) for position, entry in enumerate(tasks, start=1)]
    return ctx.confirmations.add_tasks(member_id, confirmation_code, typed)


def get_confirmation_tasks(ctx: Call, confirmation_code: str) -> list[dict]:
    return [_task_view(task) for task in ctx.confirmations.pending_tasks(confirmation_code)]


def confirm_recipient(
    ctx: Call, code: str, reason: str | None = None, origin: str | None = None
) -> int:
    return ctx.confirmations.confirm(code, reason=reason, origin=origin)


class ConfirmationMailOptions(msgspec.Struct, forbid_unknown_fields=True):
    site: str | None = None  # the site whose confirmation page the link opens; default site
    properties: dict[str, Any] | None = None  # extra values for the mail's placeholders
    force: bool = False  # send even to a recipient already confirmed


def send_confirmation_email(ctx: Call, recipient_id: int, options: dict | None = None) -> int:
    chosen = keyed_options(options, ConfirmationMailOptions, "options")
    ctx.confirmations.queue_confirmation_mail(
        recipient_id, site=chosen.site, properties=chosen.properties, force=chosen.force
    )
    return 1


def _typed_task(entry: dict, position: int) -> tuple[str, dict]:
    """One entry of addConfirmationTasks: {"type": ..., "task": {...}}; "task_type" is read
    as "type", and without "task" the entry's other keys are the task."""
    kind = entry.get("type", entry.get("task_type"))
    if not isinstance(kind, str):
        raise Invalid(f"tasks[{position}] needs a type (consent, membership or properties)")
    if "task" in entry:
        content = entry["task"]
        if content == []:
            content = {}
        if not isinstance(content, dict):
            raise Invalid(f"tasks[{position}].task must be an object")
        return kind, content
    return kind, {k: v for k, v in entry.items() if k not in ("type", "task_type")}


def _task_view(task: ConfirmationTask) -> dict:
    return {
        "id": task.id,
        "member_id": task.contact_id,
        "type": task.kind.value,
        "task": task.task,
        "created": local_time(task.created_at),
    }
