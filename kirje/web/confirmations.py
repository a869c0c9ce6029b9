"""The confirmation link in a welcome or confirmation mail (double opt-in).

    GET  /confirm/{token}    a page with a button that POSTs to the same URL; changes nothing
    POST /confirm/{token}    confirms the contact and runs its pending confirmation tasks,
                             exactly as confirmRecipient with its code does

Only the POST acts, because link scanners and prefetchers follow every link in a message: a
confirmation made by a scanner would confirm an address nobody owns. The token names the
account and the contact and signs the contact's current code (kirje.domain.tracking_links);
anything else, a code made anew since, or an erased contact answers 404 without saying why.
"""

from __future__ import annotations

import anyio
import anyio.to_thread
from litestar import Response, get, post
from litestar.params import FromPath

from kirje.domain.errors import NotFound
from kirje.services.confirmations import Confirmations
from kirje.services.system import System
from kirje.web.pages import LAYOUT, not_found, page


def confirmation_routes(system: System, threads: anyio.CapacityLimiter) -> list:
    tokens = system.tracking_links.tokens

    def confirmations_of(token: str) -> tuple[Confirmations, int]:
        # The account the token claims; its signature is checked against the contact's code.
        claimed = tokens.claimed_confirmation(token)
        if claimed is None:
            raise NotFound("not found")
        return system.for_account(claimed.account_id).confirmations, claimed.contact_id

    def check(token: str) -> None:
        confirmations, contact_id = confirmations_of(token)
        confirmations.check_link(contact_id, token)

    def confirm(token: str) -> None:
        confirmations, contact_id = confirmations_of(token)
        confirmations.confirm_by_link(contact_id, token)

    @get("/confirm/{token:str}")
    async def confirmation_page(token: FromPath[str]) -> Response:
        try:
            await anyio.to_thread.run_sync(check, token, limiter=threads)
        except NotFound:
            return not_found()
        return page(_OFFER_PAGE)

    @post("/confirm/{token:str}", status_code=200)
    async def confirm_subscription(token: FromPath[str]) -> Response:
        try:
            await anyio.to_thread.run_sync(confirm, token, limiter=threads)
        except NotFound:
            return not_found()
        return page(_DONE_PAGE)

    return [confirmation_page, confirm_subscription]


_OFFER_PAGE = LAYOUT.format(
    title="Vahvista tilaus / Confirm your subscription",
    body=(
        "<p>Vahvista, että haluat viestejämme. / Please confirm that you want our messages.</p>"
        '<form method="post"><button type=submit>Vahvista / Confirm</button></form>'
    ),
)

_DONE_PAGE = LAYOUT.format(
    title="Tilaus vahvistettu / Subscription confirmed",
    body="<p>Kiitos! / Thank you!</p>",
)
