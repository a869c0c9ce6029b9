"""v1 privacy: GDPR erasure, a person's data file, the anonymous shadow recipient and the
exclusion (marketing ban) list."""

from __future__ import annotations

import base64
import csv
import io
import json
from datetime import datetime
from typing import Any, Literal

import msgspec

from kirje.api.liana_mailer.dispatch import Call, keyed_options
from kirje.api.liana_mailer.views import local_time, recipient_view
from kirje.domain.errors import Invalid
from kirje.domain.privacy import PersonalData, ShadowContact


def forget_recipient(ctx: Call, id: int, reason: str | None = None) -> int:
    ctx.privacy.forget(id, reason=reason)
    return 1


def forget_recipient_by_email(ctx: Call, email: str, reason: str | None = None) -> int:
    ctx.privacy.forget_by_email(email, reason=reason)
    return 1


def forget_recipient_by_sms(ctx: Call, sms: str, reason: str | None = None) -> int:
    ctx.privacy.forget_by_sms(sms, reason=reason)
    return 1


class ExcludedSearch(msgspec.Struct, forbid_unknown_fields=True):
    """getExcludedMembers' search parameters (the seed prints none: these are Kirje's)."""

    offset: int = 0
    limit: int = 100
    email: str | None = None


def get_excluded_members(ctx: Call, params: dict | None = None) -> list[dict]:
    search = keyed_options(params, ExcludedSearch, "params")
    banned = ctx.privacy.banned(offset=search.offset, limit=search.limit, email=search.email)
    return [recipient_view(details) for details in banned]


class DataFileOptions(msgspec.Struct, forbid_unknown_fields=True):
    format: Literal["json", "csv"] = "json"
    base64: bool = True


def get_recipient_data_in_file(ctx: Call, id: int, options: dict | None = None) -> str:
    chosen = keyed_options(options, DataFileOptions, "options")
    data = ctx.privacy.personal_data(id)
    text = _as_csv(data) if chosen.format == "csv" else _as_json(data)
    return base64.b64encode(text.encode("utf-8")).decode("ascii") if chosen.base64 else text


def get_shadow_recipient(ctx: Call, recipient_id: int | None = None) -> dict:
    # Optional in the seed's schema, but there is nothing to answer without it.
    if recipient_id is None:
        raise Invalid("parameter 1 (recipient_id) is required")
    return _shadow_view(ctx.privacy.shadow(recipient_id))


def _shadow_view(shadow: ShadowContact) -> dict:
    return {
        "id": shadow.id,
        "created": local_time(shadow.created_at),
        "deleted": local_time(shadow.deleted_at),
        "forgotten": local_time(shadow.forgotten_at),
        "enabled": shadow.is_enabled,
        "lists": shadow.list_ids,
        "consents": shadow.consent_count,
        "events": shadow.event_count,
    }


# The data file: times in Helsinki like every v1 answer, one document or one CSV section a kind.

_SECTIONS = ("memberships", "consents", "events", "queued_mails", "confirmation_tasks")


def _local(row: dict) -> dict:
    return {k: local_time(v) if isinstance(v, datetime) else v for k, v in row.items()}


def _as_json(data: PersonalData) -> str:
    document: dict[str, Any] = {
        "recipient": _local(data.recipient),
        "properties": data.properties,
    }
    for section in _SECTIONS:
        document[section] = [_local(row) for row in getattr(data, section)]
    return json.dumps(document, ensure_ascii=False, indent=2)


def _as_csv(data: PersonalData) -> str:
    sections: list[tuple[str, list[dict]]] = [
        ("recipient", [data.recipient]),
        ("properties", [{"name": k, "value": v} for k, v in data.properties.items()]),
        *((section, getattr(data, section)) for section in _SECTIONS),
    ]
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", quoting=csv.QUOTE_ALL, lineterminator="\n")
    for number, (name, rows) in enumerate(sections):
        if number:
            out.write("\n")
        writer.writerow([name])
        if rows:
            writer.writerow(list(rows[0]))
            writer.writerows([_csv_cell(v) for v in _local(row).values()] for row in rows)
    return out.getvalue()


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list, bool)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
