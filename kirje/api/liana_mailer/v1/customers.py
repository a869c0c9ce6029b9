"""v1 Customers: the account itself and its settings."""

from __future__ import annotations

from kirje.api.liana_mailer.dispatch import Call
from kirje.api.liana_mailer.views import customer_view
from kirje.domain.errors import Invalid


def get_customer(ctx: Call) -> dict:
    return customer_view(ctx.account(), ctx.sites.default())


def get_customer_id(ctx: Call) -> int:
    return ctx.account_id


def get_marketing_settings(ctx: Call) -> list[dict]:
    """Each setting as {"name", "value"}, in a fixed order, defaults included."""
    document = ctx.settings.marketing().as_document()
    return [{"name": name, "value": value} for name, value in document.items()]


def set_marketing_settings(ctx: Call, settings: list[dict] | None = None) -> int:
    """Takes the shape getMarketingSettings gives; null or [] changes nothing."""
    values: dict = {}
    for position, item in enumerate(settings or [], start=1):
        if not isinstance(item.get("name"), str) or "value" not in item:
            raise Invalid(f"settings[{position}] must be an object with a name and a value")
        values[item["name"]] = item["value"]
    ctx.settings.change_marketing(values)
    return 1


def set_cem_tracking(ctx: Call, state: bool | None = None) -> int:
    if state is None:
        raise Invalid("parameter 1 (state) is required: true or false")
    ctx.settings.set_cem_tracking(state)
    return 1


def check_emails_for_allowed_domains(ctx: Call, recipients: list[str]) -> bool:
    """A Members method on the wire; it reads the account's allowed_domains setting."""
    return ctx.settings.allows_all(recipients)
