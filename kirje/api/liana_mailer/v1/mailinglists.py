"""v1 Mailinglists: lists, their members and counts."""

from __future__ import annotations

from kirje.api.liana_mailer.dispatch import Call, page_of
from kirje.api.liana_mailer.views import list_view, recipient_view
from kirje.domain.errors import Invalid


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
    if ext_id is not None or ext_id_type is not None:
        # External ids have their own store with the rest of the contact API.
        raise Invalid("list external ids are not available yet; leave ext_id null")
    return ctx.lists.create(
        name,
        description=description,
        is_self_service=self_service,
        condition=condition,
        site_domain=site,
        cem_segment=cem_segment,
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
    return [list_view(m, domains) for m in ctx.lists.all(include_deleted=include_deleted)]


def get_mailing_list(ctx: Call, list_id: int, get_sms_count: bool = False) -> dict:
    domains = {s.id: s.domain for s in ctx.sites.all()}
    return list_view(ctx.lists.get(list_id, with_sms_count=get_sms_count), domains)


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
