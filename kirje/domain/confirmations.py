"""Confirmation tasks: what a double opt-in confirmation completes, and the rules for them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from kirje.domain.errors import Invalid


class TaskKind(StrEnum):
    CONSENT = "consent"
    MEMBERSHIP = "membership"
    PROPERTIES = "properties"


@dataclass(frozen=True)
class ConfirmationTask:
    id: int
    contact_id: int
    code: str
    kind: TaskKind
    task: dict
    created_at: datetime
    done_at: datetime | None = None


def task_kind(value: str) -> TaskKind:
    try:
        return TaskKind((value or "").strip().lower())
    except ValueError:
        allowed = ", ".join(kind.value for kind in TaskKind)
        raise Invalid(f"unknown task type {value!r} (one of {allowed})") from None


def whole_number(value: object, what: str) -> int:
    """An integer from JSON, where clients may send numeric strings; raises Invalid."""
    if isinstance(value, bool):
        raise Invalid(f"{what} must be an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise Invalid(f"{what} must be an integer")


def consent_task(task: dict) -> dict:
    """The canonical consent task: consent_id, consent_revision and lang, all required."""
    consent_id = whole_number(task.get("consent_id"), "consent task consent_id")
    revision = whole_number(task.get("consent_revision"), "consent task consent_revision")
    lang = task.get("lang")
    if not isinstance(lang, str) or not lang.strip():
        raise Invalid("consent task needs lang")
    return {"consent_id": consent_id, "consent_revision": revision, "lang": lang.strip().upper()}


def membership_task(task: dict) -> dict:
    """A membership task names one list (list_id) or several (lists); ids are kept as given."""
    if "lists" in task:
        lists = task["lists"]
        if not isinstance(lists, list) or not lists:
            raise Invalid("membership task lists must be a non-empty array of list ids")
        return {"lists": [whole_number(i, "membership task list id") for i in lists]}
    if "list_id" in task:
        return {"list_id": whole_number(task["list_id"], "membership task list_id")}
    raise Invalid("membership task needs list_id or lists")


def membership_list_ids(task: dict) -> list[int]:
    return list(dict.fromkeys(task["lists"] if "lists" in task else [task["list_id"]]))
