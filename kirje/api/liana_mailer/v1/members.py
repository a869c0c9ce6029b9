"""v1 Members: recipients, their properties, list memberships, consents and welcome mail."""

from __future__ import annotations

from kirje.api.liana_mailer.dispatch import Call, page_of
from kirje.api.liana_mailer.views import property_view, recipient_view
from kirje.services.contacts import KEEP


def get_customer_properties(ctx: Call) -> list[dict]:
    return [property_view(p) for p in ctx.properties.all()]


def create_customer_property(
    ctx: Call,
    name: str,
    language: str = "FI",
    type: str = "text",
    choices: list[str] | None = None,
    required: bool = False,
    subscription: bool = False,
    position: int | None = None,
    datatype: str = "text",
) -> int:
    return ctx.properties.create(
        name,
        language=language,
        type=type,
        choices=choices,
        is_required=required,
        is_on_subscription_page=subscription,
        position=position,
        datatype=datatype,
    )


def create_recipient(
    ctx: Call,
    email: str | None = None,
    sms: str | None = None,
    properties: dict | None = None,
    autoconfirm: bool = False,
    reason: str | None = None,
    origin: str | None = None,
    reactivate_bounced: bool = False,
) -> int:
    return ctx.contacts.create(
        email=email,
        sms=sms,
        properties=properties,
        autoconfirm=autoconfirm,
        reason=reason,
        origin=origin,
        reactivate_bounced=reactivate_bounced,
    )


def edit_recipient(
    ctx: Call,
    id: int,
    email: str,
    sms: str | None = None,
    properties: dict | None = None,
    reason: str | None = None,
    origin: str | None = None,
) -> None:
    # null keeps the stored number (null means "default" in v1); "" clears it.
    ctx.contacts.edit(
        id,
        email=email,
        sms=KEEP if sms is None else sms,
        properties=properties,
        reason=reason,
        origin=origin,
    )


def get_recipient(ctx: Call, id: int) -> dict:
    return recipient_view(ctx.contacts.get(id))


def get_recipient_by_email(ctx: Call, email: str, include_deleted: bool = False) -> dict:
    return recipient_view(ctx.contacts.get_by_email(email, include_deleted=include_deleted))


def get_recipient_by_sms(ctx: Call, sms: str, include_deleted: bool = False) -> dict:
    return recipient_view(ctx.contacts.get_by_sms(sms, include_deleted=include_deleted))


def create_and_join_recipient(
    ctx: Call,
    id: int | None = None,
    email: str | None = None,
    sms: str | None = None,
    properties: dict | None = None,
    autoconfirm: bool = False,
    reason: str | None = None,
    origin: str | None = None,
    lists: list[int] | None = None,
    admin: bool = True,
) -> int:
    return ctx.contacts.create_or_update(
        contact_id=id,
        email=email,
        sms=sms,
        properties=properties,
        autoconfirm=autoconfirm,
        reason=reason,
        origin=origin,
        list_ids=lists,
        is_admin=admin,
    )


def reactivate_recipient(
    ctx: Call,
    email: str,
    identity: str,
    reason: str,
    confirm: bool = False,
    rise: str | None = None,
    origin: str | None = None,
    properties: dict | None = None,
) -> int:
    return ctx.contacts.reactivate(
        email,
        identity=identity,
        reason=reason,
        confirm=confirm,
        origin=origin,
        properties=properties,
    )


def delete_recipient(
    ctx: Call,
    id: int,
    reason: str | None = None,
    subscriber_reason_type: str | None = None,
    subscriber_reason_text: str | None = None,
    origin: str | None = None,
) -> int:
    ctx.contacts.delete(
        id,
        reason=reason,
        reason_type=subscriber_reason_type,
        reason_text=subscriber_reason_text,
        origin=origin,
    )
    return 1


def add_member_consent(
    ctx: Call,
    member_id: int,
    consent_id: int,
    consent_revision: int,
    lang: str,
    source: str,
    source_data: str | None = None,
) -> int:
    return ctx.contacts.add_consent(
        member_id,
        consent_id=consent_id,
        revision=consent_revision,
        lang=lang,
        source=source,
        source_data=source_data,
    )


def revoke_consent(
    ctx: Call, recipient_id: int, consent_id: int, consent_revision: int, consent_lang: str
) -> None:
    ctx.contacts.revoke_consent(
        recipient_id, consent_id=consent_id, revision=consent_revision, lang=consent_lang
    )


def send_welcome_mail(
    ctx: Call, recipient_id: int, site: str, force: bool = True, props: dict | None = None
) -> int:
    ctx.contacts.queue_welcome_mail(recipient_id, site, force=force, properties=props)
    return 1


def join_mailing_list(
    ctx: Call,
    list_id: int,
    recipient_list: list[int],
    noauto: bool = False,
    reason: str | None = None,
    admin: bool = True,
    truncate: bool = False,
    origin: str | None = None,
    rejoin: bool = False,
    ignore_errors: bool = False,
) -> None:
    ctx.lists.join(
        list_id,
        recipient_list,
        is_admin=admin,
        reason=reason,
        origin=origin,
        truncate=truncate,
        rejoin=rejoin,
        ignore_missing=ignore_errors,
        confirm=not noauto,
    )


def remove_recipient_from_mailing_list(
    ctx: Call, recipient_id: int, list_id: int, reason: str | None = None
) -> bool:
    ctx.contacts.remove_from_list(recipient_id, list_id, reason=reason)
    return True


def exists_recipient(ctx: Call, email_or_sms: str) -> int | bool:
    # false, not null, when there is none: clients test the result for truthiness.
    return ctx.contacts.find_id(email_or_sms) or False


def enable_recipient(ctx: Call, id: int, reason: str | None = None) -> int:
    ctx.contacts.enable(id, reason=reason)
    return 1


def is_recipient_enabled(ctx: Call, recipient: int | str, strict: bool = False) -> int:
    return int(ctx.contacts.is_enabled(recipient) != strict)


def update_recipient(
    ctx: Call,
    recipient_email: str,
    recipient_sms: str | None = None,
    properties: dict | None = None,
    reason: str | None = None,
    origin: str | None = None,
    create: bool = False,
) -> int:
    return ctx.contacts.update(
        recipient_email,
        sms=recipient_sms,
        properties=properties,
        reason=reason,
        origin=origin,
        create=create,
    )


def get_recipients(
    ctx: Call,
    offset: int = 0,
    num: int = 0,
    order: str = "id",
    sort: str = "asc",
    filter: str | None = None,
) -> list[dict]:
    found = ctx.contacts.listing(page_of(offset, num, order, sort, filter))
    return [recipient_view(d) for d in found]


def leave_mailing_list(
    ctx: Call,
    list_id: int,
    recipient_id: int,
    reason: str | None = None,
    admin: bool = True,
    origin: str | None = None,
) -> None:
    ctx.contacts.leave_list(
        recipient_id, list_id, by_contact=not admin, reason=reason, origin=origin
    )


def get_recipient_list(ctx: Call, ids: list[int] | None = None) -> list[dict]:
    return [recipient_view(d) for d in ctx.contacts.get_many(ids or [])]


def get_deleted_recipient(ctx: Call, id: int) -> dict:
    return recipient_view(ctx.contacts.get_deleted(id))


def get_unassociated_recipient_count(ctx: Call) -> int:
    return ctx.contacts.unassociated_count()


def get_unique_recipient_count(
    ctx: Call, lists: list[int] | None = None, adhocs: list[str] | None = None
) -> int:
    return ctx.lists.unique_recipient_count(lists or [], adhocs or [])


def get_recipient_confirmation_code(ctx: Call, id: int) -> str:
    return ctx.contacts.confirmation_code(id, renew=False)


def set_confirmation_code(ctx: Call, recipient_id: int) -> str:
    return ctx.contacts.confirmation_code(recipient_id, renew=True)


def rename_customer_property(ctx: Call, old_name: str, new_name: str, language: str) -> None:
    ctx.properties.rename(old_name, new_name)


def delete_customer_property(ctx: Call, name: str, language: str | None = None) -> None:
    ctx.properties.delete(name)
