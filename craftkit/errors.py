"""One exception tree for every service, and its journey over gRPC.

    ApiError                      code (REST)             gRPC status
    ├── InvalidJson               invalid_json            INVALID_ARGUMENT
    ├── InvalidRequest            invalid_request         INVALID_ARGUMENT
    ├── InvalidInputData          invalid_input_data      INVALID_ARGUMENT (+ field violations)
    ├── InvalidTemplate           invalid_template        INVALID_ARGUMENT (+ field violations)
    ├── Unauthorized              unauthorized            UNAUTHENTICATED
    ├── NotFound                  not_found               NOT_FOUND
    ├── TemplateNotFound          template_not_found      NOT_FOUND
    ├── VersionNotFound           version_not_found       NOT_FOUND
    ├── TemplateExists            template_exists         ALREADY_EXISTS
    ├── AssetExists               asset_exists            ALREADY_EXISTS
    ├── NoPublishedVersion        no_published_version    FAILED_PRECONDITION
    ├── Conflict                  conflict                FAILED_PRECONDITION
    ├── Busy                      busy                    ABORTED
    ├── PayloadTooLarge           payload_too_large       INVALID_ARGUMENT (413 at the gateway)
    ├── RateLimited               rate_limited            RESOURCE_EXHAUSTED
    └── Unavailable               unavailable             UNAVAILABLE

A server raises an ApiError; `to_status` packs it into a google.rpc.Status whose details carry an
ErrorInfo (reason = the REST code) and, for validation errors, a BadRequest with one field violation
per problem (field "" = a form-level error). The gateway unpacks it with `from_rpc_error` and picks
the HTTP status from `HTTP_STATUS`, so every code maps in exactly one place.
"""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

DOMAIN = "craftkit.dev"


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
Unauthorized = _error("Unauthorized", "unauthorized", grpc.StatusCode.UNAUTHENTICATED)
NotFound = _error("NotFound", "not_found", grpc.StatusCode.NOT_FOUND)
TemplateNotFound = _error("TemplateNotFound", "template_not_found", grpc.StatusCode.NOT_FOUND)
VersionNotFound = _error("VersionNotFound", "version_not_found", grpc.StatusCode.NOT_FOUND)
TemplateExists = _error("TemplateExists", "template_exists", grpc.StatusCode.ALREADY_EXISTS)
AssetExists = _error("AssetExists", "asset_exists", grpc.StatusCode.ALREADY_EXISTS)
NoPublishedVersion = _error("NoPublishedVersion", "no_published_version",
                            grpc.StatusCode.FAILED_PRECONDITION)
Conflict = _error("Conflict", "conflict", grpc.StatusCode.FAILED_PRECONDITION)
Busy = _error("Busy", "busy", grpc.StatusCode.ABORTED)
PayloadTooLarge = _error("PayloadTooLarge", "payload_too_large", grpc.StatusCode.INVALID_ARGUMENT)
RateLimited = _error("RateLimited", "rate_limited", grpc.StatusCode.RESOURCE_EXHAUSTED)
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
HTTP_OVERRIDES = {"payload_too_large": 413}


def http_status(error: ApiError) -> int:
    return HTTP_OVERRIDES.get(error.code) or GRPC_TO_HTTP.get(error.grpc_code, 500)


def to_status(error: ApiError) -> grpc.Status:
    details = [error_details_pb2.ErrorInfo(reason=error.code, domain=DOMAIN)]
    violations = [error_details_pb2.BadRequest.FieldViolation(field="", description=m)
                  for m in error.form_errors]
    violations += [error_details_pb2.BadRequest.FieldViolation(field=path, description=m)
                   for path, messages in error.field_errors.items() for m in messages]
    if violations:
        details.append(error_details_pb2.BadRequest(field_violations=violations))
    packed = []
    for detail in details:
        holder = any_pb2.Any()
        holder.Pack(detail)
        packed.append(holder)
    return rpc_status.to_status(status_pb2.Status(
        code=error.grpc_code.value[0], message=error.message, details=packed))


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

