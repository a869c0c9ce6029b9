"""Test clients that sign LianaMailer requests the way the real clients do.

They differ exactly where real clients differ: the PHP client (and the WordPress plugins)
send compact JSON with escaped slashes and a Date like 2020-01-15T12:00:00+02:00; the Python
client sends json.dumps output with spaces and a Date like 2020-01-15T12:00:00+0200.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx


@dataclass
class Credentials:
    user_id: int
    secret: str
    realm: str


def php_json(value: Any) -> str:
    """PHP json_encode with no flags: compact, slashes escaped, non-ASCII as \\uXXXX."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/")


def php_date() -> str:
    return datetime.now(ZoneInfo("Europe/Helsinki")).isoformat(timespec="seconds")


def python_date() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def sign(secret: str, method: str, body: str, date: str, path: str) -> tuple[str, str]:
    md5 = hashlib.md5(body.encode()).hexdigest()
    message = "\n".join([method, md5, "application/json", date, body, path])
    return md5, hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def signed_headers(
    credentials: Credentials,
    method: str,
    body: str,
    date: str,
    path: str,
    *,
    md5_header: str = "Content-MD5",
    md5: str | None = None,
    secret: str | None = None,
    user_id: int | None = None,
    realm: str | None = None,
) -> dict[str, str]:
    """The headers of a signed request; the keyword arguments spoil one part on purpose."""
    real_md5, signature = sign(secret or credentials.secret, method, body, date, path)
    user = credentials.user_id if user_id is None else user_id
    return {
        "Content-Type": "application/json",
        md5_header: md5 or real_md5,
        "Date": date,
        "Authorization": f"{realm or credentials.realm} {user}:{signature}",
    }


class LianaClient:
    """Calls /api/v1/<method>; `style` picks how the body and Date are written."""

    def __init__(self, base_url: str, credentials: Credentials, style: str = "php") -> None:
        self.base_url = base_url
        self.credentials = credentials
        self.style = style
        self.http = httpx.Client(base_url=base_url, timeout=30)

    def encode(self, params: Any) -> str:
        return php_json(params) if self.style == "php" else json.dumps(params)

    def date(self) -> str:
        return php_date() if self.style == "php" else python_date()

    def raw(
        self,
        method_name: str,
        body: str,
        *,
        date: str | None = None,
        secret: str | None = None,
        md5: str | None = None,
        user_id: int | None = None,
        realm: str | None = None,
        http_method: str = "POST",
        version: int = 1,
    ) -> httpx.Response:
        path = f"/api/v{version}/{method_name}"
        headers = signed_headers(
            self.credentials,
            http_method,
            body,
            date or self.date(),
            path,
            md5=md5,
            secret=secret,
            user_id=user_id,
            realm=realm,
        )
        return self.http.request(http_method, path, content=body.encode(), headers=headers)

    def call(self, method_name: str, params: Any = ()) -> dict:
        """The decoded envelope; params may be a list or a bare value."""
        params = list(params) if isinstance(params, tuple) else params
        response = self.raw(method_name, self.encode(params))
        return response.json()

    def call_v2(self, resource: str, body: dict) -> dict:
        """A v2 resource with its keyed body; the decoded envelope."""
        return self.raw(resource, self.encode(body), version=2).json()

    def result(self, method_name: str, params: Any = ()) -> Any:
        envelope = self.call(method_name, params)
        assert envelope.get("succeed") is True, envelope
        return envelope["result"]


def gmdate_c() -> str:
    """PHP gmdate('c'), as the WordPress plugins write the Date: 2024-05-01T10:00:00+00:00."""
    return datetime.now(ZoneInfo("UTC")).isoformat(timespec="seconds")


class AutomationClient:
    """Calls /rest/v1/<path> as the LianaAutomation WordPress plugins do: PHP JSON, the header
    spelled Content-md5, a gmdate('c') Date, the path signed from /rest/ on."""

    def __init__(self, base_url: str, credentials: Credentials) -> None:
        self.credentials = credentials
        self.http = httpx.Client(base_url=base_url, timeout=30)

    def raw(
        self,
        path: str,
        body: str,
        *,
        date: str | None = None,
        secret: str | None = None,
        md5: str | None = None,
        user_id: int | None = None,
        realm: str | None = None,
        url_path: str | None = None,
    ) -> httpx.Response:
        signed_path = f"/rest/v1/{path}"
        headers = signed_headers(
            self.credentials,
            "POST",
            body,
            date or gmdate_c(),
            signed_path,
            md5_header="Content-md5",
            md5=md5,
            secret=secret,
            user_id=user_id,
            realm=realm,
        )
        return self.http.post(url_path or signed_path, content=body.encode(), headers=headers)

    def call(self, path: str, params: Any = None) -> Any:
        response = self.raw(path, php_json(params))
        assert response.status_code == 200, response.text
        return response.json()
