"""Site tracking: the script a channel's gtm_url points to, and the endpoint it posts to.

Against the real server; the script also runs for real in Node (when `node` is installed),
with a browser's document, cookie jar and XMLHttpRequest, posting to that server.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from kirje.domain.channels import Channel, ChannelChanges
from kirje.domain.event_imports import EventImport, ImportEntry, IncomingEvent
from kirje.domain.identities import IdentityKind, identity_from
from kirje.services.system import System
from kirje.store import identities as identity_store
from kirje.store.schema import events
from kirje.web.tracking import EVENTS_PER_TOKEN_PER_MINUTE, MAX_EVENT_BYTES
from tests.conftest import LiveServer, new_account

SITE = "https://shop.example"
NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed")


@pytest.fixture
def http(live_server: LiveServer):
    with httpx.Client(base_url=live_server.url) as client:
        yield client


def _channel(system: System, account_id: int, *, tracking: bool = True) -> Channel:
    changes = ChannelChanges(name="Web shop", tracking_enabled=tracking)
    return system.for_account(account_id).channels.create(changes)


@pytest.fixture
def channel(system: System, account) -> Channel:
    return _channel(system, account.account_id)


def _events(system: System, channel: Channel) -> list[tuple[int, str, dict]]:
    """(contact, verb, items) of the channel's events, in order."""
    with system.db.reading() as conn:
        rows = conn.execute(
            select(events.c.contact_id, events.c.type, events.c.data)
            .where(events.c.account_id == channel.account_id, events.c.channel_id == channel.id)
            .order_by(events.c.id)
        )
        return [(row.contact_id, row.type, row.data) for row in rows]


def _token_contact(system: System, account_id: int, token: str) -> int | None:
    with system.db.reading() as conn:
        found = identity_store.linked_contacts(conn, account_id, [(IdentityKind.TOKEN, token)])
    return found.get((IdentityKind.TOKEN, token))


def _send(http: httpx.Client, key: str, body: dict | bytes, **headers: str) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "text/plain;charset=UTF-8", "Origin": SITE, **headers}
    return http.post(f"/t/{key}/event", content=content, headers=headers)


def _page_view(token: str, url: str = f"{SITE}/shoes") -> dict:
    return {"token": token, "verb": "pbr", "items": {"url": url, "title": "Shoes"}}


# The script


@pytest.mark.parametrize("kind", ["gtm", "js"])
def test_the_script_defines_window_automation(
    http: httpx.Client, live_server: LiveServer, channel: Channel, kind: str
) -> None:
    answer = http.get(f"/t/{channel.public_key}/{kind}")

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/javascript")
    assert answer.headers["cache-control"] == "public, max-age=300"
    script = answer.text
    assert "window.Automation = {" in script
    for member in ("getTrackingCode", "getExpireDateForCookie", "sendEvent"):
        assert f"{member}: {member}" in script
    # the collection endpoint, absolute: the script runs on the customer's site
    assert f'"endpoint":"{live_server.url}/t/{channel.public_key}/event"' in script


def test_the_endpoint_in_the_script_ignores_x_forwarded_host(
    http: httpx.Client, live_server: LiveServer, channel: Channel
) -> None:
    script = http.get(
        f"/t/{channel.public_key}/js", headers={"X-Forwarded-Host": "evil.example"}
    ).text

    assert "evil.example" not in script
    assert f"{live_server.url}/t/{channel.public_key}/event" in script


def test_an_unknown_key_has_no_script(http: httpx.Client) -> None:
    for path in ("/t/doesnotexist0/gtm", "/t/doesnotexist0/js", "/t/NOT-A-KEY/js"):
        answer = http.get(path)
        assert answer.status_code == 404
        assert answer.json() == {"error": "unknown tracking key"}


# The script, run


_HARNESS = r"""
const fs = require("fs");
const vm = require("vm");
const [scriptPath, scenarioText] = process.argv.slice(2);
const scenario = JSON.parse(scenarioText);
const cookieWrites = [];
const requests = [];
const pending = [];

const document = {
  title: scenario.title,
  referrer: scenario.referrer,
  get cookie() { return scenario.cookie || ""; },
  set cookie(value) { cookieWrites.push(value); },
};

class XMLHttpRequest {
  constructor() { this.readyState = 0; this.headers = {}; }
  open(method, url) { this.method = method; this.url = url; this.readyState = 1; }
  setRequestHeader(name, value) { this.headers[name] = value; }
  send(body) {
    const headers = Object.assign({ Origin: scenario.origin }, this.headers);
    pending.push(
      fetch(this.url, { method: this.method, headers, body })
        .then((response) => {
          requests.push({
            url: this.url,
            contentType: headers["Content-Type"],
            body: JSON.parse(body),
            status: response.status,
            allowOrigin: response.headers.get("access-control-allow-origin"),
          });
        })
        .catch((error) => requests.push({ url: this.url, error: String(error) }))
        .then(() => {
          this.readyState = 4;
          if (this.onreadystatechange) this.onreadystatechange();
          if (this.onloadend) this.onloadend();
        })
    );
  }
}

const location = { href: scenario.href, protocol: new URL(scenario.href).protocol };
const context = vm.createContext({
  document, location, XMLHttpRequest, setTimeout, crypto: globalThis.crypto,
});
context.window = context;
vm.runInContext(fs.readFileSync(scriptPath, "utf8"), context);

async function main() {
  const automation = context.Automation;
  const result = {
    token: automation.getTrackingCode(),
    sameTokenAgain: automation.getTrackingCode() === automation.getTrackingCode(),
    expires: automation.getExpireDateForCookie(),
    callbacks: 0,
  };
  for (const call of scenario.send || []) {
    await new Promise((resolve) => {
      automation.sendEvent(call.url, call.verb, call.fields, () => {
        result.callbacks += 1;
        resolve();
      });
    });
  }
  await Promise.all(pending);
  result.cookieWrites = cookieWrites;
  result.requests = requests;
  process.stdout.write(JSON.stringify(result));
}
main();
"""


def _run_in_node(http: httpx.Client, tmp_path: Path, script_path: str, **scenario: object) -> dict:
    answer = http.get(script_path)
    assert answer.status_code == 200
    script = tmp_path / "tracking.js"
    script.write_text(answer.text)
    harness = tmp_path / "harness.js"
    harness.write_text(_HARNESS)
    scenario = {
        "href": f"{SITE}/shoes?size=42",
        "referrer": "https://search.example/?q=shoes",
        "title": "Shoes",
        "origin": SITE,
        **scenario,
    }
    assert NODE is not None
    done = subprocess.run(
        [NODE, str(harness), str(script), json.dumps(scenario)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)


@needs_node
def test_a_new_visitor_gets_a_token_a_cookie_and_a_page_view(
    http: httpx.Client, tmp_path: Path, system: System, channel: Channel
) -> None:
    ran = _run_in_node(http, tmp_path, f"/t/{channel.public_key}/js")

    token = ran["token"]
    assert re.fullmatch(r"[0-9a-f]{32}", token)
    assert ran["sameTokenAgain"]
    assert re.fullmatch(r"\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT", ran["expires"])
    # The cookie's expiry was taken a moment before ran["expires"]: the same kind of date.
    [cookie] = ran["cookieWrites"]
    assert re.fullmatch(
        rf"liana_t={token}; Expires=\w{{3}}, \d{{2}} \w{{3}} \d{{4}} [\d:]{{8}} GMT; "
        r"Path=/; SameSite=Lax; Secure",
        cookie,
    )
    [sent] = ran["requests"]
    assert sent["status"] == 204
    assert sent["contentType"].startswith("text/plain")  # a simple request: no preflight
    assert sent["allowOrigin"] == SITE
    assert sent["body"]["verb"] == "pbr"
    contact = _token_contact(system, channel.account_id, token)
    assert contact is not None
    assert _events(system, channel) == [
        (
            contact,
            "pbr",
            {
                "url": f"{SITE}/shoes?size=42",
                "referrer": "https://search.example/?q=shoes",
                "title": "Shoes",
            },
        )
    ]


@needs_node
def test_the_gtm_tag_gets_its_token_back_and_sends_its_own_event(
    http: httpx.Client, tmp_path: Path, system: System, channel: Channel
) -> None:
    ran = _run_in_node(
        http,
        tmp_path,
        f"/t/{channel.public_key}/gtm?liana_t=Visitor.42-A",
        cookie="liana_t=visitor42-a",
        send=[{"url": "ignored", "verb": "formsend", "fields": {"form": "newsletter"}}],
    )

    # read back as the WordPress plugins read the cookie: lower case, [a-z0-9_-]
    assert ran["token"] == "visitor42-a"
    assert ran["callbacks"] == 1
    # the tag sends its own event after loading: no automatic page view beside it
    assert [sent["body"]["verb"] for sent in ran["requests"]] == ["formsend"]
    contact = _token_contact(system, channel.account_id, "visitor42-a")
    assert _events(system, channel) == [
        (
            contact,
            "formsend",
            {
                "form": "newsletter",
                "url": f"{SITE}/shoes?size=42",
                "referrer": "https://search.example/?q=shoes",
            },
        )
    ]


@needs_node
def test_a_returning_visitor_keeps_the_cookie_token(
    http: httpx.Client, tmp_path: Path, system: System, channel: Channel
) -> None:
    # the WooCommerce plugin loads gtm_url with ?ver= and never calls sendEvent
    ran = _run_in_node(
        http,
        tmp_path,
        f"/t/{channel.public_key}/gtm?ver=1.1.6",
        cookie="other=1; liana_t=65f1c2a3b4c5d6.12345678",
        href="http://shop.example/cart",
    )

    assert ran["token"] == "65f1c2a3b4c5d612345678"
    assert ran["cookieWrites"][0].endswith("; Path=/; SameSite=Lax")  # no Secure on http
    [sent] = ran["requests"]
    assert sent["status"] == 204
    [(contact, verb, items)] = _events(system, channel)
    assert contact == _token_contact(system, channel.account_id, "65f1c2a3b4c5d612345678")
    assert (verb, items["url"]) == ("pbr", "http://shop.example/cart")


@needs_node
def test_a_channel_without_tracking_gets_a_script_that_sends_nothing(
    http: httpx.Client, tmp_path: Path, system: System, account
) -> None:
    channel = _channel(system, account.account_id, tracking=False)

    ran = _run_in_node(
        http,
        tmp_path,
        f"/t/{channel.public_key}/js",
        send=[{"url": "x", "verb": "pbr", "fields": {}}],
    )

    assert re.fullmatch(r"[0-9a-f]{32}", ran["token"])  # the GTM tag fails without one
    assert ran["callbacks"] == 1
    assert ran["requests"] == []
    assert ran["cookieWrites"] == []
    assert _events(system, channel) == []


# Collection


@pytest.mark.parametrize("known_email", [False, True])
def test_an_import_with_email_and_token_joins_the_page_views_to_the_person(
    http: httpx.Client, system: System, channel: Channel, known_email: bool
) -> None:
    services = system.for_account(channel.account_id)
    email = "visitor@example.com"

    def imported(identity: dict, verb: str) -> None:
        entry = ImportEntry(identity_from(identity), [IncomingEvent(verb, {})])
        services.event_imports.run(EventImport(channel=str(channel.id), entries=[entry]))

    if known_email:
        imported({"email": email}, "signup")
    assert _send(http, channel.public_key, _page_view("cafe01")).status_code == 204
    visitor = _token_contact(system, channel.account_id, "cafe01")

    imported({"email": email, "token": "cafe01"}, "login")

    person = services.contacts.get_by_email(email).contact.id
    assert _token_contact(system, channel.account_id, "cafe01") == person
    page_views = [event for event in _events(system, channel) if event[1] == "pbr"]
    assert page_views == [(person, "pbr", {"url": f"{SITE}/shoes", "title": "Shoes"})]
    assert (person == visitor) is not known_email  # a known person absorbed the visitor


def test_the_page_url_fills_the_items_when_they_lack_it(
    http: httpx.Client, system: System, channel: Channel
) -> None:
    body = {"token": "t1", "verb": "pbr", "items": [], "url": f"{SITE}/", "referrer": ""}

    assert _send(http, channel.public_key, body).status_code == 204
    [(_, _, items)] = _events(system, channel)
    assert items == {"url": f"{SITE}/"}


def test_a_json_body_is_accepted_too(http: httpx.Client, system: System, channel: Channel) -> None:
    answer = _send(
        http, channel.public_key, _page_view("t2"), **{"Content-Type": "application/json"}
    )

    assert answer.status_code == 204
    assert answer.content == b""
    assert len(_events(system, channel)) == 1


def test_the_preflight_allows_any_site_without_credentials(
    http: httpx.Client, channel: Channel
) -> None:
    answer = http.options(
        f"/t/{channel.public_key}/event",
        headers={
            "Origin": SITE,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )

    assert answer.status_code == 204
    assert answer.headers["access-control-allow-origin"] == SITE
    assert "POST" in answer.headers["access-control-allow-methods"]
    assert answer.headers["access-control-allow-headers"].lower() == "content-type"
    assert "access-control-allow-credentials" not in answer.headers


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"verb": "pbr"}, "token is required"),
        ({"token": ". !", "verb": "pbr"}, "token is required"),
        ({"token": 12, "verb": "pbr"}, "token must be a string"),
        ({"token": "a" * 256, "verb": "pbr"}, "token is longer than 255 characters"),
        ({"token": "abc", "verb": ""}, "verb must be a non-empty string"),
        ({"token": "abc", "verb": "v" * 65}, "verb is longer than 64 characters"),
        ({"token": "abc", "verb": "pbr", "items": "x"}, "items must be an object"),
        ({"token": "abc", "verb": "pbr", "url": 5}, "url must be a string"),
        (b"not json", "the body must be a JSON object"),
        (b'["abc", "pbr"]', "the body must be a JSON object"),
    ],
)
def test_a_bad_event_is_refused(
    http: httpx.Client, system: System, channel: Channel, body: dict | bytes, error: str
) -> None:
    answer = _send(http, channel.public_key, body)

    assert answer.status_code == 400
    assert answer.json() == {"error": error}
    assert answer.headers["access-control-allow-origin"] == SITE  # the page may read why
    assert _events(system, channel) == []


def test_a_body_over_the_limit_is_refused(
    http: httpx.Client, system: System, channel: Channel
) -> None:
    big = _page_view("t3", url="https://shop.example/" + "x" * MAX_EVENT_BYTES)
    declared = _send(http, channel.public_key, big)
    content = json.dumps(big).encode()
    chunked = http.post(
        f"/t/{channel.public_key}/event",
        content=(content[i : i + 4096] for i in range(0, len(content), 4096)),
    )

    for answer in (declared, chunked):
        assert answer.status_code == 413
        assert answer.json() == {"error": f"the body is larger than {MAX_EVENT_BYTES} bytes"}
    assert _events(system, channel) == []


def test_an_unknown_key_collects_nothing(http: httpx.Client) -> None:
    answer = _send(http, "doesnotexist0", _page_view("t4"))

    assert answer.status_code == 404
    assert answer.json() == {"error": "unknown tracking key"}


def test_a_channel_without_tracking_collects_nothing(
    http: httpx.Client, system: System, account
) -> None:
    channel = _channel(system, account.account_id, tracking=False)

    answer = _send(http, channel.public_key, _page_view("t5"))

    assert answer.status_code == 403
    assert answer.json() == {"error": "site tracking is disabled for this channel"}
    assert _events(system, channel) == []
    assert _token_contact(system, account.account_id, "t5") is None


def test_a_key_reaches_only_its_own_channel(
    http: httpx.Client, system: System, channel: Channel
) -> None:
    other_account = new_account(system).account_id
    other = _channel(system, other_account)

    assert _send(http, channel.public_key, _page_view("shared")).status_code == 204
    assert _events(system, other) == []
    assert _token_contact(system, other_account, "shared") is None

    assert _send(http, other.public_key, _page_view("shared")).status_code == 204
    [(mine, _, _)] = _events(system, channel)
    [(theirs, _, _)] = _events(system, other)
    assert mine == _token_contact(system, channel.account_id, "shared")
    assert theirs == _token_contact(system, other_account, "shared")
    assert mine != theirs


def test_one_visitor_cannot_flood_the_event_store(
    http: httpx.Client, system: System, channel: Channel
) -> None:
    answers = [
        _send(http, channel.public_key, _page_view("busy")).status_code
        for _ in range(EVENTS_PER_TOKEN_PER_MINUTE + 1)
    ]
    refused = _send(http, channel.public_key, _page_view("busy"))
    another_visitor = _send(http, channel.public_key, _page_view("calm"))

    assert answers == [204] * EVENTS_PER_TOKEN_PER_MINUTE + [429]
    assert refused.json() == {"error": "too many events for this visitor"}
    assert refused.headers["retry-after"] == "60"
    assert another_visitor.status_code == 204
    assert len(_events(system, channel)) == EVENTS_PER_TOKEN_PER_MINUTE + 1
