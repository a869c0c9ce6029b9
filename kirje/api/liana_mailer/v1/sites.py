"""v1 Sites: subscription sites with their lists and properties."""

from __future__ import annotations

from kirje.api.liana_mailer.dispatch import Call
from kirje.api.liana_mailer.views import site_view
from kirje.domain.errors import Invalid
from kirje.services.accounts import DEFAULT_SITE_POSTFIX


def sites(ctx: Call, include: dict | None = None, options: dict | None = None) -> list[dict]:
    include = include or {}
    # The seed: layout and property data default to true.
    wants_lists = bool(include.get("lists", True))
    wants_properties = bool(include.get("properties", True))
    lists = ctx.lists.all() if wants_lists else None
    properties = ctx.properties.all() if wants_properties else None
    return [site_view(s, lists=lists, properties=properties) for s in ctx.sites.all()]


def get_site(ctx: Call, domain: str) -> dict:
    return site_view(ctx.sites.get(domain), lists=ctx.lists.all(), properties=ctx.properties.all())


def create_site(ctx: Call, domain: str, settings: dict | None = None) -> str:
    settings = settings or {}
    consents = settings.get("consents") or []
    if not isinstance(consents, list):
        raise Invalid("settings.consents must be a list of consent ids")
    return ctx.sites.create(
        domain,
        language=str(settings.get("language") or "FI"),
        uses_ssl=bool(settings.get("ssl", True)),
        welcome_delivery_id=settings.get("welcome") or None,
        consent_ids=[int(c) for c in consents],
    )


def get_default_site(ctx: Call) -> dict:
    return site_view(ctx.sites.default(), lists=ctx.lists.all(), properties=ctx.properties.all())


def get_site_info(ctx: Call, site: str | None = None) -> dict:
    """A site by domain; the default site when none is named."""
    return get_site(ctx, site) if site else get_default_site(ctx)


def get_all_sites(ctx: Call) -> list[dict]:
    return sites(ctx)


def get_default_domain_postfix(ctx: Call) -> str:
    return DEFAULT_SITE_POSTFIX


def get_postfixes(ctx: Call) -> list[str]:
    return [DEFAULT_SITE_POSTFIX]


def set_default_site(
    ctx: Call,
    site: str,
    language: str | None = None,
    welcome: int | None = None,
    ssl: bool | None = None,  # the seed sends 0/1
) -> str:
    return ctx.sites.set_default(site, language=language, welcome_delivery_id=welcome, uses_ssl=ssl)


def set_site(
    ctx: Call,
    site: str | None = None,
    id: int = 0,
    new_name: str | None = None,
    language: str | None = None,
    welcome: int | None = None,
    ssl: bool | None = None,  # the seed sends 0/1
) -> str:
    if id != 0:
        raise Invalid(f"parameter 2 (id) must be 0, not {id}")
    return ctx.sites.modify_or_create(
        site,
        new_domain=new_name,
        language=language,
        welcome_delivery_id=welcome,
        uses_ssl=ssl,
    )


def update_site(ctx: Call, domain: str, settings: dict | None = None) -> bool:
    ctx.sites.update(domain, settings or {})
    return True


def delete_site(ctx: Call, domain: str) -> bool:
    ctx.sites.delete(domain)
    return True


def set_site_welcome_delivery(
    ctx: Call, site: str | None = None, welcome: int | None = None
) -> int:
    ctx.sites.set_welcome_delivery(site, welcome)
    return 1
