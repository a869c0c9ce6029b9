"""v1 System: echo, consent types and their translations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kirje import __version__
from kirje.api.liana_mailer.dispatch import Call
from kirje.api.liana_mailer.views import consent_type_view, local_time, site_consent_views


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


def delete_consent_type(ctx: Call, consent_id: int) -> int:
    ctx.consents.delete_type(consent_id)
    return 1


def edit_consent_type(ctx: Call, consent_id: int, name: str, is_revokable: bool | int) -> int:
    # The seed names the third parameter is_revokable, types it integer and describes it as
    # "Consent revision" (its sample sends 2): read as the flag its name says, non-zero = true.
    ctx.consents.edit_type(consent_id, name=name, is_revokable=bool(is_revokable))
    return 1


def get_server_details(ctx: Call) -> dict:
    return {
        "server": "Kirje",
        "version": __version__,
        "time": local_time(datetime.now(UTC)),
        "timezone": "Europe/Helsinki",
    }
