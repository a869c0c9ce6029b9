"""LianaMailer shapes of core objects. Ids are JSON integers and flags real booleans:
the WordPress plugins compare them with ===."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from kirje.domain.accounts import Account
from kirje.domain.contacts import ContactDetails
from kirje.domain.jobs import Job
from kirje.domain.lists import MailingList
from kirje.domain.properties import Property
from kirje.domain.sites import Site
from kirje.services.consents import ConsentWithTexts

# LianaMailer speaks Helsinki local time.
HELSINKI = ZoneInfo("Europe/Helsinki")


def local_time(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(HELSINKI).strftime("%Y-%m-%d %H:%M:%S")


def recipient_view(details: ContactDetails) -> dict:
    contact = details.contact
    return {
        "recipient": {
            "id": contact.id,
            "email": contact.email,
            "sms": contact.sms,
            "enabled": contact.is_enabled and not contact.is_deleted,
            "confirmed": contact.confirmed_at is not None,
            "deleted": contact.is_deleted,
            "bounced": contact.bounced_at is not None,
            "created": local_time(contact.created_at),
            "updated": local_time(contact.updated_at),
            "confirmed_at": local_time(contact.confirmed_at),
            "deleted_at": local_time(contact.deleted_at),
        },
        "properties": dict(contact.properties),
        "membership": [
            [m.list_id, local_time(m.joined_at), int(m.is_admin)] for m in details.memberships
        ],
        "consents": [
            {
                "consent_id": c.consent_id,
                "consent_revision": c.revision,
                "lang": c.lang,
                "source": c.source,
                "source_data": c.source_data,
                "given": local_time(c.given_at),
                "revoked": c.revoked_at is not None,
                "revoked_at": local_time(c.revoked_at),
            }
            for c in details.consents
        ],
    }


def property_view(prop: Property) -> dict:
    return {
        "handle": prop.id,
        "name": prop.name,
        "visible_name": prop.visible_name,
        "type": prop.type.value,
        "datatype": prop.datatype.value,
        "required": prop.is_required,
        "subscription": prop.is_on_subscription_page,
        "language": prop.language,
        "position": prop.position,
        "choices": list(prop.choices),
    }


def list_view(
    mailing_list: MailingList,
    site_domains: dict[int, str] | None = None,
    external_ids: dict[str, str] | None = None,
) -> dict:
    view = {
        "id": mailing_list.id,
        "name": mailing_list.name,
        "description": mailing_list.description,
        "type": mailing_list.kind.value,
        "members": mailing_list.member_count,
        "self_service": mailing_list.is_self_service,
        "site": (site_domains or {}).get(mailing_list.site_id) if mailing_list.site_id else None,
        "condition": mailing_list.condition,
        "cem_segment": mailing_list.cem_segment,
        "hidden": mailing_list.is_hidden,
        "folder": mailing_list.folder or "/",
        "deleted": mailing_list.deleted_at is not None,
        "created": local_time(mailing_list.created_at),
        # {type: id} of the list in outside systems (addMailingListExternalId).
        "external_ids": dict(external_ids or {}),
    }
    if mailing_list.sms_member_count is not None:
        view["sms_members"] = mailing_list.sms_member_count
    return view


def import_view(job: Job) -> dict:
    """A list import that is queued or in progress: getMailingLists' import statistics."""
    return {
        "id": job.id,
        "state": job.state.value,
        "rows_done": job.progress_done,
        "rows_total": job.progress_total,
        "queued": local_time(job.created_at),
        "started": local_time(job.started_at) if job.started_at else None,
    }


def site_view(
    site: Site,
    *,
    lists: list[MailingList] | None = None,
    properties: list[Property] | None = None,
) -> dict:
    view = {
        "domain": site.domain,
        "language": site.language,
        "default": site.is_default,
        "ssl": site.uses_ssl,
        "welcome": site.welcome_delivery_id or 0,
        "redirect": site.redirect,
        "replaced_by": site.replaced_by,
    }
    if lists is not None:
        view["lists"] = [
            {"id": m.id, "name": m.name, "description": m.description}
            for m in lists
            if m.id in site.list_ids
        ]
    if properties is not None:
        view["properties"] = [
            {
                "handle": p.id,
                "name": p.name,
                "visible_name": p.visible_name,
                "position": p.position,
                "language": p.language,
            }
            for p in properties
        ]
    return view


def customer_view(account: Account, default_site: Site) -> dict:
    return {
        "id": account.id,
        "name": account.name,
        "realm": account.realm,
        "registration_needs_confirmation": account.needs_confirmation,
        "default_site": default_site.domain,
        "language": default_site.language,
        "timezone": "Europe/Helsinki",
        "sms": False,
    }


def consent_type_view(item: ConsentWithTexts) -> dict:
    consent = item.consent
    return {
        "consent_id": consent.id,
        "name": consent.name,
        "is_revokable": consent.is_revokable,
        "consent_revision": consent.revision,
        "translations": [
            {"lang": t.lang, "title": t.title, "description": t.description} for t in item.texts
        ],
    }


def site_consent_views(items: list[ConsentWithTexts]) -> list[dict]:
    """One entry per consent and language: what a subscription form shows and stores."""
    return [
        {
            "consent_id": item.consent.id,
            "consent_revision": text.revision,
            "language": text.lang,
            "name": text.title,
            "description": text.description,
            "type_name": item.consent.name,
            "is_revokable": item.consent.is_revokable,
        }
        for item in items
        for text in item.texts
    ]
