"""One LianaAutomation REST v1 request, start to finish: route, verify, rate-limit, call, answer."""

from __future__ import annotations

import logging

from kirje.api.auth import SignatureVerifier, SignedRequest
from kirje.api.liana_automation.operations import Call
from kirje.api.liana_automation.routes import OPERATIONS
from kirje.api.liana_automation.wire import (
    UnknownOperation,
    answer,
    decode,
    failure,
    internal_error,
)
from kirje.api.rate_limit import RateLimiter
from kirje.domain.errors import KirjeError, RateLimited
from kirje.services.system import System

log = logging.getLogger(__name__)

PREFIX = "/rest/v1/"


class LianaAutomationEndpoint:
    def __init__(self, system: System, verifier: SignatureVerifier, limiter: RateLimiter) -> None:
        self.system = system
        self.verifier = verifier
        self.limiter = limiter

    def handle(self, path: str, request: SignedRequest, public_base: str) -> tuple[int, bytes]:
        """Synchronous, as the services are: called in a worker thread. `path` is the
        canonical /rest/v1/... path."""
        try:
            operation = OPERATIONS.get(path.removeprefix(PREFIX).strip("/"))
            if operation is None or not path.startswith(PREFIX):
                raise UnknownOperation(path)
            credential = self.verifier.verify(request)
            if not self.limiter.allow(
                f"liana:{credential.user_id}", credential.rate_limit_per_second
            ):
                raise RateLimited()
            services = self.system.for_account(credential.account_id)
            return answer(operation(Call(services, public_base), decode(request.body)))
        except KirjeError as error:
            return failure(error)
        except Exception:
            log.exception("LianaAutomation %s failed", path)
            return internal_error()
