"""v1 Customers: the account itself."""

from __future__ import annotations

from kirje.api.liana_mailer.dispatch import Call
from kirje.api.liana_mailer.views import customer_view


def get_customer(ctx: Call) -> dict:
    return customer_view(ctx.account(), ctx.sites.default())


def get_customer_id(ctx: Call) -> int:
    return ctx.account_id
