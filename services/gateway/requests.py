"""Parsing what clients send: bodies, render requests, template requests. Every failure is an
ApiError that says what to fix."""

from __future__ import annotations

import json
import uuid

from starlette.requests import Request

from craftkit import errors


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body; PayloadTooLarge as soon as it passes `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise errors.PayloadTooLarge(f"request body is over the {limit}-byte limit")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise errors.PayloadTooLarge(f"request body is over the {limit}-byte limit")
    return bytes(body)


async def read_json(request: Request, limit: int, empty: object = None) -> object:
    """The parsed body; `empty` (when given) stands for an empty body."""
    body = await read_body(request, limit)
    if not body and empty is not None:
        return empty
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise errors.InvalidJson(
            f"request body is not valid JSON ({exc}); send a JSON object with "
            "Content-Type: application/json") from None


def _shape(body: object, allowed: dict[str, type | tuple], required: set[str], what: str) -> dict:
    if not isinstance(body, dict):
        raise errors.InvalidRequest(f"{what} must be a JSON object")
    fields: dict[str, list[str]] = {}
    for key in sorted(set(body) - set(allowed)):
        fields.setdefault(key, []).append("Unrecognized key")
    for key in sorted(required - set(body)):
        fields.setdefault(key, []).append("Required")
    for key, kind in allowed.items():
        if key in body and not _is(body[key], kind):
            fields.setdefault(key, []).append(f"Expected {_name(kind)}")
    if fields:
        raise errors.InvalidRequest(f"{what} has the wrong shape", field_errors=fields)
    return body


def _is(value: object, kind) -> bool:
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def _name(kind) -> str:
    return {dict: "object", int: "integer", bool: "boolean", str: "string", list: "array"}[kind]


def render_request(body: object) -> tuple[dict, int, bool, str]:
    """(data, versionNumber or 0, sync, filename or "") from `{data, options?}`."""
    body = _shape(body, {"data": dict, "options": dict}, {"data"}, "the request body")
    options = body.get("options", {})
    try:
        options = _shape(options, {"versionNumber": int, "sync": bool, "filename": str}, set(),
                         "options")
    except errors.InvalidRequest as exc:
        raise errors.InvalidRequest(exc.message, field_errors={
            f"options.{k}": v for k, v in exc.field_errors.items()}) from None
    version = options.get("versionNumber", 0)
    if "versionNumber" in options and version < 1:
        raise errors.InvalidRequest("options.versionNumber must be 1 or more",
                                    field_errors={"options.versionNumber": ["Must be >= 1"]})
    if options.get("filename") == "":
        raise errors.InvalidRequest("options.filename must not be empty; omit it for the "
                                    "template's default filename",
                                    field_errors={"options.filename": ["Must not be empty"]})
    return body["data"], version, options.get("sync", False), options.get("filename", "")


def template_request(body: object) -> dict:
    return _shape(body, {"slug": str, "name": str, "defaultFilename": str}, {"slug"},
                  "the request body")


def version_request(body: object) -> dict:
    return _shape(body, {"manifest": dict, "layout": dict}, {"manifest", "layout"},
                  "the request body")


def inbound_hook_request(body: object) -> dict:
    body = _shape(body, {"versionNumber": int}, set(), "the request body")
    if body.get("versionNumber", 1) < 1:
        raise errors.InvalidRequest("versionNumber must be 1 or more")
    return body


def webhook_request(body: object, *, creating: bool) -> dict:
    body = _shape(body, {"url": str, "events": list, "enabled": bool},
                  {"url"} if creating else set(), "the request body")
    if creating and "enabled" in body:
        raise errors.InvalidRequest("a new endpoint is enabled; set enabled with PATCH",
                                    field_errors={"enabled": ["Unrecognized key"]})
    if not all(isinstance(e, str) for e in body.get("events", [])):
        raise errors.InvalidRequest("events must be a list of event names",
                                    field_errors={"events": ["Expected array of strings"]})
    return body


def rotate_request(body: object) -> dict:
    body = _shape(body, {"overlapSeconds": int}, set(), "the request body")
    if not 0 <= body.get("overlapSeconds", 0) <= 7 * 86400:
        raise errors.InvalidRequest("overlapSeconds must be from 0 to 604800 (7 days)")
    return body


def render_id(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise errors.NotFound(f"no render with id {value!r}") from None
