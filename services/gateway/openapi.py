"""The OpenAPI 3.1 document of REST v1 (`GET /v1/openapi.json`) and its rendered reference
(`/docs`, Swagger UI from the swagger-ui-py package, served by the gateway itself).

The document is built from what the gateway runs with, never kept by hand: the routes
(routes/__init__.py: method, path, scope, idempotent, and each route's Doc), the request
Shapes and parameters that requests.py checks with, the view schemas of views.py, and the error
codes of craftkit.errors with their HTTP statuses. tests/unit/test_openapi.py fails when a route
has no operation or an operation no route, and checks the document against the OpenAPI 3.1
schema. It is built once per app (it depends only on PUBLIC_BASE_URL, for `servers`).
"""

from __future__ import annotations

import hashlib
import json
import re
from importlib import resources

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from craftkit import errors, inputs
from services.gateway import requests, views
from services.gateway.auth import SCOPES
from services.gateway.idempotency import HEADER, NOT_STORED, REPLAYED
from services.gateway.requests import Media, Param, Shape
from services.gateway.routes import ApiRoute, Doc, PublicRoute
from services.webhooks import signing
from services.webhooks.endpoints import EVENTS

VERSION = "1.0.0"
UNDOCUMENTED = ("/v1/openapi.json", "/docs", "/dashboard")
"""Paths (and what lies under them) that serve the documentation or the dashboard, not the API:
the only routes the document leaves out."""
CACHE_SECONDS = 300
"""How long a client or proxy may keep the document without asking again (then the ETag)."""
ERROR_CLASSES = {cls.code: cls for cls in errors.ApiError.__subclasses__()}
AUTH_CODES = ("unauthorized", "insufficient_scope", "rate_limited", "unavailable")
"""What any route with an API key may answer: no or a bad key, a key without the scope, the
project's rate limit (or a client address's failed keys), a backend away."""
BODY_CODES = ("invalid_json", "invalid_request", "payload_too_large", "request_timeout")
IDEMPOTENCY_CODES = ("invalid_request", "idempotency_key_in_use", "idempotency_key_reused")
PATH_CODES = {"id": ("not_found",), "delivery": ("not_found",), "link": ("not_found",),
              "share": ("not_found",), "number": ("not_found", "invalid_request"),
              "slug": ("invalid_request",), "name": ("invalid_request",),
              "hook": ("unauthorized",), "token": ("unauthorized",)}
"""What requests.check_path answers for each path parameter that names nothing."""
UNROUTED = "not_found"
"""What the router answers before any handler when a path parameter cannot be routed: one with
a `/` (also as %2F) or a line break in it matches no route ("no route for GET ...")."""
STATUS_TEXT = {200: "OK", 201: "Created", 202: "Accepted", 206: "Partial content",
               304: "Not modified: the PDF is the one If-None-Match names",
               416: "Range not satisfiable: the range starts past the PDF's end",
               400: "The request is wrong: the message says what to fix",
               401: "No valid credential", 403: "The key's scopes do not cover this route",
               404: "Nothing of this project by that name", 408: "The body did not all arrive "
               "in time", 409: "Not now, or not in this state", 410: "Gone",
               413: "The body is too large", 422: "The Idempotency-Key was used for another "
               "request", 429: "Too many requests: retry after Retry-After seconds",
               503: "A backend is unavailable: retry with backoff after Retry-After seconds"}
PATH_PARAM = re.compile(r"{(\w+)}")


def status_of(code: str) -> int:
    """The HTTP status craftkit.errors gives the error `code`."""
    return errors.http_status(ERROR_CLASSES[code]("")) if code != "rate_limited" else 429


def error_codes(route: ApiRoute | PublicRoute) -> dict[int, list[str]]:
    """Every error code `route` may answer, by HTTP status: those of its kind (a key, path
    parameters, a body, an Idempotency-Key) and those its Doc names."""
    doc, codes = route.doc, []
    if isinstance(route, ApiRoute):
        codes += AUTH_CODES
        if route.idempotent:
            codes += IDEMPOTENCY_CODES
    for name in PATH_PARAM.findall(route.path):
        codes += PATH_CODES[name]
    if PATH_PARAM.search(route.path):
        codes.append(UNROUTED)
    if isinstance(doc.body, Shape):
        codes += BODY_CODES
    elif isinstance(doc.body, Media):
        codes += ("payload_too_large", "request_timeout")
    if doc.query:
        codes.append("invalid_request")
    codes += doc.errors
    by_status: dict[int, list[str]] = {}
    for code in dict.fromkeys(codes):
        by_status.setdefault(status_of(code), []).append(code)
    return dict(sorted(by_status.items()))


def document(public: list[BaseRoute], api: list[BaseRoute], base_url: str) -> dict:
    """The OpenAPI 3.1 document of these routes, served at `base_url`."""
    paths: dict[str, dict] = {}
    for route in [*public, *api]:
        if isinstance(route, (ApiRoute, PublicRoute)):
            for method in sorted(route.methods - {"HEAD"}):
                paths.setdefault(route.path, {})[method.lower()] = operation(route)
                if _binary(route.doc):
                    paths[route.path]["head"] = {**operation(route),
                                                 "operationId": f"{route.operation_id}_head",
                                                 "summary": route.doc.summary + " (headers only)"}
    schemas = {**views.SCHEMAS, **_request_schemas([*public, *api])}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Craftkit REST API", "version": VERSION, "description": DESCRIPTION,
                 "license": {"name": "Proprietary", "identifier": "LicenseRef-Craftkit"}},
        "servers": [{"url": base_url}],
        "tags": [{"name": name} for name in sorted({_tag(r) for r in [*public, *api]
                                                    if hasattr(r, "doc")})],
        "paths": paths,
        "webhooks": {"renderEvent": WEBHOOK},
        "components": {"schemas": {**schemas, "RenderEvent": RENDER_EVENT},
                       "securitySchemes": {"apiKey": {
            "type": "http", "scheme": "bearer", "bearerFormat": "ck_live_…",
            "description": "An API key of the project: `Authorization: Bearer ck_live_…`. Its "
                           "scopes nest: full ⊇ render ⊇ download."}}},
    }


_EVENT_FIELDS = {
    "event": {"type": "string", "enum": list(EVENTS)},
    "renderId": views.UUID, "templateId": views.UUID,
    "status": {"type": "string", "enum": ["succeeded", "failed", "cancelled"]},
    "downloadUrl": {"type": ["string", "null"], "format": "uri"},
    "errorMessage": {"type": ["string", "null"]},
    "createdAt": views.TIME, "completedAt": views.OPTIONAL_TIME,
}
RENDER_EVENT = {"type": "object", "required": list(signing.PAYLOAD_FIELDS),
                "properties": {name: _EVENT_FIELDS[name] for name in signing.PAYLOAD_FIELDS},
                "additionalProperties": False,
                "example": {"event": "render.succeeded",
                            "renderId": "0193c2c3-5a1e-7c4b-9e1d-2f3a4b5c6d7e",
                            "templateId": "1f2e3d4c-5b6a-4798-8a9b-0c1d2e3f4a5b",
                            "status": "succeeded",
                            "downloadUrl": "https://cdn.craftkit.dev/renders/0193c2c3.pdf",
                            "errorMessage": None, "createdAt": "2026-05-03T10:14:00.000Z",
                            "completedAt": "2026-05-03T10:14:00.150Z"}}
"""The body services/webhooks/signing.py sends (exactly PAYLOAD_FIELDS, in that order)."""
_SIGNATURE = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
WEBHOOK = {"post": {
    "summary": "A render reached a terminal status",
    "description": "POSTed to each endpoint subscribed to the event (POST /v1/webhooks), "
                   "retried with backoff until it answers 2xx. Verify "
                   "`x-craftkit-signature-v2` = hex HMAC-SHA256(secret, \"<timestamp>.<raw "
                   "body>\") and refuse stale timestamps; `x-craftkit-signature` = hex "
                   "HMAC-SHA256(secret, raw body) is the seeds' scheme. While a rotation "
                   "overlaps, the `-previous` headers carry the same with the old secret.",
    "parameters": [
        {"name": "x-craftkit-event", "in": "header", "required": True,
         "schema": {"type": "string", "enum": list(EVENTS)}},
        {"name": "x-craftkit-delivery-id", "in": "header", "required": True,
         "description": "The same on every attempt of one delivery", "schema": views.UUID},
        {"name": "x-craftkit-timestamp", "in": "header", "required": True,
         "description": "Unix seconds of this attempt", "schema": {"type": "string"}},
        *({"name": name, "in": "header", "required": not name.endswith("-previous"),
           "schema": _SIGNATURE} for name in (
               "x-craftkit-signature", "x-craftkit-signature-v2",
               "x-craftkit-signature-previous", "x-craftkit-signature-v2-previous"))],
    "requestBody": {"required": True, "content": {"application/json": {
        "schema": views.ref("RenderEvent")}}},
    "responses": {"2XX": {"description": "Received: not sent again"},
                  "default": {"description": "Sent again later, with backoff"}},
}}
"""The outgoing webhook (OpenAPI 3.1's `webhooks`): what a receiver gets."""


def operation(route: ApiRoute | PublicRoute) -> dict:
    doc = route.doc
    op: dict = {"operationId": route.operation_id, "summary": doc.summary,
                "tags": [_tag(route)], "parameters": _parameters(route)}
    description = doc.description
    if isinstance(route, ApiRoute):
        wider = "" if route.scope == "full" else " (or a wider one)"
        op["security"] = [{"apiKey": [route.scope]}]
        description = (f"{description}\n\n" if description else "") + \
            f"Needs an API key with the `{route.scope}` scope{wider}."
    else:
        op["security"] = []
    if description:
        op["description"] = description
    if doc.body is not None:
        op["requestBody"] = _request_body(doc)
    op["responses"] = _responses(route)
    return op


def _tag(route) -> str:
    module = route.endpoint.__module__.rsplit(".", 1)[-1]
    return module.replace("_", " ")


def _binary(doc: Doc) -> bool:
    """Whether the route answers a file (whose HEAD is documented too)."""
    return any(isinstance(a, tuple) and a for a in doc.answers.values()) and \
        not isinstance(doc.body, (Shape, Media))


def _param(p: Param) -> dict:
    return {"name": p.name, "in": p.where, "required": p.where == "path",
            "description": p.doc, "schema": p.schema}


def _parameters(route: ApiRoute | PublicRoute) -> list[dict]:
    params = [_param(requests.PATH_PARAMS[name]) for name in PATH_PARAM.findall(route.path)]
    if "{id}" in route.path:  # say whose: the path's segment before it, "renders" -> "render"
        whose = route.path.split("/{id}")[0].rsplit("/", 1)[-1].removesuffix("s")
        next(p for p in params if p["name"] == "id")["description"] = \
            f"The {whose.replace('-', ' ')}'s id"
    params += [_param(p) for p in (*route.doc.query, *route.doc.headers)]
    if getattr(route, "idempotent", False):
        params.append({"name": "Idempotency-Key", "in": "header", "required": False,
                       "description": "Any 1 to 255 printable ASCII characters (a UUID): the "
                                      "first answer is stored for 24 h and replayed to a retry "
                                      "of the same request with the same key "
                                      "(Idempotent-Replayed: true)",
                       "schema": {"type": "string",
                                  "pattern": f"^{inputs.IDEMPOTENCY_KEY.pattern}$"},
                       "example": "0b9c1a56-7c1e-4c1f-9a6e-3f2d1c0b9a8e"})
    return params


def shape_schema(shape: Shape) -> dict:
    """The JSON Schema of what Shape.check accepts (and what the route's own checks add)."""
    properties = {}
    for key, f in shape.fields.items():
        prop = {**_kind_schema(key, f.kind), **f.schema, "description": f.doc}
        if f.shape is not None:
            prop.update(shape_schema(f.shape))
            prop["description"] = f.doc
        properties[key] = prop
    body: dict = {"type": "object", "properties": properties}
    if shape.fields:
        body["additionalProperties"] = False
    required = [key for key, f in shape.fields.items() if f.required]
    if required:
        body["required"] = required
    if shape.doc:
        body["description"] = shape.doc
    if shape.example is not None:
        body["example"] = shape.example
    return body


def _kind_schema(key: str, kind: type) -> dict:
    """The type and bounds `_shape` checks: MAX_CHARS for strings, RANGES for integers."""
    schema: dict = {"type": requests.json_type(kind)}
    if kind is str and key in requests.MAX_CHARS:
        schema["maxLength"] = requests.MAX_CHARS[key]
    if kind is int and key in requests.RANGES:
        schema["minimum"], schema["maximum"] = requests.RANGES[key]
    return schema


def _request_schemas(routes: list[BaseRoute]) -> dict:
    shapes = [r.doc.body for r in routes if isinstance(getattr(r, "doc", None), Doc)
              and isinstance(r.doc.body, Shape)]
    return {shape.name: shape_schema(shape) for shape in shapes}


def _request_body(doc: Doc) -> dict:
    if isinstance(doc.body, Media):
        return {"required": True, "description": doc.body.description,
                "content": {"*/*": {"schema": {"type": "string",
                                               "contentMediaType": "application/octet-stream"}}}}
    required = any(f.required for f in doc.body.fields.values()) or not doc.body.fields
    return {"required": required or not doc.body_optional,
            "content": {"application/json": {"schema": views.ref(doc.body.name)}}}


def _responses(route: ApiRoute | PublicRoute) -> dict:
    doc, answers = route.doc, {}
    for status, answer in sorted(doc.answers.items()):
        response: dict = {"description": STATUS_TEXT.get(status, "OK")}
        if isinstance(answer, str):
            response["content"] = {"application/json": {"schema": views.ref(answer)}}
        elif answer:
            response["description"] = " or ".join(m.description for m in answer)
            response["content"] = {m.type: {"schema": {"type": "string",
                                                        "contentMediaType": m.type}}
                                   for m in answer}
            response["headers"] = {"Content-Disposition": {"schema": {"type": "string"}}}
        if status < 300:
            response.setdefault("headers", {})
            if status == 202 and doc.answers.get(202) == views.RENDER_CREATED:
                response["headers"]["Location"] = {"description": "The pollUrl",
                                                   "schema": {"type": "string"}}
            if doc.links:
                response["links"] = {name: {"operationId": target, "parameters": params}
                                     for name, (target, params) in doc.links.items()}
            if not response["headers"]:
                del response["headers"]
        answers[str(status)] = response
    for status, codes in error_codes(route).items():
        answers[str(status)] = _error_response(status, codes)
    if isinstance(doc.body, Shape) and doc.body.fields:
        example = _refusal(doc.body)
        answers["400"]["content"]["application/json"]["example"] = example
    if getattr(route, "idempotent", False):
        for status, response in answers.items():
            if int(status) < 500 and int(status) not in NOT_STORED:
                response.setdefault("headers", {})["Idempotent-Replayed"] = REPLAYED_HEADER
    return answers


REPLAYED_HEADER = {"description": "true when this is the stored answer to an earlier request "
                                  "with the same Idempotency-Key (2xx and 4xx answers are stored, "
                                  "but 408 and 429)",
                   "schema": {"type": "string", "enum": ["true"]}}


def _refusal(shape: Shape) -> dict:
    """The gateway's own answer to a body with a key `shape` does not take."""
    try:
        shape.check({"colour": "red"})
    except errors.InvalidRequest as refused:
        return refused.body()
    raise AssertionError(f"{shape.name} takes any key")


def _error_response(status: int, codes: list[str]) -> dict:
    schema = {"allOf": [views.ref(views.ERROR), {"properties": {"error": {"properties": {
        "code": {"enum": codes}}}}}]}
    response: dict = {"description": f"{STATUS_TEXT.get(status, 'Error')}: "
                                     + ", ".join(f"`{c}`" for c in codes),
                      "content": {"application/json": {"schema": schema, "example": {
                          "error": {"code": codes[0], "message": EXAMPLES.get(codes[0], "…")}}}}}
    if status in (429, 503):
        response["headers"] = {"Retry-After": {
            "description": "Seconds to wait before retrying", "schema": {"type": "integer",
                                                                         "minimum": 1}}}
    return response


EXAMPLES = {
    "unauthorized": "send your API key as 'Authorization: Bearer ck_live_…'",
    "insufficient_scope": "this API key's scopes (download) do not include 'render', which "
                          "this route needs; use a key with the 'render' or 'full' scope",
    "rate_limited": "over 50 requests a second for this project; back off with jitter and "
                    "retry in 0.02s",
    "unavailable": "a backend service is unavailable; retry with backoff",
    "invalid_json": "request body is not valid JSON (Expecting value: line 1 column 1 (char "
                    "0)); send a JSON object with Content-Type: application/json",
    "invalid_request": "limit must be a whole number from 1 to 100, not '0'",
    "not_found": "no render with id '0193c2c3-5a1e-7c4b-9e1d-2f3a4b5c6d7e' in this project",
    "template_not_found": "no template with slug 'invoice' in this project",
    "payload_too_large": "request body is over the 1048576-byte limit",
}
"""Example messages of the error responses (the gateway's own wording)."""

DESCRIPTION = f"""\
Craftkit renders PDFs from templates: POST JSON data to a template, get `202` with a `pollUrl`,
and download the PDF once the render has succeeded (or subscribe a webhook).

**Authentication.** Every `/v1` route but inbound hooks takes an API key of the project:
`Authorization: Bearer ck_live_…`. Scopes nest, {' ⊇ '.join(SCOPES)}; each operation names the
scope it needs, and a key without it gets `403 insufficient_scope`. Anything of another project
is `404`, never `403`.

**Errors** come in one envelope, `{{"error": {{"code", "message", "issues"?}}}}`: `code` is stable
(each operation lists the codes it may answer by status), `message` says what to fix, `issues`
(`formErrors`, `fieldErrors` by dotted path) details validation errors. A method a path does not
have is `405 method_not_allowed`; an unknown path `404 not_found`; `500 internal` is a bug.

**Idempotency.** The POSTs that create something take an `{HEADER.title()}` header: the first
answer is stored for 24 h and replayed to a retry with the same key and the same request, with
`{REPLAYED.title()}: true`; the same key with another request is `422
idempotency_key_reused`, and while the first still runs `409 idempotency_key_in_use`.

**Rate limits** are per project (and per client address for failed keys, hooks and share
links): `429 rate_limited` with `Retry-After` in seconds. `503 unavailable` carries
`Retry-After` too.

**Lists** are paged: pass `nextCursor` as `cursor` until it is null.
"""

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'")
"""/docs runs only the gateway's own scripts and fetches only from the gateway (Swagger UI sets
inline styles, hence 'unsafe-inline' for styles alone)."""
DOCS_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Craftkit REST API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
<link rel="icon" href="/docs/assets/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
"""
DOCS_JS = """window.ui = SwaggerUIBundle({
  url: "/v1/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
"""
"""Swagger UI's start, a file of its own (the CSP allows no inline script); validatorUrl null:
no badge fetched from outside."""
ASSETS = resources.files("swagger_ui") / "static"
SERVED_ASSETS = frozenset({"swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"})
"""The files of ASSETS that DOCS_HTML loads: the only ones served. The package also holds
Swagger UI's own pages (oauth2-redirect.html runs inline script, so on the gateway's origin
without /docs' CSP; swagger-initializer.js fetches a document from outside) and the editor."""


class DocsAssets(StaticFiles):
    """SERVED_ASSETS, each with nosniff; anything else under /docs/assets is 404."""

    async def get_response(self, path: str, scope) -> Response:
        if path not in SERVED_ASSETS:
            raise HTTPException(status_code=404)  # answered as any unknown path
        response = await super().get_response(path, scope)
        response.headers["x-content-type-options"] = "nosniff"
        return response


def routes(public: list[BaseRoute], api: list[BaseRoute], base_url: str) -> list[BaseRoute]:
    """The routes serving the document of `public` and `api`, and /docs."""
    body = json.dumps(document(public, api, base_url), ensure_ascii=False, indent=1).encode()
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    cached = {"etag": etag, "cache-control": f"public, max-age={CACHE_SECONDS}"}

    async def openapi_json(request: Request) -> Response:
        if _matches(request.headers.get("if-none-match", ""), etag):
            return Response(status_code=304, headers=cached)
        return Response(body, media_type="application/json", headers=cached)

    async def docs(request: Request) -> Response:
        return Response(DOCS_HTML, media_type="text/html", headers={
            "content-security-policy": CONTENT_SECURITY_POLICY, "cache-control": "no-cache",
            "x-content-type-options": "nosniff", "referrer-policy": "no-referrer"})

    async def docs_js(request: Request) -> Response:
        return Response(DOCS_JS, media_type="text/javascript",
                        headers={"x-content-type-options": "nosniff"})

    async def to_docs(request: Request) -> Response:
        return RedirectResponse("/docs/", status_code=308)

    return [Route("/v1/openapi.json", openapi_json, methods=["GET"]),
            Route("/docs", to_docs, methods=["GET"]),
            Route("/docs/", docs, methods=["GET"]),
            Route("/docs/init.js", docs_js, methods=["GET"]),
            Mount("/docs/assets", DocsAssets(directory=str(ASSETS)))]


def _matches(header: str, etag: str) -> bool:
    """Whether If-None-Match names `etag` (weakly, as RFC 9110 compares for GET) or is *."""
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return etag in tags or "*" in tags
