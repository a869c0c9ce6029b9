"""HTTP route of the LianaAutomation dialect: every operation is a POST under /rest/v1/."""

from __future__ import annotations

import re
from dataclasses import replace

import anyio
import anyio.to_thread
from litestar import Request, Response, route
from litestar.exceptions import HTTPException
from litestar.status_codes import HTTP_413_REQUEST_ENTITY_TOO_LARGE

from kirje.api.auth import signed_request_from_scope
from kirje.api.liana_automation.endpoint import LianaAutomationEndpoint
from kirje.api.liana_automation.wire import BodyTooLarge, failure

_SLASHES = re.compile(rb"/{2,}")


def liana_automation_routes(
    endpoint: LianaAutomationEndpoint, threads: anyio.CapacityLimiter
) -> list:
    # The seed's clients always POST; GET answers too, so that a wrong verb is told apart
    # from a wrong path only by the signature.
    @route(["/rest/{rest:path}"], http_method=["POST", "GET"])
    async def rest_call(request: Request) -> Response:
        try:
            body = await request.body()
        except HTTPException as error:
            if error.status_code != HTTP_413_REQUEST_ENTITY_TOO_LARGE:
                raise
            status, payload = failure(BodyTooLarge("the request body is too large"))
            return Response(payload, status_code=status, media_type="application/json")
        signed = signed_request_from_scope(request.scope, body)
        # Clients sign the path from /rest/ on, with single slashes, whatever prefix a proxy
        # adds or a base URL with a trailing slash doubles.
        target = _SLASHES.sub(b"/", signed.target)
        target = target[target.find(b"/rest/") :]
        signed = replace(signed, target=target)
        path = target.split(b"?", 1)[0].decode("latin-1")
        base = f"{request.url.scheme}://{request.url.netloc}"
        status, payload = await anyio.to_thread.run_sync(
            endpoint.handle, path, signed, base, limiter=threads
        )
        return Response(payload, status_code=status, media_type="application/json")

    return [rest_call]
