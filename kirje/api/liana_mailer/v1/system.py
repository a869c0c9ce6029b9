"""v1 System: echo, consent types and their translations."""

from __future__ import annotations

from typing import Any

from kirje.api.liana_mailer.dispatch import Call
from kirje.api.liana_mailer.views import consent_type_view, site_consent_views


def echo_message(ctx: Call, msg: Any = None) -> Any:
    return msg


def create_consent_type(ctx: Call, name: str, is_revokable: bool) -> int:
    return ctx.consents.create_type(name, is_revokable=is_revokable)


def edit_consent_translation(
    ctx: Call, consent_id: int, lang: str, title: str, description: str
) -> int:
    return ctx.consents.edit_translation(
        consent_id, lang=lang, title=title, description=description
    )


def get_consent_types(ctx: Call) -> list[dict]:
    return [consent_type_view(item) for item in ctx.consents.all()]


def get_consent_types_by_site(ctx: Call, site: str) -> list[dict]:
    return site_consent_views(ctx.consents.for_site(site))


def pingpong(ctx: Call, body: dict | None = None) -> dict:
    # The one v1 call with a keyed body: {"ping": ...}.
    return {"pong": (body or {}).get("ping")}
