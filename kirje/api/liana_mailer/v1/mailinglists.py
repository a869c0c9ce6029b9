"""v1 Mailinglists: lists, their members and counts."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from kirje.api.liana_mailer.dispatch import Call, page_of
from kirje.api.liana_mailer.views import import_view, list_view, recipient_view
from kirje.domain.errors import Invalid
from kirje.domain.jobs import JobKind
from kirje.domain.lists import member_condition
from kirje.services.lists import MemberRows


def create_mailing_list(
    ctx: Call,
    name: str,
    description: str | None = None,
    self_service: bool = False,
    condition: str | None = None,
    site: str | None = None,
    cem_segment: int | None = None,
    ext_id: str | None = None,
    ext_id_type: str | None = None,
) -> int:
    return ctx.lists.create(
        name,
        description=description,
        is_self_service=self_service,
        condition=condition,
        site_domain=site,
        cem_segment=cem_segment,
        external_id=ext_id,
        external_id_type=ext_id_type,
    )


def edit_mailing_list(
    ctx: Call,
    list_id: int,
    new_name: str,
    new_description: str,
    new_subs: bool | None = None,
    new_condition: str | None = None,
    new_site: str | None = None,
    new_cem_segment: int | None = None,
) -> int:
    return ctx.lists.edit(
        list_id,
        name=new_name,
        description=new_description,
        is_self_service=new_subs,
        condition=new_condition,
        site_domain=new_site,
        cem_segment=new_cem_segment,
    )


def delete_mailing_list(ctx: Call, list_id: int) -> None:
    ctx.lists.delete(list_id)


def get_mailing_lists(ctx: Call, include_deleted: bool = False) -> list[dict]:
    domains = {s.id: s.domain for s in ctx.sites.all()}
    external_ids = ctx.lists.external_ids()
    # The seed: import statistics come with a list whose import is queued or in progress.
    imports = {job.subject_id: job for job in ctx.jobs.unfinished(JobKind.IMPORT)}
    views = []
    for found in ctx.lists.all(include_deleted=include_deleted):
        view = list_view(found, domains, external_ids.get(found.id, {}))
        if found.id in imports:
            view["import"] = import_view(imports[found.id])
        views.append(view)
    return views


def get_mailing_list(ctx: Call, list_id: int, get_sms_count: bool = False) -> dict:
    domains = {s.id: s.domain for s in ctx.sites.all()}
    found = ctx.lists.get(list_id, with_sms_count=get_sms_count)
    return list_view(found, domains, ctx.lists.external_ids([list_id]).get(list_id, {}))


def get_mailing_list_members(
    ctx: Call,
    list_id: int,
    offset: int = 0,
    num: int = 0,
    order: str = "id",
    sort: str = "asc",
    filter: str | None = None,
) -> list[dict]:
    members = ctx.lists.members(list_id, page_of(offset, num, order, sort, filter))
    return [recipient_view(m) for m in members]


def get_mailing_list_member_count(ctx: Call, list_id: int) -> int:
    return ctx.lists.member_count(list_id)


def truncate_mailing_list(ctx: Call, list_id: int) -> None:
    ctx.lists.truncate(list_id)


def hide_mailing_list(ctx: Call, list_id: int) -> None:
    ctx.lists.hide(list_id)


def get_mailing_list_condition(ctx: Call, list_id: int) -> str | None:
    return ctx.lists.get(list_id).condition


def edit_mailing_list_condition(ctx: Call, list_id: int, new_condition: str | None = None) -> str:
    return ctx.lists.set_condition(list_id, new_condition)


def edit_mailing_list_self_service(
    ctx: Call, list_id: int, self_service: bool = False
) -> list[str]:
    return ctx.lists.set_self_service(list_id, self_service)


def add_mailing_list_external_id(
    ctx: Call, list_id: int, external_id: str | None = None, external_id_type: str | None = None
) -> None:
    ctx.lists.add_external_id(list_id, external_id, external_id_type)


def delete_mailing_list_external_id(ctx: Call, list_id: int, type: str) -> None:
    ctx.lists.delete_external_id(list_id, type)


def get_mailing_list_external_id(ctx: Call, list_id: int, list_external_id_type: str) -> str:
    return ctx.lists.external_id(list_id, list_external_id_type)


def find_list_by_external_id(ctx: Call, list_external_id: str, list_external_id_type: str) -> int:
    return ctx.lists.find_by_external_id(list_external_id, list_external_id_type)


def update_mailing_list_health(ctx: Call, list_id: int | list[int]) -> dict[str, int]:
    """Health is computed from the memberships as they are (domain.lists.health_percent),
    so "update" only reads; JSON object keys are the list ids as text."""
    list_ids = list_id if isinstance(list_id, list) else [list_id]
    return {str(key): value for key, value in ctx.lists.health(list_ids).items()}


def get_mailing_list_members_by_condition(
    ctx: Call,
    list_id: int,
    from_time: int | None = None,
    to_time: int | None = None,
    condition: str | None = None,
    cols: list[str] | None = None,
) -> str:
    """`from` and `to` are epoch seconds (Python cannot name a parameter `from`)."""
    found = ctx.lists.members_by_condition(
        list_id,
        member_condition(condition),
        since=_epoch(from_time, "from"),
        until=_epoch(to_time, "to"),
        property_names=cols,
    )
    return _members_csv(found)


def request_target_group(ctx: Call, list_id: int) -> str:
    return f"H:kirje:{ctx.lists.request_target_group(list_id).id}"


def _epoch(seconds: int | None, name: str) -> datetime | None:
    if seconds is None:
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise Invalid(f"{name} is not a time in epoch seconds: {seconds}") from None


def _members_csv(found: MemberRows) -> str:
    """LianaMailer's CSV: every field in double quotes, `;` between fields, `\n` between
    lines, the header first and no newline after the last line (as the seed shows it)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(["email", "sms", *found.property_names])
    for email, sms, values in found.rows:
        writer.writerow([email or "", sms or "", *values])
    return buffer.getvalue().removesuffix("\n")
