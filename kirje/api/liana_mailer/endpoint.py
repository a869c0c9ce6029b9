"""One LianaMailer request, start to finish: verify, rate-limit, bind, call, answer (in the
v1/v2 envelope, or as a v3 resource)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import orjson

from kirje.api.auth import SignatureVerifier, SignedRequest
from kirje.api.liana_mailer.dispatch import V1Method, positional_arguments
from kirje.api.liana_mailer.v1.routes import (
    ALIASES,
    IMPLEMENTED,
    INLINE_READS,
    PLANNED,
    PLANNED_ALIASES,
)
from kirje.api.liana_mailer.v2.routes import IMPLEMENTED as V2_ROUTES
from kirje.api.liana_mailer.v3 import wire as v3_wire
from kirje.api.liana_mailer.v3.query import QueryParameters
from kirje.api.liana_mailer.v3.routes import find_route as find_v3_route
from kirje.api.liana_mailer.wire import (
    MalformedBody,
    NotAvailableYet,
    UnknownMethod,
    failure,
    internal_error,
    success,
)
from kirje.api.rate_limit import RateLimiter
from kirje.domain.accounts import ApiCredential
from kirje.domain.errors import KirjeError, RateLimited
from kirje.services.system import System

log = logging.getLogger(__name__)


class LianaMailerEndpoint:
    def __init__(self, system: System, verifier: SignatureVerifier, limiter: RateLimiter) -> None:
        self.system = system
        self.verifier = verifier
        self.limiter = limiter
        self.methods = {name: V1Method.of(name, fn) for name, fn in IMPLEMENTED.items()}
        for alias, name in ALIASES.items():
            self.methods[alias] = self.methods[name]

    def runs_inline(self, method_name: str) -> bool:
        return method_name in INLINE_READS

    def handle(self, method_name: str, request: SignedRequest) -> tuple[int, bytes]:
        """Synchronous, as the services are: called in a worker thread, or inline for
        the short reads of INLINE_READS."""

        def call(credential: ApiCredential) -> Any:
            method = self.method(method_name)
            arguments = positional_arguments(_decode(request.body))
            return method(self.system.for_account(credential.account_id), arguments)

        return self._answer(request, call, method_name)

    def handle_resource(self, path: str, request: SignedRequest) -> tuple[int, bytes]:
        """v2 resources: signed and limited like v1; a keyed JSON body goes to the v2
        routing table, and the seed's other resources answer "not available yet"."""

        def call(credential: ApiCredential) -> Any:
            function = V2_ROUTES.get(path.removeprefix("/api/v2/").strip("/"))
            if function is None or not path.startswith("/api/v2/"):
                raise NotAvailableYet(f"{path} is not available in this version of Kirje yet")
            body = _decode(request.body)
            if not isinstance(body, dict):
                raise MalformedBody("a v2 request body must be a JSON object")
            return function(self.system.for_account(credential.account_id), body)

        return self._answer(request, call, path)

    def handle_v3(self, path: str, request: SignedRequest) -> tuple[int, bytes]:
        """v3 resources: signed and limited like v1, every parameter in the query string as
        signed (raw, percent-encoding untouched), answered without the envelope."""

        def call(credential: ApiCredential) -> Any:
            found = find_v3_route(path.removeprefix("/api/v3/"))
            if found is None:
                raise v3_wire.UnknownResource(f"unknown resource {path}")
            if request.method != "GET":
                raise v3_wire.WrongMethod(f"{path} is read with GET")
            route, ids = found
            query = QueryParameters.parse(request.target.partition(b"?")[2])
            return route.function(self.system.for_account(credential.account_id), query, **ids)

        return self._answer(request, call, path, v3_wire.resource, v3_wire.failure)

    def _answer(
        self,
        request: SignedRequest,
        call: Callable[[ApiCredential], Any],
        name: str,
        answer: Callable[[Any], tuple[int, bytes]] = success,
        refuse: Callable[[KirjeError], tuple[int, bytes]] = failure,
    ) -> tuple[int, bytes]:
        try:
            credential = self.verifier.verify(request)
            rate = credential.rate_limit_per_second
            if not self.limiter.allow(f"liana:{credential.user_id}", rate):
                raise RateLimited()
            return answer(call(credential))
        except KirjeError as error:
            return refuse(error)
        except Exception:
            log.exception("LianaMailer %s failed", name)
            return internal_error()

    def method(self, name: str) -> V1Method:
        found = self.methods.get(name)
        if found is not None:
            return found
        if name in PLANNED or name in PLANNED_ALIASES:
            raise NotAvailableYet(f"{name} is not available in this version of Kirje yet")
        raise UnknownMethod(f"unknown method {name!r}")


def _decode(body: bytes):
    if not body.strip():
        return None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise MalformedBody(f"request body is not valid JSON: {error}") from None
