"""The links in mail a recipient's client follows: the open pixel, tracked clicks and the
unsubscribe page with its RFC 8058 one-click POST.

    GET  /o/{token}.gif        a 43-byte transparent GIF, never cached; records an open
    GET  /c/{token}?u={url}    302 to the signed URL; records a click
    GET  /u/{token}            a page with a button that POSTs to the same URL
    POST /u/{token}            unsubscribes (the form, or a mail client's
                               List-Unsubscribe=One-Click), no login, answers 200

A link whose token does not verify answers 404 with the same body whatever was wrong, and
records nothing. A GET of the unsubscribe page changes nothing, since link scanners and
prefetchers follow every link in a message; only the POST acts, and it acts the same with
or without the one-click body. There is no web view yet: it needs the sending job's values
for one ledger row (the given recipient's own properties) and a compiled message per
delivery, which the send pipeline does not expose.
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
from kirje.services.mail_tracking import MailTracking
from kirje.services.system import System

# The smallest transparent GIF: 1x1, one transparent colour.
PIXEL = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
_NO_CACHE = {
    "Cache-Control": "no-store, no-cache, must-revalidate, max-age=0, private",
    "Pragma": "no-cache",
    "Expires": "0",
}
# The page holds a token in its URL: it is never framed, cached or passed on as a referrer.
_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
# What a Location header may carry as it is; anything else (non-ASCII, spaces, controls) is
# percent-encoded, so no URL can add a header line.
_LOCATION_SAFE = "!#$%&'()*+,-./:;=?@[]~_"


def mail_tracking_routes(system: System, threads: anyio.CapacityLimiter) -> list:
    tracking = MailTracking(system.db, system.clock, system.tracking_links.tokens)

    # An open or a click verifies its token on the event loop (no I/O) and then waits for
    # the group commit that writes it, holding no thread.

    @get("/o/{name:str}")
    async def open_pixel(request: Request, name: FromPath[str]) -> Response:
        agent = request.headers.get("user-agent")
        try:
            written = tracking.record_open(name.removesuffix(".gif"), user_agent=agent)
        except NotFound:
            return _not_found()
        await asyncio.wrap_future(written)
        return Response(PIXEL, media_type="image/gif", headers=_NO_CACHE)

    @get("/c/{token:str}")
    async def click(request: Request, token: FromPath[str]) -> Response:
        url = request.query_params.get("u", "")
        agent = request.headers.get("user-agent")
        try:
            written = tracking.record_click(token, url, user_agent=agent)
        except NotFound:
            return _not_found()
        await asyncio.wrap_future(written)
        location = quote(url, safe=_LOCATION_SAFE)
        return Response(b"", status_code=302, headers={"Location": location, **_NO_CACHE})

    @get("/u/{token:str}")
    async def unsubscribe_page(token: FromPath[str]) -> Response:
        try:
            offer = await anyio.to_thread.run_sync(
                tracking.unsubscribe_offer, token, limiter=threads
            )
        except NotFound:
            return _not_found()
        return _page(_offer_page(offer.list_names))

    @post("/u/{token:str}", status_code=200)
    async def unsubscribe(token: FromPath[str]) -> Response:
        try:
            await anyio.to_thread.run_sync(tracking.unsubscribe, token, limiter=threads)
        except NotFound:
            return _not_found()
        return _page(_DONE_PAGE)

    return [open_pixel, click, unsubscribe_page, unsubscribe]


def _not_found() -> Response:
    return Response(b"Not found\n", status_code=404, media_type="text/plain", headers=_NO_CACHE)


def _page(html: str) -> Response:
    return Response(html, media_type="text/html; charset=utf-8", headers=_PAGE_HEADERS)


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
    return _LAYOUT.format(title="Peru tilaus / Unsubscribe", body=what + form)


_LAYOUT = """<!doctype html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<meta name="robots" content="noindex"><title>{title}</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}}
button{{font:inherit;padding:.5rem 1.5rem}}</style></head>
<body><h1>{title}</h1>{body}</body></html>
"""

_DONE_PAGE = _LAYOUT.format(
    title="Tilaus peruttu / Unsubscribed",
    body="<p>Et saa enää näitä viestejä. / You will not receive these messages any more.</p>",
)
