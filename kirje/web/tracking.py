"""Site tracking: the script a channel's `gtm_url` points to, and the endpoint it posts events to.

The script defines `window.Automation` as LianaAutomation's clients expect it (the WooCommerce
plugin reads `getTrackingCode()`; the Google Tag Manager tag also calls
`getExpireDateForCookie()` and `sendEvent(url, verb, fields, callback)`). Each visitor is
named by a `liana_t` token, which becomes a contact identity: a later import that brings the
token with an email address joins the visitor's page views to that person.

Decisions:
* A channel with tracking disabled still gets a script, one that defines `window.Automation`
  but sends nothing and writes no cookie: a site keeps working (the GTM tag fails when
  `getTrackingCode()` is missing), it just is not tracked. Its endpoint answers 403.
* The endpoint URL in the script is built from the request as the server sees it: the scheme
  of the connection, which uvicorn rewrites from X-Forwarded-Proto only for the proxies it
  trusts (FORWARDED_ALLOW_IPS, 127.0.0.1 by default), and the Host header. X-Forwarded-Host is
  never read: shared caches do not key on it, so honouring it would let anyone poison the
  cached script. A reverse proxy passes Host through.
* The GTM tag loads `/gtm?liana_t=<cookie>` and sends its own configured event (`pbr` by
  default) right after; that load sends no automatic page view, or every page would count
  twice. Every other load (the WooCommerce plugin's `/gtm?ver=...`, a plain `/js` tag) does.
"""

from __future__ import annotations

import re
from typing import Any

import anyio
import anyio.to_thread
import orjson
from limits import RateLimitItemPerMinute
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string
from litestar import Request, Response, get, route
from litestar.params import FromPath

from kirje.domain.channels import check_verb
from kirje.domain.errors import Forbidden, Invalid, KirjeError, NotFound, RateLimited
from kirje.domain.event_imports import items_from
from kirje.domain.identities import MAX_IDENTIFIER_LENGTH, normalize_token
from kirje.services.site_tracking import TrackedEvent
from kirje.services.system import System

PAGE_VIEW = "pbr"
# The script embeds the endpoint URL and the channel's tracking switch: caches may keep it
# for a few minutes, so switching tracking off takes effect soon.
SCRIPT_MAX_AGE_SECONDS = 300
MAX_EVENT_BYTES = 16 * 1024
# A person browses a page every few seconds at most; a bot reusing one token does not get
# to fill the event store. Per address and channel, generous for visitors behind one NAT.
EVENTS_PER_TOKEN_PER_MINUTE = 30
EVENTS_PER_ADDRESS_PER_MINUTE = 300
PREFLIGHT_MAX_AGE_SECONDS = 86400

# Channel public keys are lower-case letters and digits (domain.channels.new_public_key).
_PUBLIC_KEY = re.compile(r"[a-z0-9]{1,32}")
# What a Host header may hold before it is written into a script.
_HOST = re.compile(r"[A-Za-z0-9.\-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")

_STATUS = {Invalid: 400, Forbidden: 403, NotFound: 404, RateLimited: 429}


def tracked_event(body: bytes) -> TrackedEvent:
    """The event in a collection request body: JSON {token, verb, items, url?, referrer?}.

    The page's `url` and `referrer` fill the items' own when these lack them, so an event
    the GTM tag sends with its configured fields still says on which page it happened.
    """
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise Invalid("the body must be a JSON object") from None
    if not isinstance(document, dict):
        raise Invalid("the body must be a JSON object")
    items = items_from(document.get("items"), "items")
    for context in ("url", "referrer"):
        value = document.get(context)
        if value is not None and not isinstance(value, str):
            raise Invalid(f"{context} must be a string")
        if value and context not in items:
            items[context] = value
    return TrackedEvent(_token(document.get("token")), check_verb(document.get("verb")), items)


def _token(raw: object) -> str:
    if raw is not None and not isinstance(raw, str):
        raise Invalid("token must be a string")
    token = normalize_token(raw or "")
    if not token:
        raise Invalid("token is required")
    if len(token) > MAX_IDENTIFIER_LENGTH:
        raise Invalid(f"token is longer than {MAX_IDENTIFIER_LENGTH} characters")
    return token


class VisitorLimits:
    """Events per token and per client address, each within one channel (moving window; in
    Redis when Kirje has one, so every server process shares the counts)."""

    def __init__(self, redis_url: str | None) -> None:
        storage = storage_from_string(f"async+{redis_url}" if redis_url else "async+memory://")
        self._limiter = MovingWindowRateLimiter(storage)
        self._per_token = RateLimitItemPerMinute(EVENTS_PER_TOKEN_PER_MINUTE)
        self._per_address = RateLimitItemPerMinute(EVENTS_PER_ADDRESS_PER_MINUTE)

    async def check(self, key: str, address: str, token: str) -> None:
        if not await self._limiter.hit(self._per_address, "tracking-address", key, address):
            raise RateLimited("too many events from this address", retry_after=60)
        if not await self._limiter.hit(self._per_token, "tracking-token", key, token):
            raise RateLimited("too many events for this visitor", retry_after=60)


def tracking_routes(system: System, threads: anyio.CapacityLimiter) -> list:
    tracking = system.site_tracking
    limits = VisitorLimits(system.settings.redis_url)

    @get(["/t/{key:str}/gtm", "/t/{key:str}/js"])
    async def script(request: Request, key: FromPath[str]) -> Response:
        try:
            if not _PUBLIC_KEY.fullmatch(key):
                raise NotFound("unknown tracking key")
            channel = await anyio.to_thread.run_sync(tracking.channel, key, limiter=threads)
            base = _public_base(request)
        except KirjeError as error:
            return _error(error)
        from_gtm_tag = request.url.path.endswith("/gtm") and "liana_t" in request.query_params
        config = {
            "endpoint": f"{base}/t/{key}/event",
            "token": _given_token(request.query_params.get("liana_t")),
            "enabled": channel.tracking_enabled,
            # the verb of the page view sent on load, or none
            "pageView": PAGE_VIEW if channel.tracking_enabled and not from_gtm_tag else None,
        }
        return Response(
            tracking_script(config),
            media_type="application/javascript; charset=utf-8",
            headers={
                "Cache-Control": f"public, max-age={SCRIPT_MAX_AGE_SECONDS}",
                "X-Content-Type-Options": "nosniff",
            },
        )

    @route("/t/{key:str}/event", http_method=["OPTIONS"])
    async def preflight(request: Request, key: FromPath[str]) -> Response:
        headers = {
            **_cors(request),
            "Access-Control-Allow-Methods": "POST, OPTIONS",
            "Access-Control-Allow-Headers": "Content-Type",
            "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_SECONDS),
        }
        return Response(b"", status_code=204, headers=headers)

    @route("/t/{key:str}/event", http_method=["POST"])
    async def collect(request: Request, key: FromPath[str]) -> Response:
        try:
            if not _PUBLIC_KEY.fullmatch(key):
                raise NotFound("unknown tracking key")
            event = tracked_event(await _small_body(request))
            address = request.client.host if request.client else ""
            await limits.check(key, address, event.token)
            await anyio.to_thread.run_sync(tracking.collect, key, event, limiter=threads)
        except _BodyTooLarge:
            too_large = f"the body is larger than {MAX_EVENT_BYTES} bytes"
            return _json({"error": too_large}, 413, _cors(request))
        except KirjeError as error:
            return _error(error, _cors(request))
        return Response(b"", status_code=204, headers=_cors(request))

    return [script, preflight, collect]


def tracking_script(config: dict[str, Any]) -> str:
    """The script with its configuration; `<` is escaped so no value can close the tag an
    inline copy of the script might sit in."""
    embedded = orjson.dumps(config).decode().replace("<", "\\u003c")
    return _SCRIPT.replace("__CONFIG__", embedded)


def _given_token(raw: str | None) -> str:
    """The liana_t the GTM tag appends (its cookie), as every client reads it back."""
    token = normalize_token(raw or "")
    return token if len(token) <= MAX_IDENTIFIER_LENGTH else ""


def _public_base(request: Request) -> str:
    """scheme://host[:port][root path] of this request; see the module's note on proxies."""
    if not _HOST.fullmatch(request.headers.get("host", "")):
        raise Invalid("the Host header is not a host name")
    return str(request.base_url).rstrip("/")


def _cors(request: Request) -> dict[str, str]:
    """Any site may send events (the token names no one but the visitor), never with
    credentials: no Access-Control-Allow-Credentials, so the browser sends no cookies of ours."""
    origin = request.headers.get("origin")
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"} if origin else {}


class _BodyTooLarge(Exception):
    pass


async def _small_body(request: Request) -> bytes:
    """The body, read no further than MAX_EVENT_BYTES."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_EVENT_BYTES:
        raise _BodyTooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_EVENT_BYTES:
            raise _BodyTooLarge
    return bytes(body)


def _error(error: KirjeError, headers: dict[str, str] | None = None) -> Response:
    status = next((code for kind, code in _STATUS.items() if isinstance(error, kind)), 400)
    headers = dict(headers or {})
    if isinstance(error, RateLimited):
        headers["Retry-After"] = str(int(error.retry_after))
    return _json({"error": error.message}, status, headers)


def _json(payload: dict, status: int, headers: dict[str, str]) -> Response:
    return Response(
        orjson.dumps(payload), status_code=status, media_type="application/json", headers=headers
    )


# ES5, no dependencies. __CONFIG__ becomes {endpoint, token, enabled, pageView}: see script().
_SCRIPT = """\
/* Kirje site tracking: window.Automation as LianaAutomation's clients use it. */
(function (window, document) {
  "use strict";
  var config = __CONFIG__;
  var COOKIE = "liana_t";
  var YEAR_MS = 365 * 24 * 60 * 60 * 1000;
  var token = "";

  function normalize(value) {
    return String(value).toLowerCase().replace(/[^a-z0-9_-]/g, "");
  }

  function cookieToken() {
    var pairs;
    try {
      pairs = String(document.cookie || "").split(";");
    } catch (blocked) {
      return "";
    }
    for (var i = 0; i < pairs.length; i++) {
      var pair = pairs[i].replace(/^\\s+/, "");
      if (pair.indexOf(COOKIE + "=") === 0) {
        var value = pair.slice(COOKIE.length + 1);
        try {
          value = decodeURIComponent(value);
        } catch (malformed) {}
        return normalize(value);
      }
    }
    return "";
  }

  function newToken() {
    var crypto = window.crypto || window.msCrypto;
    var bytes = [];
    var hex = "";
    var i;
    if (crypto && crypto.getRandomValues) {
      bytes = crypto.getRandomValues(new Uint8Array(16));
    } else {
      for (i = 0; i < 16; i++) {
        bytes.push(Math.floor(Math.random() * 256));
      }
    }
    for (i = 0; i < bytes.length; i++) {
      hex += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
    }
    return hex;
  }

  function getExpireDateForCookie() {
    return new Date(new Date().getTime() + YEAR_MS).toUTCString();
  }

  function remember(value) {
    var secure = window.location && window.location.protocol === "https:";
    try {
      document.cookie = COOKIE + "=" + value + "; Expires=" + getExpireDateForCookie() +
        "; Path=/; SameSite=Lax" + (secure ? "; Secure" : "");
    } catch (blocked) {}
  }

  function getTrackingCode() {
    if (!token) {
      token = config.token || cookieToken() || newToken();
      if (config.enabled) {
        remember(token);
      }
    }
    return token;
  }

  function sendEvent(url, verb, fields, callback) {
    /* url is the script's own address as the GTM tag passes it: events go to config.endpoint. */
    var finished = false;
    var request;
    function done() {
      if (!finished) {
        finished = true;
        if (typeof callback === "function") {
          callback();
        }
      }
    }
    if (!config.enabled) {
      window.setTimeout(done, 0);
      return;
    }
    try {
      request = new window.XMLHttpRequest();
      request.open("POST", config.endpoint, true);
      /* text/plain keeps the request simple: the browser sends it without a preflight. */
      request.setRequestHeader("Content-Type", "text/plain;charset=UTF-8");
      request.onloadend = done;
      request.onreadystatechange = function () {
        if (request.readyState === 4) {
          done();
        }
      };
      request.send(JSON.stringify({
        token: getTrackingCode(),
        verb: verb,
        items: fields || {},
        url: String(window.location.href),
        referrer: String(document.referrer || "")
      }));
    } catch (failed) {
      window.setTimeout(done, 0);
    }
  }

  window.Automation = {
    getTrackingCode: getTrackingCode,
    getExpireDateForCookie: getExpireDateForCookie,
    sendEvent: sendEvent
  };

  if (config.enabled) {
    getTrackingCode();
    if (config.pageView) {
      sendEvent(config.endpoint, config.pageView, {
        url: String(window.location.href),
        referrer: String(document.referrer || ""),
        title: String(document.title || "")
      });
    }
  }
}(window, document));
"""
