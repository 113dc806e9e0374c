"""Parsing what clients send: bodies, path parameters, render and template requests. Every failure
is an ApiError that says what to fix and quotes at most errors.ECHO_CHARS of the input, so nothing
a client sends reaches protobuf, SQL or a gRPC error unchecked."""

from __future__ import annotations

import math
import re
import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from starlette.datastructures import QueryParams
from starlette.requests import ClientDisconnect, Request

from craftkit import errors, inputs, renders
from craftkit import cursor as cursors
from craftkit.demo import INVOICE_EXAMPLE, sample
from craftkit.downloads import DEFAULT_LINK_SECONDS, MAX_DOWNLOADS, MAX_LINK_SECONDS
from services.gateway.auth import SCOPES
from services.status.templates import ASSET_NAME, SLUG as SLUG_PATTERN
from services.webhooks.endpoints import EVENTS

INT32_MAX = 2**31 - 1
MAX_CHARS = {"slug": 63, "name": inputs.MAX_NAME_LENGTH,
             "defaultFilename": inputs.MAX_NAME_LENGTH, "filename": inputs.MAX_NAME_LENGTH,
             "url": 2048, "token": 200}
"""Maximum lengths of the string fields and path parameters the gateway forwards."""
RANGES = {"versionNumber": (1, INT32_MAX), "number": (1, INT32_MAX), "overlapSeconds": (0, 604800),
          "limit": (1, 200), "expiresIn": (1, MAX_LINK_SECONDS), "maxDownloads": (1, MAX_DOWNLOADS)}
"""Allowed ranges of the integers clients send (the protobuf fields are int32)."""
MAX_EVENTS = 16
BAD_HOOK_URL = ("this inbound hook URL is not valid (unknown, revoked, or its signature does not "
                "match)")
MAX_LISTED_KEYS = 20
"""Unrecognized keys named in one error, so a body of 100,000 keys gets a short answer."""

_INTEGER = re.compile("-?[0-9]+").fullmatch
_CURSOR = re.compile("[A-Za-z0-9_-]*").fullmatch
MAX_CURSOR_CHARS = 512
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body; PayloadTooLarge as soon as it passes `limit` bytes. A body that does not all
    arrive within BODY_TIMEOUT_SECONDS is answered 408 by the protocol (protocol.py), which
    makes the stream end in a disconnect here."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise errors.PayloadTooLarge(f"request body is over the {limit}-byte limit")
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise errors.PayloadTooLarge(f"request body is over the {limit}-byte limit")
    except ClientDisconnect:
        raise errors.RequestTimeout("the request body did not all arrive") from None
    return bytes(body)


async def read_json(request: Request, limit: int, empty: object = None) -> object:
    """The parsed and checked body (see `check_json`); `empty` (when given) stands for an empty
    body. The Content-Type is not looked at: every JSON body is parsed as JSON."""
    body = await read_body(request, limit)
    if not body and empty is not None:
        return empty
    try:
        value = inputs.DECODER.decode(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise errors.InvalidJson(f"request body is not UTF-8 (byte {exc.start}); send JSON in "
                                 "UTF-8") from None
    except (ValueError, RecursionError) as exc:
        raise errors.InvalidJson(
            f"request body is not valid JSON ({errors.shorten(str(exc))[1:-1]}); send a JSON "
            "object with Content-Type: application/json") from None
    check_json(value)
    return value


def check_json(value: object) -> None:
    """`value` refused as inputs.check refuses it (what JSON can carry but the system cannot
    store or process): a lone surrogate or a non-finite number as invalid_json, NUL or nesting
    deeper than inputs.MAX_DEPTH as invalid_request, naming the dotted path of the first."""
    try:
        inputs.check(value)
    except inputs.Unsafe as found:
        where = found.where or "(the body)"
        error = errors.InvalidJson if found.malformed else errors.InvalidRequest
        raise error(f"{where} {found.problem}", field_errors={where: [found.problem]}) from None


@dataclass(frozen=True)
class Field:
    """One key of a JSON object the gateway takes. `kind` is what `_shape` checks (strings
    within MAX_CHARS[key], integers within RANGES[key]); the rest only describes it in the
    OpenAPI document (services/gateway/openapi.py), where a route's own check enforces it."""
    kind: type
    doc: str
    required: bool = False
    schema: dict = dataclasses.field(default_factory=dict)
    """JSON Schema keywords beyond the type and bounds: items, enum, minLength, nullability."""
    shape: Shape | None = None
    """For an object checked by a Shape of its own (a render's options)."""


@dataclass(frozen=True)
class Shape:
    """A JSON object with only `fields`: checked by `check` and shown as one schema of the
    OpenAPI document under `name`, so the document is what the gateway accepts."""
    name: str
    fields: dict[str, Field]
    what: str = "the request body"
    doc: str = ""
    example: dict | None = None

    def check(self, body: object, prefix: str = "") -> dict:
        return _shape(body, {key: f.kind for key, f in self.fields.items()},
                      {key for key, f in self.fields.items() if f.required}, self.what, prefix)


def _shape(body: object, allowed: dict[str, type], required: set[str], what: str,
           prefix: str = "") -> dict:
    """`body` if it is an object with only `allowed` keys of their types, every `required` key,
    strings within MAX_CHARS and integers within RANGES; else InvalidRequest naming each field."""
    if not isinstance(body, dict):
        raise errors.InvalidRequest(f"{what} must be a JSON object")
    fields: dict[str, list[str]] = {}
    for key in sorted(set(body) - set(allowed))[:MAX_LISTED_KEYS]:
        fields.setdefault(prefix + inputs.cut(key), []).append("Unrecognized key")
    for key in sorted(required - set(body)):
        fields.setdefault(prefix + key, []).append("Required")
    for key, kind in allowed.items():
        if key in body:
            problem = _problem(key, body[key], kind)
            if problem:
                fields.setdefault(prefix + key, []).append(problem)
    if fields:
        summary = "; ".join(f"{path}: {problems[0]}" for path, problems in list(fields.items())[:3])
        raise errors.InvalidRequest(f"{what} has the wrong shape ({summary})", field_errors=fields)
    return body


def _problem(key: str, value: object, kind: type) -> str | None:
    """What is wrong with one field's value, or None."""
    if not _is(value, kind):
        return f"Expected {json_type(kind)}"
    if kind is str and len(value) > MAX_CHARS.get(key, len(value)):
        return f"At most {MAX_CHARS[key]} characters"
    if kind is int and key in RANGES and not RANGES[key][0] <= value <= RANGES[key][1]:
        return f"Must be from {RANGES[key][0]} to {RANGES[key][1]}"
    return None


def _is(value: object, kind) -> bool:
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def json_type(kind) -> str:
    """The JSON (Schema) name of a Python type a Shape's field takes: what errors say and the
    OpenAPI document shows."""
    return {dict: "object", int: "integer", bool: "boolean", str: "string", list: "array"}[kind]


SLUG = "a template's slug: its name in URLs, unique in the project"

CERTIFICATE = sample("certificate")
"""A sample template that shows no uploaded image: its version is the example of a new one."""

RENDER_OPTIONS = Shape("RenderOptions", {
    "versionNumber": Field(int, "Render this version (published or not) instead of the "
                                "template's published one"),
    "sync": Field(bool, "Hold the response until the render is done (at most "
                        "SYNC_TIMEOUT_SECONDS, 30 s by default): 200 with the finished render, "
                        "or 202 as without it when the wait runs out"),
    "filename": Field(str, "The PDF's filename instead of the template's defaultFilename",
                      schema={"minLength": 1}),
}, what="options")
RENDER = Shape("RenderRequest", {
    "data": Field(dict, "The values the template's manifest asks for, checked against its "
                        "JSON Schema (GET …/versions/{number}/schema)", required=True),
    "options": Field(dict, "How to render", shape=RENDER_OPTIONS),
}, example={"data": INVOICE_EXAMPLE, "options": {"versionNumber": 3, "sync": False,
                                               "filename": "invoice-2026-005.pdf"}})
PREVIEW = Shape("PreviewRequest", {
    "data": Field(dict, "The values the version's manifest asks for", required=True),
}, doc="A preview takes no options: the version is in its path.",
   example={"data": INVOICE_EXAMPLE})
TEMPLATE = Shape("TemplateRequest", {
    "slug": Field(str, SLUG, required=True,
                  schema={"pattern": f"^{SLUG_PATTERN.pattern}$", "example": "invoice"}),
    "name": Field(str, "A name for people (default: the slug)"),
    "defaultFilename": Field(str, "The PDF's filename when a render names none (default: "
                                  "the slug + .pdf; .pdf is added when missing)"),
}, example={"slug": "invoice", "name": "Invoice", "defaultFilename": "invoice.pdf"})
VERSION = Shape("VersionRequest", {
    "manifest": Field(dict, "The data the template takes: keys, types, which are required "
                            "(its JSON Schema is derived from it)", required=True),
    "layout": Field(dict, "What the PDF shows: page setup and blocks", required=True),
}, example={key: CERTIFICATE[key] for key in ("manifest", "layout")})
INBOUND_HOOK = Shape("InboundHookRequest", {
    "versionNumber": Field(int, "Render this version (default: the published one at each call)"),
}, example={})
_EVENT_NAMES = {"type": "string", "enum": list(EVENTS)}
WEBHOOK = Shape("WebhookRequest", {
    "url": Field(str, "Where deliveries are POSTed (https; no private address)", required=True,
                 schema={"format": "uri"}),
    "events": Field(list, "The events sent there (default: render.succeeded, render.failed)",
                    schema={"items": _EVENT_NAMES, "maxItems": MAX_EVENTS}),
}, example={"url": "https://example.com/craftkit", "events": ["render.succeeded",
                                                             "render.failed"]})
WEBHOOK_UPDATE = Shape("WebhookUpdate", {
    "url": Field(str, "Where deliveries are POSTed", schema={"format": "uri"}),
    "events": Field(list, "The events sent there",
                    schema={"items": _EVENT_NAMES, "maxItems": MAX_EVENTS}),
    "enabled": Field(bool, "false pauses deliveries to this endpoint"),
}, doc="Only the keys given change.", example={"enabled": False})
KEY = Shape("KeyRequest", {
    "name": Field(str, "A name to tell keys apart"),
    "scopes": Field(list, "What the key may do: full ⊇ render ⊇ download (default: [\"full\"])",
                    schema={"items": {"type": "string", "enum": list(SCOPES)}, "minItems": 1,
                            "maxItems": len(SCOPES) * 2}),
}, example={"name": "partner", "scopes": ["download"]})
SHARE_LINK = Shape("ShareLinkRequest", {
    "expiresIn": Field(int, "Seconds until the link expires (default: "
                            f"{DEFAULT_LINK_SECONDS // 86400} days)"),
    "maxDownloads": Field(int, "How many times the link may be opened (null or absent: no "
                               "limit)", schema={"type": ["integer", "null"]}),
}, example={"expiresIn": 3600, "maxDownloads": 3})
HOOK_DATA = Shape("HookData", {}, doc="The render's data itself (no `data` wrapper): any JSON "
                                      "object, checked against the template's manifest")
"""An inbound hook's body (routes/hooks.py checks it is an object)."""
ROTATE = Shape("RotateSecretRequest", {
    "overlapSeconds": Field(int, "How long the old secret still signs deliveries beside the new "
                                 "one (absent or 0: 86400, a day)"),
}, example={"overlapSeconds": 3600})


def render_request(body: object) -> tuple[dict, int, bool, str]:
    """(data, versionNumber or 0, sync, filename or "") from `{data, options?}`."""
    body = RENDER.check(body)
    options = RENDER_OPTIONS.check(body.get("options", {}), prefix="options.")
    if options.get("filename") == "":
        raise errors.InvalidRequest("options.filename must not be empty; omit it for the "
                                    "template's default filename",
                                    field_errors={"options.filename": ["Must not be empty"]})
    return body["data"], options.get("versionNumber", 0), options.get("sync", False), \
        options.get("filename", "")


def preview_request(body: object) -> dict:
    """The data of `{data}` (a preview takes no options: the version is in its path)."""
    return PREVIEW.check(body)["data"]


def template_request(body: object) -> dict:
    return TEMPLATE.check(body)


def version_request(body: object) -> dict:
    return VERSION.check(body)


def inbound_hook_request(body: object) -> dict:
    return INBOUND_HOOK.check(body)


def webhook_request(body: object, *, creating: bool) -> dict:
    body = _webhook_create(body) if creating else WEBHOOK_UPDATE.check(body)
    events = body.get("events", [])
    if len(events) > MAX_EVENTS or not all(isinstance(e, str) and len(e) <= 64 for e in events):
        raise errors.InvalidRequest(f"events must be a list of at most {MAX_EVENTS} event names",
                                    field_errors={"events": ["Expected array of event names"]})
    return body


def _webhook_create(body: object) -> dict:
    """A new endpoint's body: `enabled` is refused with its own message (it is PATCH's)."""
    body = _shape(body, {**{k: f.kind for k, f in WEBHOOK.fields.items()}, "enabled": bool},
                  {"url"}, WEBHOOK.what)
    if "enabled" in body:
        raise errors.InvalidRequest("a new endpoint is enabled; set enabled with PATCH",
                                    field_errors={"enabled": ["Unrecognized key"]})
    return body


def key_request(body: object) -> dict:
    """POST /v1/keys: `name` (optional) and `scopes` (optional: ["full"]; if given, a non-empty
    list of full, render, download: an empty list is a mistake, not a full key)."""
    body = KEY.check(body)
    scopes = body.get("scopes", ["full"])
    if not scopes or len(scopes) > len(SCOPES) * 2 or not all(s in SCOPES for s in scopes):
        raise errors.InvalidRequest(
            f"scopes must be a non-empty list of {', '.join(SCOPES)} "
            "(full ⊇ render ⊇ download)",
            field_errors={"scopes": [f"Expected a non-empty array of {', '.join(SCOPES)}"]})
    return {"name": body.get("name", ""), "scopes": scopes}


def share_link_request(body: object) -> tuple[int, int]:
    """(expiresIn or 0 for the default, maxDownloads or 0 for no limit) from
    `{expiresIn?, maxDownloads?}`; maxDownloads null also means no limit."""
    if isinstance(body, dict) and "maxDownloads" in body and body["maxDownloads"] is None:
        body = {k: v for k, v in body.items() if k != "maxDownloads"}
    body = SHARE_LINK.check(body)
    return body.get("expiresIn", 0), body.get("maxDownloads", 0)


def rotate_request(body: object) -> dict:
    return ROTATE.check(body)


@dataclass(frozen=True)
class Media:
    """A body that is not JSON: a PDF, a PNG, an image upload."""
    type: str
    description: str


PDF = Media("application/pdf", "The PDF")


@dataclass(frozen=True)
class Param:
    """A query or path parameter as the OpenAPI document shows it."""
    name: str
    schema: dict
    doc: str
    where: str = "query"


@dataclass(frozen=True)
class Page:
    """The `limit` and `cursor` of a list: `read` checks them, `params` documents them."""
    maximum: int
    default: int
    order: str
    cursor: str = "nextCursor of the previous page, unchanged (absent: the first page)"

    def read(self, query: QueryParams) -> tuple[int, str]:
        """`limit` (0 when absent: the list's default) and `cursor` (empty: the first page)."""
        return page_params(query, self.maximum)

    def params(self) -> tuple[Param, ...]:
        low = RANGES["limit"][0]
        return (Param("limit", {"type": "integer", "minimum": low, "maximum": self.maximum,
                                "default": self.default},
                      f"How many per page, {self.order}"),
                Param("cursor", {"type": "string", "maxLength": MAX_CURSOR_CHARS,
                                 "pattern": "^[A-Za-z0-9_-]*$"}, self.cursor))


TEMPLATES_PAGE = Page(100, 100, "by slug")
WEBHOOKS_PAGE = Page(100, 100, "oldest first")
DELIVERIES_PAGE = Page(200, 50, "newest first")
RENDERS_PAGE = Page(100, 20, "newest first")
KEYS_PAGE = Page(RANGES["limit"][1], 50, "newest first",
                 cursor="nextCursor of the previous page (a key id; absent: the first page)")
"""GET /v1/keys reads its limit with limit_param and passes its cursor to the status service."""
RENDERS_QUERY = (*RENDERS_PAGE.params(),
                 Param("status", {"type": "string", "enum": list(renders.STATUS)},
                       "Only renders in this status"),
                 Param("template", {"type": "string", "minLength": 1,
                                    "maxLength": MAX_CHARS["slug"]},
                       "Only renders of the template with this slug"),
                 Param("createdAfter", {"type": "string", "format": "date-time"},
                       "Only renders created after this time (ISO 8601 with a time zone; "
                       "exclusive)"),
                 Param("createdBefore", {"type": "string", "format": "date-time"},
                       "Only renders created before this time (exclusive)"))
"""The query of GET /v1/renders, read by renders_query."""


def limit_param(value: str, high: int = RANGES["limit"][1]) -> int:
    """The `limit` query parameter: ASCII digits only (str.isdigit also passes "²" and "١")."""
    low = RANGES["limit"][0]
    if not (value.isascii() and value.isdigit() and len(value) <= 10
            and low <= int(value) <= high):
        raise errors.InvalidRequest(f"limit must be a whole number from {low} to {high}, not "
                                    f"{errors.shorten(value)}",
                                    field_errors={"limit": [f"Must be from {low} to {high}"]})
    return int(value)


def page_params(query: QueryParams, maximum: int) -> tuple[int, str]:
    """`limit` (0 when absent: the list's default) and `cursor` (empty: the first page). A cursor
    is unpadded base64url made by the list itself; its content is checked where it is read."""
    limit = limit_param(query["limit"], maximum) if "limit" in query else 0
    cursor = query.get("cursor", "")
    if len(cursor) > MAX_CURSOR_CHARS or not _CURSOR(cursor):
        raise errors.InvalidRequest("cursor is not one this list gave: pass nextCursor from the "
                                    "previous page unchanged",
                                    field_errors={"cursor": ["Invalid cursor"]})
    return limit, cursor


def renders_query(query: QueryParams) -> dict:
    """The filters of GET /v1/renders, as ListRendersRequest fields: `status` (one of the five),
    `template` (a slug), `createdAfter` and `createdBefore` (ISO 8601 with a time zone, as the
    API shows times; both exclusive), `limit` (1 to 100, default 20) and `cursor`."""
    limit, cursor = RENDERS_PAGE.read(query)
    fields: dict = {"limit": limit, "cursor": cursor}
    if "status" in query:
        if query["status"] not in renders.STATUS:
            raise errors.InvalidRequest(
                f"status must be one of {', '.join(renders.STATUS)}, not "
                f"{errors.shorten(query['status'])}", field_errors={"status": ["Unknown status"]})
        fields["status"] = renders.STATUS[query["status"]]
    if "template" in query:
        fields["template_slug"] = inputs.check_text(query["template"], "template",
                                                    limit=MAX_CHARS["slug"], required=True)
    for name, field, rounding in (("createdAfter", "created_after_ms", math.floor),
                                  ("createdBefore", "created_before_ms", math.ceil)):
        if name in query:
            fields[field] = _epoch_ms(query[name], name, rounding)
    return fields


def _epoch_ms(value: str, name: str, rounding) -> int:
    """An ISO 8601 time with its zone, in epoch ms (rounded so that a bound between two
    milliseconds keeps its meaning: after rounds down, before rounds up)."""
    example = "2026-06-05T10:00:00.000Z"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise errors.InvalidRequest(
            f"{name} must be an ISO 8601 time like {example}, not {errors.shorten(value)}",
            field_errors={name: ["Invalid ISO 8601 time"]}) from None
    if moment.tzinfo is None:
        raise errors.InvalidRequest(f"{name} needs a time zone: end it with Z, like {example}",
                                    field_errors={name: ["Missing time zone"]})
    epoch_ms = rounding((moment - EPOCH) / timedelta(milliseconds=1))
    if epoch_ms <= 0:
        raise errors.InvalidRequest(f"{name} must be after 1970-01-01T00:00:00.000Z",
                                    field_errors={name: ["Out of range"]})
    cursors.moment(epoch_ms, name)  # up to year 9999 in UTC, as the status service takes it
    return epoch_ms


_UUID = {"type": "string", "format": "uuid"}
_TOKEN = {"type": "string", "minLength": 1, "maxLength": MAX_CHARS["token"]}
PATH_PARAMS = {
    "slug": Param("slug", {"type": "string", "pattern": f"^{SLUG_PATTERN.pattern}$",
                           "maxLength": MAX_CHARS["slug"]}, "The template's slug", "path"),
    "number": Param("number", {"type": "integer", "minimum": RANGES["number"][0],
                               "maximum": RANGES["number"][1]}, "The version's number", "path"),
    "name": Param("name", {"type": "string", "pattern": f"^{ASSET_NAME.pattern}$",
                           "maxLength": MAX_CHARS["name"]},
                  "The asset's name, as the layout refers to it", "path"),
    "id": Param("id", _UUID, "The resource's id", "path"),
    "delivery": Param("delivery", _UUID, "The delivery's id", "path"),
    "link": Param("link", _UUID, "The share link's id", "path"),
    "share": Param("share", _TOKEN, "The share link's token (the last part of its url)", "path"),
    "hook": Param("hook", _UUID, "The inbound hook's id (from its url)", "path"),
    "token": Param("token", _TOKEN, "The inbound hook's token (the last part of its url)",
                   "path"),
}
"""Every path parameter a route may have, as check_path checks it."""


def check_path(params: dict[str, object]) -> None:
    """Checks (and normalises, for ids) a route's path parameters before any handler sees them.
    A segment that cannot name anything here is 404: an `id`, `delivery` or share `link` that is
    not a UUID, a `share` token of the wrong shape; a `hook` id or `token` of the wrong shape is
    401, like any unknown hook URL. One of the right
    kind out of range is 400 invalid_request naming it: a version `number` of 0 or 2**31 and
    more, a slug or asset name too long or with control characters (inputs.check_text).
    Non-digit numbers never reach here: the route does not match, so they are 404 too."""
    for name, value in params.items():
        if name == "number":
            params[name] = _version_number(value)
        elif name in ("id", "delivery", "link"):
            params[name] = _uuid(value, name)
        elif name == "share":
            if len(value) > MAX_CHARS["token"] or inputs.CONTROL.search(value):
                raise errors.NotFound("no such share link")
        elif name in ("hook", "token"):
            if len(value) > MAX_CHARS["token"] or inputs.CONTROL.search(value) or (
                    name == "hook" and inputs.canonical_uuid(value) is None):
                raise errors.Unauthorized(BAD_HOOK_URL)
        else:
            inputs.check_text(value, name, limit=MAX_CHARS.get(name, MAX_CHARS["name"]),
                              required=False)


def _version_number(value: str) -> int:
    low, high = RANGES["number"]
    if not _INTEGER(value):
        raise errors.NotFound(f"no version {errors.shorten(value)}: versions are numbered 1, 2, …")
    digits = value.lstrip("-0")
    if len(digits) > 10 or not low <= int(value) <= high:  # int() of 5,000 digits would raise
        raise errors.InvalidRequest(f"the version number in the path must be from {low} to {high}",
                                    field_errors={"number": [f"Must be from {low} to {high}"]})
    return int(value)


def _uuid(value: str, name: str) -> str:
    normal = inputs.canonical_uuid(value)
    if normal is None:
        what = {"delivery": "delivery", "link": "share link"}.get(name, "resource")
        raise errors.NotFound(f"no {what} with id "
                              f"{errors.shorten(value)} (ids are UUIDs)")
    return normal

