"""What the public pages reached from links in mail share: the small page layout, the headers
of a page whose URL holds a token, and the one 404 every refused link gets."""

from __future__ import annotations

from litestar import Response

NO_CACHE = {
    "Cache-Control": "no-store, no-cache, must-revalidate, max-age=0, private",
    "Pragma": "no-cache",
    "Expires": "0",
}
# The page holds a token in its URL: it is never framed, cached or passed on as a referrer.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}

LAYOUT = """<!doctype html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<meta name="robots" content="noindex"><title>{title}</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}}
button{{font:inherit;padding:.5rem 1.5rem}}</style></head>
<body><h1>{title}</h1>{body}</body></html>
"""


def not_found() -> Response:
    """The answer to a link that does not verify, whatever was wrong with it."""
    return Response(b"Not found\n", status_code=404, media_type="text/plain", headers=NO_CACHE)


def page(html: str) -> Response:
    return Response(html, media_type="text/html", headers=PAGE_HEADERS)
