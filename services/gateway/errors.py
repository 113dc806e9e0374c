"""Every error the gateway answers, in one envelope: `{"error": {"code", "message", ...}}`.
ApiErrors carry their code (craftkit.errors maps each to its HTTP status), gRPC errors are
unpacked into the ApiError the backend raised, Starlette's 404/405 get our codes, and anything
else is logged and answered 500 internal. Every envelope names the request's id (`requestId`,
services.gateway.requestlog), which the gateway's log lines for it carry too. Log lines name the
route's template, never the raw path (a share link's or an inbound hook's token is in it)."""

from __future__ import annotations

import logging
import math

import grpc
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from craftkit import errors, logs
from services.gateway.requestlog import route_template

log = logging.getLogger("services.gateway")


def envelope(body: dict) -> dict:
    """An error body with the request's id added (when one is bound: always, behind
    RequestLog)."""
    request_id = logs.current("request_id")
    if request_id:
        body["error"]["requestId"] = request_id
    return body


def error_response(error: errors.ApiError) -> JSONResponse:
    """The envelope; Retry-After is the limiter's wait rounded up (1 s for `unavailable`)."""
    headers = {}
    if error.code in ("rate_limited", "unavailable"):
        wait = getattr(error, "retry_after", None) or 1
        headers["retry-after"] = str(max(1, math.ceil(wait)))
    return JSONResponse(envelope(error.body()), status_code=errors.http_status(error),
                        headers=headers)


async def api_error(request: Request, exc: errors.ApiError) -> JSONResponse:
    return error_response(exc)


async def rpc_error(request: Request, exc: grpc.aio.AioRpcError) -> JSONResponse:
    error = errors.from_rpc_error(exc)
    if errors.http_status(error) >= 500:
        log.warning("%s %s: backend said %s: %s", request.method, route_template(request.scope),
                    exc.code().name, exc.details())
    return error_response(error)


async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    path = errors.shorten(request.url.path)
    message = {404: f"no route for {request.method} {path}",
               405: f"{request.method} is not allowed on {path}"}.get(
        exc.status_code, str(exc.detail))
    return JSONResponse(envelope({"error": {"code": code, "message": message}}),
                        status_code=exc.status_code, headers=exc.headers)


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, route_template(request.scope))
    return JSONResponse(envelope({"error": {"code": "internal", "message": "internal error"}}),
                        status_code=500)


HANDLERS = {errors.ApiError: api_error, grpc.aio.AioRpcError: rpc_error,
            HTTPException: http_error, Exception: unexpected_error}
