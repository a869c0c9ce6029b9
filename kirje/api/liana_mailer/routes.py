"""HTTP routes of the LianaMailer dialect."""

from __future__ import annotations

import anyio
import anyio.to_thread
from litestar import Request, Response, route
from litestar.exceptions import HTTPException
from litestar.params import FromPath
from litestar.status_codes import HTTP_413_REQUEST_ENTITY_TOO_LARGE

from kirje.api.auth import signed_request_from_scope
from kirje.api.liana_mailer.endpoint import LianaMailerEndpoint
from kirje.api.liana_mailer.wire import BodyTooLarge, failure


def liana_mailer_routes(endpoint: LianaMailerEndpoint, threads: anyio.CapacityLimiter) -> list:
    # The official clients let the caller choose the verb; both sign the same way.
    @route("/api/v1/{method_name:str}", http_method=["POST", "GET"])
    async def v1_call(request: Request, method_name: FromPath[str]) -> Response:
        body = await _body(request)
        if isinstance(body, Response):
            return body
        signed = signed_request_from_scope(request.scope, body)
        if endpoint.runs_inline(method_name):
            status, payload = endpoint.handle(method_name, signed)
        else:
            status, payload = await anyio.to_thread.run_sync(
                endpoint.handle, method_name, signed, limiter=threads
            )
        return Response(payload, status_code=status, media_type="application/json")

    @route("/api/v2/{resource:path}", http_method=["POST", "GET"])
    async def resource_call(request: Request, resource: FromPath[str]) -> Response:
        body = await _body(request)
        if isinstance(body, Response):
            return body
        signed = signed_request_from_scope(request.scope, body)
        path = request.url.path
        status, payload = await anyio.to_thread.run_sync(
            endpoint.handle_resource, path, signed, limiter=threads
        )
        return Response(payload, status_code=status, media_type="application/json")

    # v3 is read with GET; other verbs are verified, then refused in v3's own error shape.
    @route("/api/v3/{resource:path}", http_method=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def v3_call(request: Request, resource: FromPath[str]) -> Response:
        body = await _body(request)
        if isinstance(body, Response):
            return body
        signed = signed_request_from_scope(request.scope, body)
        status, payload = await anyio.to_thread.run_sync(
            endpoint.handle_v3, request.url.path, signed, limiter=threads
        )
        return Response(payload, status_code=status, media_type="application/json")

    return [v1_call, resource_call, v3_call]


async def _body(request: Request) -> bytes | Response:
    """The request body, or the dialect's answer when it is larger than the server reads."""
    try:
        return await request.body()
    except HTTPException as error:
        if error.status_code != HTTP_413_REQUEST_ENTITY_TOO_LARGE:
            raise
        limit = request.app.state.system.settings.max_request_bytes
        status, payload = failure(
            BodyTooLarge(
                f"the request body is larger than {limit} bytes: send the file in batches, "
                "or import it with `kirje import`"
            )
        )
        return Response(payload, status_code=status, media_type="application/json")
