"""The links in mail a recipient's client follows: the open pixel, tracked clicks, the
unsubscribe page with its RFC 8058 one-click POST, and the web view of the message.

    GET  /o/{token}.gif        a 43-byte transparent GIF, never cached; records an open
    GET  /c/{token}?u={url}    302 to the signed URL; records a click
    GET  /u/{token}            a page with a button that POSTs to the same URL
    POST /u/{token}            unsubscribes (the form, or a mail client's
                               List-Unsubscribe=One-Click), no login, answers 200
    GET  /w/{token}            the message as the recipient got it (kirje.mail.web_view)

A link whose token does not verify answers 404 with the same body whatever was wrong, and
records nothing. A GET of the unsubscribe page changes nothing, since link scanners and
prefetchers follow every link in a message; only the POST acts, and it acts the same with
or without the one-click body. The web view shows the account's own HTML on Kirje's public
origin, so its page runs no script, loads nothing but images, styles and fonts, and is
never framed, cached, indexed or named in a referrer.
"""

from __future__ import annotations

import asyncio
from html import escape
from urllib.parse import quote

import anyio
import anyio.to_thread
from litestar import Request, Response, get, post
from litestar.params import FromPath

from kirje.domain.errors import NotFound
from kirje.mail.web_view import WebViews
from kirje.services.mail_tracking import MailTracking
from kirje.services.system import System
from kirje.web.pages import LAYOUT, NO_CACHE, PAGE_HEADERS, not_found, page

# The smallest transparent GIF: 1x1, one transparent colour.
PIXEL = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
_WEB_VIEW_HEADERS = {
    **PAGE_HEADERS,
    "Content-Security-Policy": (
        "default-src 'none'; img-src * data: cid:; style-src * 'unsafe-inline'; "
        "font-src * data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Robots-Tag": "noindex, nofollow",
}
# What a Location header may carry as it is; anything else (non-ASCII, spaces, controls) is
# percent-encoded, so no URL can add a header line.
_LOCATION_SAFE = "!#$%&'()*+,-./:;=?@[]~_"


def mail_tracking_routes(system: System, threads: anyio.CapacityLimiter) -> list:
    tracking = MailTracking(system.db, system.clock, system.tracking_links.tokens, system.triggers)
    web_views = WebViews(system.db, system.tracking_links)

    # An open or a click verifies its token on the event loop (no I/O) and then waits for
    # the group commit that writes it, holding no thread.

    @get("/o/{name:str}")
    async def open_pixel(request: Request, name: FromPath[str]) -> Response:
        agent = request.headers.get("user-agent")
        try:
            written = tracking.record_open(name.removesuffix(".gif"), user_agent=agent)
        except NotFound:
            return not_found()
        await asyncio.wrap_future(written)
        return Response(PIXEL, media_type="image/gif", headers=NO_CACHE)

    @get("/c/{token:str}")
    async def click(request: Request, token: FromPath[str]) -> Response:
        url = request.query_params.get("u", "")
        agent = request.headers.get("user-agent")
        try:
            written = tracking.record_click(token, url, user_agent=agent)
        except NotFound:
            return not_found()
        await asyncio.wrap_future(written)
        location = quote(url, safe=_LOCATION_SAFE)
        return Response(b"", status_code=302, headers={"Location": location, **NO_CACHE})

    @get("/u/{token:str}")
    async def unsubscribe_page(token: FromPath[str]) -> Response:
        try:
            offer = await anyio.to_thread.run_sync(
                tracking.unsubscribe_offer, token, limiter=threads
            )
        except NotFound:
            return not_found()
        return page(_offer_page(offer.list_names))

    @post("/u/{token:str}", status_code=200)
    async def unsubscribe(token: FromPath[str]) -> Response:
        try:
            await anyio.to_thread.run_sync(tracking.unsubscribe, token, limiter=threads)
        except NotFound:
            return not_found()
        return page(_DONE_PAGE)

    @get("/w/{token:str}")
    async def web_view(token: FromPath[str]) -> Response:
        try:
            html = await anyio.to_thread.run_sync(web_views.page, token, limiter=threads)
        except NotFound:
            return not_found()
        return Response(html, media_type="text/html", headers=_WEB_VIEW_HEADERS)

    return [open_pixel, click, unsubscribe_page, unsubscribe, web_view]


def _offer_page(list_names: tuple[str, ...]) -> str:
    if list_names:
        names = "".join(f"<li>{escape(name)}</li>" for name in list_names)
        what = f"<p>Lopeta viestit listoilta / Stop mail from these lists:</p><ul>{names}</ul>"
    else:
        what = "<p>Lopeta nämä viestit / Stop these messages.</p>"
    form = (
        '<form method="post">'
        '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
        "<button type=submit>Peru tilaus / Unsubscribe</button></form>"
    )
    return LAYOUT.format(title="Peru tilaus / Unsubscribe", body=what + form)


_DONE_PAGE = LAYOUT.format(
    title="Tilaus peruttu / Unsubscribed",
    body="<p>Et saa enää näitä viestejä. / You will not receive these messages any more.</p>",
)
