"""Templates, their versions (add, publish, schema) and their image assets."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from craftkit.v1 import templates_pb2
from services.gateway import previews, requests, views
from services.gateway.auth import caller
from services.gateway.requests import PDF, Media
from services.gateway.routes import RPC_TIMEOUT, api, dumps, read_json
from services.gateway.state import state


async def create_template(request: Request) -> JSONResponse:
    body = requests.template_request(await read_json(request))
    template = await state(request).backends.templates.CreateTemplate(
        templates_pb2.CreateTemplateRequest(
            project_id=caller(request).project_id, slug=body["slug"], name=body.get("name", ""),
            default_filename=body.get("defaultFilename", "")), timeout=RPC_TIMEOUT)
    return JSONResponse(views.template(template), status_code=201)


async def list_templates(request: Request) -> JSONResponse:
    """By slug, `limit` (1 to 100, default 100) at a time; nextCursor is null on the last page."""
    limit, cursor = requests.TEMPLATES_PAGE.read(request.query_params)
    reply = await state(request).backends.templates.ListTemplates(
        templates_pb2.ListTemplatesRequest(project_id=caller(request).project_id, limit=limit,
                                           cursor=cursor), timeout=RPC_TIMEOUT)
    return JSONResponse({"templates": [views.template(t, with_versions=False)
                                       for t in reply.templates],
                         "nextCursor": reply.next_cursor or None})


async def get_template(request: Request) -> JSONResponse:
    template = await state(request).backends.templates.GetTemplate(
        templates_pb2.GetTemplateRequest(project_id=caller(request).project_id,
                                         slug=request.path_params["slug"]),
        timeout=RPC_TIMEOUT)
    return JSONResponse(views.template(template))


async def add_version(request: Request) -> JSONResponse:
    body = requests.version_request(await read_json(request))
    version = await state(request).backends.templates.AddVersion(
        templates_pb2.AddVersionRequest(
            project_id=caller(request).project_id, slug=request.path_params["slug"],
            manifest_json=dumps(body["manifest"]), layout_json=dumps(body["layout"])),
        timeout=RPC_TIMEOUT)
    return JSONResponse(views.version(version), status_code=201)


async def publish_version(request: Request) -> JSONResponse:
    template = await state(request).backends.templates.PublishVersion(
        templates_pb2.PublishVersionRequest(
            project_id=caller(request).project_id, slug=request.path_params["slug"],
            number=request.path_params["number"]), timeout=RPC_TIMEOUT)
    return JSONResponse(views.template(template))


async def version_schema(request: Request) -> JSONResponse:
    gateway = state(request)
    reply = await gateway.backends.templates.GetVersionSchema(
        templates_pb2.GetVersionSchemaRequest(
            project_id=caller(request).project_id, slug=request.path_params["slug"],
            number=request.path_params["number"],
            api_base_url=gateway.settings.public_base_url), timeout=RPC_TIMEOUT)
    return JSONResponse({"number": reply.number, "schema": json.loads(reply.schema_json),
                         "example": json.loads(reply.example_json), "curl": reply.curl})


async def preview_version(request: Request) -> Response:
    """Any version, published or not, rendered at once (services/gateway/previews.py): the PDF,
    or page 1 as a PNG for `Accept: image/png`."""
    gateway, project = state(request), caller(request).project_id
    png = previews.wants_png(request.headers.get("accept", ""))
    gateway.preview_limiter.take(project)
    gateway.preview_time.check(project)
    data = requests.preview_request(await read_json(request))
    prepared = await gateway.backends.templates.PrepareVersionPreview(
        templates_pb2.PrepareVersionPreviewRequest(
            project_id=project, slug=request.path_params["slug"],
            number=request.path_params["number"], data_json=dumps(data)), timeout=RPC_TIMEOUT)
    async with gateway.previews.slot(), gateway.preview_time.spending(project):
        assets, total = {}, 0
        for name in prepared.asset_names:
            asset = await gateway.backends.templates.GetAssetData(
                templates_pb2.GetAssetDataRequest(template_id=prepared.template_id,
                                                  project_id=project, name=name),
                timeout=RPC_TIMEOUT)
            assets[name], total = asset.data, total + len(asset.data)
            previews.check_asset_bytes(total)
        content = await gateway.previews.render(prepared.layout_json, prepared.data_json, assets,
                                                png=png)
    media, name = ("image/png", "preview.png") if png else ("application/pdf", "preview.pdf")
    return Response(content, media_type=media, headers={
        "content-disposition": f'inline; filename="{name}"', "cache-control": "no-store",
        "vary": "Accept", "x-content-type-options": "nosniff"})


async def put_asset(request: Request) -> JSONResponse:
    gateway = state(request)
    data = await requests.read_body(request, gateway.settings.max_asset_bytes)
    asset = await gateway.backends.templates.PutAsset(
        templates_pb2.PutAssetRequest(project_id=caller(request).project_id,
                                      slug=request.path_params["slug"],
                                      name=request.path_params["name"], data=data),
        timeout=RPC_TIMEOUT)
    return JSONResponse(views.asset(asset), status_code=201)


async def list_assets(request: Request) -> JSONResponse:
    reply = await state(request).backends.templates.ListAssets(
        templates_pb2.ListAssetsRequest(project_id=caller(request).project_id,
                                        slug=request.path_params["slug"]),
        timeout=RPC_TIMEOUT)
    return JSONResponse({"assets": [views.asset(a) for a in reply.assets]})


async def get_asset(request: Request) -> Response:
    """An asset's bytes as uploaded (what `craftkit templates pull` writes back to a folder),
    as an attachment: an image or font a tenant uploaded is never shown as a page of ours."""
    asset = await state(request).backends.templates.GetAssetData(
        templates_pb2.GetAssetDataRequest(project_id=caller(request).project_id,
                                          slug=request.path_params["slug"],
                                          name=request.path_params["name"]), timeout=RPC_TIMEOUT)
    return Response(asset.data, media_type=asset.content_type, headers={
        "etag": f'"{asset.sha256}"', "cache-control": "private, no-cache",
        "content-disposition": "attachment", "x-content-type-options": "nosniff"})


TEMPLATE_LINKS = {
    "GetTemplate": ("get_template", {"slug": "$response.body#/slug"}),
    "AddVersion": ("add_version", {"slug": "$response.body#/slug"}),
    "ListAssets": ("list_assets", {"slug": "$response.body#/slug"}),
}
VERSION_LINKS = {
    "GetVersionSchema": ("version_schema", {"slug": "$request.path.slug",
                                            "number": "$response.body#/number"}),
    "PublishVersion": ("publish_version", {"slug": "$request.path.slug",
                                           "number": "$response.body#/number"}),
    "PreviewVersion": ("preview_version", {"slug": "$request.path.slug",
                                           "number": "$response.body#/number"}),
}
VERSION_ERRORS = ("template_not_found", "version_not_found")
PREVIEW_MEDIA = (PDF, Media("image/png", "Page 1 as a PNG, when the request's Accept is "
                                         "image/png"))

ROUTES = [
    api("POST", "/v1/templates", create_template, scope="full", idempotent=True,
        summary="Make a template", description="A template has versions; add one, then "
                                               "publish it to render.",
        body=requests.TEMPLATE, answers={201: views.TEMPLATE}, errors=("template_exists",),
        links=TEMPLATE_LINKS),
    api("GET", "/v1/templates", list_templates, scope="full", summary="List templates",
        query=requests.TEMPLATES_PAGE.params(), answers={200: views.TEMPLATE_LIST}),
    api("GET", "/v1/templates/{slug}", get_template, scope="full",
        summary="Get a template and its versions", answers={200: views.TEMPLATE},
        errors=("template_not_found",), links=TEMPLATE_LINKS),
    api("POST", "/v1/templates/{slug}/versions", add_version, scope="full", idempotent=True,
        summary="Add a version", description="Linted: a mistake is 400 invalid_template with "
                                             "issues.fieldErrors at its path. Not published.",
        body=requests.VERSION, answers={201: views.VERSION},
        errors=("template_not_found", "invalid_template"), links=VERSION_LINKS),
    api("POST", "/v1/templates/{slug}/versions/{number}/preview", preview_version, scope="full",
        summary="Preview a version",
        description="Any version, published or not, rendered at once and never stored: the "
                    "PDF, or page 1 as a PNG with `Accept: image/png`. Previews have their own "
                    "rate limit and time budget per project (429 with Retry-After).",
        headers=(requests.Param("Accept", {"type": "string", "enum": ["application/pdf",
                                                                      "image/png"]},
                                "image/png for page 1 as a PNG; anything else: the PDF",
                                "header"),),
        body=requests.PREVIEW, answers={200: PREVIEW_MEDIA},
        errors=(*VERSION_ERRORS, "invalid_input_data", "render_failed")),
    api("POST", "/v1/templates/{slug}/versions/{number}/publish", publish_version, scope="full",
        summary="Publish a version", description="Renders use it from now on.",
        answers={200: views.TEMPLATE}, errors=VERSION_ERRORS),
    api("GET", "/v1/templates/{slug}/versions/{number}/schema", version_schema, scope="full",
        summary="A version's JSON Schema, example body and curl line",
        answers={200: views.VERSION_SCHEMA}, errors=VERSION_ERRORS),
    api("PUT", "/v1/templates/{slug}/assets/{name}", put_asset, scope="full",
        summary="Upload an image or a font",
        description="The raw bytes (PNG, JPEG, TrueType/OpenType) at most MAX_ASSET_BYTES; "
                    "the layout refers to it by name. An asset is never replaced.",
        body=Media("application/octet-stream", "The file's bytes"),
        answers={201: views.ASSET},
        errors=("template_not_found", "invalid_asset", "asset_exists")),
    api("GET", "/v1/templates/{slug}/assets", list_assets, scope="full",
        summary="List a template's assets", answers={200: views.ASSET_LIST},
        errors=("template_not_found",)),
    api("GET", "/v1/templates/{slug}/assets/{name}", get_asset, scope="full",
        summary="Download an asset",
        description="The bytes as uploaded, with the content type found at upload and the "
                    "SHA-256 as ETag, as an attachment (what `craftkit templates pull` writes).",
        answers={200: tuple(Media(kind, f"The asset's bytes ({kind})")
                            for kind in ("image/png", "image/jpeg", "font/ttf", "font/otf"))},
        errors=("template_not_found", "not_found")),
]
