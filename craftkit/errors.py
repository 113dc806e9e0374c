"""One exception tree for every service, and its journey over gRPC.

    ApiError                      code (REST)             gRPC status
    ├── InvalidJson               invalid_json            INVALID_ARGUMENT
    ├── InvalidRequest            invalid_request         INVALID_ARGUMENT
    ├── InvalidInputData          invalid_input_data      INVALID_ARGUMENT (+ field violations)
    ├── InvalidTemplate           invalid_template        INVALID_ARGUMENT (+ field violations)
    ├── InvalidAsset              invalid_asset           INVALID_ARGUMENT
    ├── Unauthorized              unauthorized            UNAUTHENTICATED
    ├── InternalUnauthenticated   internal_unauthenticated UNAUTHENTICATED (500 at the gateway)
    ├── PermissionDenied          permission_denied       PERMISSION_DENIED (500 at the gateway)
    ├── NotFound                  not_found               NOT_FOUND
    ├── TemplateNotFound          template_not_found      NOT_FOUND
    ├── VersionNotFound           version_not_found       NOT_FOUND
    ├── TemplateExists            template_exists         ALREADY_EXISTS
    ├── AssetExists               asset_exists            ALREADY_EXISTS
    ├── NoPublishedVersion        no_published_version    FAILED_PRECONDITION
    ├── Conflict                  conflict                FAILED_PRECONDITION
    ├── Busy                      busy                    ABORTED
    ├── InsufficientScope         insufficient_scope      PERMISSION_DENIED (403 at the gateway)
    ├── RenderNotReady            render_not_ready        FAILED_PRECONDITION
    ├── RenderFailed              render_failed           FAILED_PRECONDITION
    ├── NotCancellable            not_cancellable         FAILED_PRECONDITION
    ├── RenderExpired             render_expired          FAILED_PRECONDITION (410 at the gateway)
    ├── LinkExpired               link_expired            FAILED_PRECONDITION (410 at the gateway)
    ├── IdempotencyKeyReused      idempotency_key_reused  INVALID_ARGUMENT (422 at the gateway)
    ├── IdempotencyKeyInUse       idempotency_key_in_use  ABORTED
    ├── PayloadTooLarge           payload_too_large       INVALID_ARGUMENT (413 at the gateway)
    ├── RequestTimeout            request_timeout         DEADLINE_EXCEEDED (408 at the gateway)
    ├── RateLimited               rate_limited            RESOURCE_EXHAUSTED (+ retry_after)
    └── Unavailable               unavailable             UNAVAILABLE

A server raises an ApiError; `to_status` packs it into a google.rpc.Status whose details carry an
ErrorInfo (reason = the REST code) and, for validation errors, a BadRequest with one field violation
per problem (field "" = a form-level error). The gateway unpacks it with `from_rpc_error` and picks
the HTTP status from `HTTP_STATUS`, so every code maps in exactly one place.

gRPC carries the status in metadata, which clients refuse over 8 KiB, so `to_status` caps the
message and the field violations (a multi-KB slug echoed in a message must not turn a 404 into a
500). Messages that quote user input quote it through `shorten`.
"""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

DOMAIN = "craftkit.dev"
ECHO_CHARS = 100
"""The most characters of user input an error message quotes."""
MAX_MESSAGE_CHARS = 200
MAX_VIOLATION_CHARS = 200
MAX_DETAILS_BYTES = 2048
"""The serialized google.rpc.Status (details and the message again) travels base64-encoded (4/3)
beside the percent-encoded message (up to 12 bytes a character): 2 KiB of field violations and a
200-character message stay under 7 KiB even in 4-byte characters."""


def shorten(value: object, limit: int = ECHO_CHARS) -> str:
    """repr(value) cut to about `limit` characters, for quoting user input in a message."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters)"


def cut(text: str, limit: int = ECHO_CHARS) -> str:
    """`text`, its first `limit` characters only (an ellipsis marks the cut)."""
    return text if len(text) <= limit else f"{text[:limit]}…"


class ApiError(Exception):
    code = "internal"
    grpc_code = grpc.StatusCode.INTERNAL

    def __init__(self, message: str, *, field_errors: dict[str, list[str]] | None = None,
                 form_errors: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field_errors = field_errors or {}
        self.form_errors = form_errors or []

    def body(self) -> dict:
        error: dict = {"code": self.code, "message": self.message}
        if self.field_errors or self.form_errors:
            error["issues"] = {"formErrors": self.form_errors, "fieldErrors": self.field_errors}
        return {"error": error}


def _error(name: str, code: str, grpc_code: grpc.StatusCode) -> type[ApiError]:
    return type(name, (ApiError,), {"code": code, "grpc_code": grpc_code})


InvalidJson = _error("InvalidJson", "invalid_json", grpc.StatusCode.INVALID_ARGUMENT)
InvalidRequest = _error("InvalidRequest", "invalid_request", grpc.StatusCode.INVALID_ARGUMENT)
InvalidInputData = _error("InvalidInputData", "invalid_input_data", grpc.StatusCode.INVALID_ARGUMENT)
InvalidTemplate = _error("InvalidTemplate", "invalid_template", grpc.StatusCode.INVALID_ARGUMENT)
InvalidAsset = _error("InvalidAsset", "invalid_asset", grpc.StatusCode.INVALID_ARGUMENT)
Unauthorized = _error("Unauthorized", "unauthorized", grpc.StatusCode.UNAUTHENTICATED)
# An internal caller without a valid token, or calling a method it may not (craftkit.internal_auth):
# the deployment's fault, never the REST client's.
InternalUnauthenticated = _error("InternalUnauthenticated", "internal_unauthenticated",
                                 grpc.StatusCode.UNAUTHENTICATED)
PermissionDenied = _error("PermissionDenied", "permission_denied",
                          grpc.StatusCode.PERMISSION_DENIED)
NotFound = _error("NotFound", "not_found", grpc.StatusCode.NOT_FOUND)
TemplateNotFound = _error("TemplateNotFound", "template_not_found", grpc.StatusCode.NOT_FOUND)
VersionNotFound = _error("VersionNotFound", "version_not_found", grpc.StatusCode.NOT_FOUND)
TemplateExists = _error("TemplateExists", "template_exists", grpc.StatusCode.ALREADY_EXISTS)
AssetExists = _error("AssetExists", "asset_exists", grpc.StatusCode.ALREADY_EXISTS)
NoPublishedVersion = _error("NoPublishedVersion", "no_published_version",
                            grpc.StatusCode.FAILED_PRECONDITION)
Conflict = _error("Conflict", "conflict", grpc.StatusCode.FAILED_PRECONDITION)
Busy = _error("Busy", "busy", grpc.StatusCode.ABORTED)
# An API key whose scopes do not cover the route (the message names the scope it needs).
InsufficientScope = _error("InsufficientScope", "insufficient_scope",
                           grpc.StatusCode.PERMISSION_DENIED)
RenderNotReady = _error("RenderNotReady", "render_not_ready", grpc.StatusCode.FAILED_PRECONDITION)
RenderFailed = _error("RenderFailed", "render_failed", grpc.StatusCode.FAILED_PRECONDITION)
NotCancellable = _error("NotCancellable", "not_cancellable", grpc.StatusCode.FAILED_PRECONDITION)
# The render's PDF was deleted after RENDER_RETENTION_DAYS (its row stays readable).
RenderExpired = _error("RenderExpired", "render_expired", grpc.StatusCode.FAILED_PRECONDITION)
# A share link past its expiry or download count, revoked, or whose render's PDF has expired.
LinkExpired = _error("LinkExpired", "link_expired", grpc.StatusCode.FAILED_PRECONDITION)
IdempotencyKeyReused = _error("IdempotencyKeyReused", "idempotency_key_reused",
                              grpc.StatusCode.INVALID_ARGUMENT)
IdempotencyKeyInUse = _error("IdempotencyKeyInUse", "idempotency_key_in_use",
                             grpc.StatusCode.ABORTED)
PayloadTooLarge = _error("PayloadTooLarge", "payload_too_large", grpc.StatusCode.INVALID_ARGUMENT)
RequestTimeout = _error("RequestTimeout", "request_timeout", grpc.StatusCode.DEADLINE_EXCEEDED)


class RateLimited(ApiError):
    """`retry_after`: seconds until a retry can succeed (the gateway's Retry-After, rounded up);
    it stays at the gateway, so over gRPC it is None."""

    code = "rate_limited"
    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


Unavailable = _error("Unavailable", "unavailable", grpc.StatusCode.UNAVAILABLE)

_BY_CODE = {cls.code: cls for cls in ApiError.__subclasses__()}

# gRPC status -> HTTP status (grpc-gateway's table; FAILED_PRECONDITION is our documented 409).
GRPC_TO_HTTP = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}
# Codes whose HTTP status differs from their gRPC code's.
HTTP_OVERRIDES = {"payload_too_large": 413, "request_timeout": 408,
                  "internal_unauthenticated": 500, "permission_denied": 500,
                  "insufficient_scope": 403, "render_expired": 410, "link_expired": 410,
                  "idempotency_key_reused": 422}


def http_status(error: ApiError) -> int:
    return HTTP_OVERRIDES.get(error.code) or GRPC_TO_HTTP.get(error.grpc_code, 500)


def to_status(error: ApiError) -> grpc.Status:
    """The rich status of `error`, capped to fit gRPC's metadata limit: the message and each
    violation are cut, and violations past MAX_DETAILS_BYTES are dropped with a note saying how
    many."""
    pairs = [("", m) for m in error.form_errors]
    pairs += [(path, m) for path, messages in error.field_errors.items() for m in messages]
    violations, size = [], 0
    for index, (path, description) in enumerate(pairs):
        violation = error_details_pb2.BadRequest.FieldViolation(
            field=cut(path, MAX_VIOLATION_CHARS), description=cut(description,
                                                                    MAX_VIOLATION_CHARS))
        size += violation.ByteSize() + 4
        if size > MAX_DETAILS_BYTES:
            violations.append(error_details_pb2.BadRequest.FieldViolation(
                field="", description=f"and {len(pairs) - index} more problems"))
            break
        violations.append(violation)
    details = [error_details_pb2.ErrorInfo(reason=error.code, domain=DOMAIN)]
    if violations:
        details.append(error_details_pb2.BadRequest(field_violations=violations))
    packed = []
    for detail in details:
        holder = any_pb2.Any()
        holder.Pack(detail)
        packed.append(holder)
    return rpc_status.to_status(status_pb2.Status(
        code=error.grpc_code.value[0], message=cut(error.message, MAX_MESSAGE_CHARS),
        details=packed))


def from_rpc_error(call: grpc.aio.AioRpcError) -> ApiError:
    """The ApiError a server raised, or a generic one named after the gRPC code."""
    status = rpc_status.from_call(call)
    code, field_errors, form_errors = None, {}, []
    for holder in status.details if status else []:
        if holder.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            holder.Unpack(info)
            code = info.reason
        elif holder.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            holder.Unpack(bad)
            for v in bad.field_violations:
                if v.field:
                    field_errors.setdefault(v.field, []).append(v.description)
                else:
                    form_errors.append(v.description)
    if code in _BY_CODE:
        return _BY_CODE[code](call.details() or "", field_errors=field_errors,
                              form_errors=form_errors)
    grpc_code = call.code()
    if grpc_code == grpc.StatusCode.UNAVAILABLE:
        return Unavailable("a backend service is unavailable; retry with backoff")
    error = ApiError("internal error" if grpc_code == grpc.StatusCode.UNKNOWN
                     else f"{grpc_code.name.lower()}: {call.details()}")
    error.grpc_code = grpc_code
    error.code = grpc_code.name.lower() if grpc_code in GRPC_TO_HTTP else "internal"
    return error

