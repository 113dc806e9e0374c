"""TemplateService: templates, their immutable versions, and which version is published."""

from __future__ import annotations

import hashlib
import io
import json
import re

import psycopg
from psycopg_pool import AsyncConnectionPool
from uuid6 import uuid7

from craftkit import errors
from craftkit.layout import lint
from craftkit.manifest import Manifest
from craftkit.timefmt import ms
from craftkit.v1 import templates_pb2, templates_pb2_grpc

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
FILENAME = re.compile(r"^[^/\\\x00-\x1f\x7f]{1,200}$")


def check_filename(value: str, error=errors.InvalidRequest) -> str:
    """A safe object name: no path separators or control characters; `.pdf` is appended if
    missing."""
    if not FILENAME.match(value) or value in (".", ".."):
        raise error(f"filename {value!r} must be 1 to 200 characters without '/', '\\' or "
                    "control characters")
    return value if value.lower().endswith(".pdf") else value + ".pdf"


def template_proto(row: dict, versions: list[dict] = ()) -> templates_pb2.Template:
    return templates_pb2.Template(
        id=str(row["id"]), project_id=str(row["project_id"]), slug=row["slug"], name=row["name"],
        default_filename=row["default_filename"], published_version=row["published_version"] or 0,
        created_at_ms=ms(row["created_at"]), versions=[version_proto(v) for v in versions])


def version_proto(row: dict) -> templates_pb2.TemplateVersion:
    return templates_pb2.TemplateVersion(
        number=row["number"], manifest_json=row["manifest"], layout_json=row["layout"],
        published=row["published_at"] is not None, created_at_ms=ms(row["created_at"]),
        published_at_ms=ms(row["published_at"]))


VERSION_COLUMNS = "number, manifest::text AS manifest, layout::text AS layout, created_at, published_at"


class TemplateService(templates_pb2_grpc.TemplateServiceServicer):
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def _template(self, conn, project_id: str, slug: str, *, lock: bool = False) -> dict:
        cur = await conn.execute(
            "SELECT * FROM templates WHERE project_id = %s AND slug = %s"
            + (" FOR UPDATE" if lock else ""), (project_id, slug))
        row = await cur.fetchone()
        if row is None:
            raise errors.TemplateNotFound(f"no template with slug {slug!r} in this project")
        return row

    async def CreateTemplate(self, request, context):
        if not SLUG.match(request.slug):
            raise errors.InvalidRequest(
                "slug must be 1 to 63 lowercase letters, digits or '-', starting with a letter "
                "or digit", field_errors={"slug": ["Invalid slug"]})
        filename = check_filename(request.default_filename or f"{request.slug}.pdf")
        async with self.pool.connection() as conn:
            try:
                cur = await conn.execute(
                    "INSERT INTO templates (id, project_id, slug, name, default_filename) "
                    "VALUES (%s, %s, %s, %s, %s) RETURNING *",
                    (uuid7(), request.project_id, request.slug, request.name or request.slug,
                     filename))
            except psycopg.errors.UniqueViolation:
                raise errors.TemplateExists(f"a template with slug {request.slug!r} exists") from None
            return template_proto(await cur.fetchone())

    async def GetTemplate(self, request, context):
        async with self.pool.connection() as conn:
            row = await self._template(conn, request.project_id, request.slug)
            cur = await conn.execute(f"SELECT {VERSION_COLUMNS} FROM template_versions "
                                     "WHERE template_id = %s ORDER BY number", (row["id"],))
            return template_proto(row, await cur.fetchall())

    async def ListTemplates(self, request, context):
        async with self.pool.connection() as conn:
            cur = await conn.execute("SELECT * FROM templates WHERE project_id = %s ORDER BY slug",
                                     (request.project_id,))
            rows = await cur.fetchall()
        return templates_pb2.ListTemplatesResponse(templates=[template_proto(r) for r in rows])

    async def AddVersion(self, request, context):
        manifest, layout = _json(request.manifest_json, "manifest"), _json(request.layout_json, "layout")
        compiled = Manifest.parse(manifest)
        async with self.pool.connection() as conn, conn.transaction():
            template = await self._template(conn, request.project_id, request.slug, lock=True)
            cur = await conn.execute("SELECT name FROM template_assets WHERE template_id = %s",
                                     (template["id"],))
            lint(layout, compiled, assets={row["name"] for row in await cur.fetchall()})
            cur = await conn.execute(
                "INSERT INTO template_versions (template_id, number, manifest, layout) "
                "SELECT %s, coalesce(max(number), 0) + 1, %s, %s FROM template_versions "
                f"WHERE template_id = %s RETURNING {VERSION_COLUMNS}",
                (template["id"], json.dumps(manifest), json.dumps(layout), template["id"]))
            return version_proto(await cur.fetchone())

    async def PublishVersion(self, request, context):
        async with self.pool.connection() as conn, conn.transaction():
            template = await self._template(conn, request.project_id, request.slug, lock=True)
            cur = await conn.execute(
                "UPDATE template_versions SET published_at = coalesce(published_at, "
                "date_trunc('milliseconds', now())) WHERE template_id = %s AND number = %s "
                "RETURNING number", (template["id"], request.number))
            if await cur.fetchone() is None:
                raise errors.VersionNotFound(
                    f"template {request.slug!r} has no version {request.number}")
            cur = await conn.execute("UPDATE templates SET published_version = %s WHERE id = %s "
                                     "RETURNING *", (request.number, template["id"]))
            row = await cur.fetchone()
            cur = await conn.execute(f"SELECT {VERSION_COLUMNS} FROM template_versions "
                                     "WHERE template_id = %s ORDER BY number", (row["id"],))
            return template_proto(row, await cur.fetchall())


    async def GetVersionSchema(self, request, context):
        async with self.pool.connection() as conn:
            template = await self._template(conn, request.project_id, request.slug)
            cur = await conn.execute("SELECT manifest::text AS manifest FROM template_versions "
                                     "WHERE template_id = %s AND number = %s",
                                     (template["id"], request.number))
            row = await cur.fetchone()
        if row is None:
            raise errors.VersionNotFound(f"template {request.slug!r} has no version {request.number}")
        manifest = Manifest.parse(json.loads(row["manifest"]))
        example = manifest.example()
        return templates_pb2.VersionSchema(
            number=request.number,
            schema_json=json.dumps(manifest.json_schema(f"{template['name']} v{request.number}")),
            example_json=json.dumps(example),
            curl=curl_line(request.api_base_url, request.slug, request.number, example))


    async def PutAsset(self, request, context):
        if not ASSET_NAME.match(request.name):
            raise errors.InvalidRequest(
                "asset names are 1 to 100 letters, digits, '.', '_' or '-', starting with a "
                "letter or digit (e.g. logo.png)")
        content_type, width, height = image_facts(request.data)
        digest = hashlib.sha256(request.data).hexdigest()
        async with self.pool.connection() as conn:
            template = await self._template(conn, request.project_id, request.slug)
            cur = await conn.execute(
                f"INSERT INTO template_assets (template_id, name, content_type, sha256, data, "
                f"width, height) VALUES (%s, %s, %s, %s, %s, %s, %s) "
                f"ON CONFLICT (template_id, name) DO NOTHING RETURNING {ASSET_COLUMNS}",
                (template["id"], request.name, content_type, digest, request.data, width, height))
            row = await cur.fetchone()
            if row is None:
                cur = await conn.execute(f"SELECT {ASSET_COLUMNS} FROM template_assets "
                                         "WHERE template_id = %s AND name = %s",
                                         (template["id"], request.name))
                row = await cur.fetchone()
                if row["sha256"] != digest:
                    raise errors.AssetExists(
                        f"asset {request.name!r} exists with other content; assets are "
                        "write-once (versions that show them never change): use a new name")
        return asset_proto(row)

    async def ListAssets(self, request, context):
        async with self.pool.connection() as conn:
            template = await self._template(conn, request.project_id, request.slug)
            cur = await conn.execute(f"SELECT {ASSET_COLUMNS} FROM template_assets "
                                     "WHERE template_id = %s ORDER BY name", (template["id"],))
            rows = await cur.fetchall()
        return templates_pb2.ListAssetsResponse(assets=[asset_proto(r) for r in rows])

    async def GetAssetData(self, request, context):
        async with self.pool.connection() as conn:
            cur = await conn.execute("SELECT name, sha256, data FROM template_assets "
                                     "WHERE template_id = %s AND name = %s",
                                     (request.template_id, request.name))
            row = await cur.fetchone()
        if row is None:
            raise errors.NotFound(f"no asset {request.name!r} for template {request.template_id}")
        return templates_pb2.AssetData(name=row["name"], sha256=row["sha256"], data=row["data"])


ASSET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
ASSET_COLUMNS = "name, content_type, sha256, length(data) AS size, width, height, created_at"


def asset_proto(row: dict) -> templates_pb2.Asset:
    return templates_pb2.Asset(
        name=row["name"], content_type=row["content_type"], sha256=row["sha256"],
        size=row["size"], width=row["width"], height=row["height"],
        created_at_ms=ms(row["created_at"]))


def image_facts(data: bytes) -> tuple[str, int, int]:
    """(content type, width, height) of a PNG or JPEG; InvalidRequest for anything else."""
    from PIL import Image, UnidentifiedImageError

    kinds = {"PNG": "image/png", "JPEG": "image/jpeg"}
    try:
        with Image.open(io.BytesIO(data)) as image:
            kind, size = image.format, image.size
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        kind = None
    if kind not in kinds:
        raise errors.InvalidRequest("an asset must be a PNG or JPEG image")
    return kinds[kind], size[0], size[1]


def curl_line(base: str, slug: str, number: int, example: dict) -> str:
    """A shell line that renders `example` with this version (the key comes from the env)."""
    body = json.dumps({"data": example, "options": {"versionNumber": number}},
                      ensure_ascii=False).replace("'", "'\\''")
    return (f"curl -X POST {base.rstrip('/')}/v1/templates/{slug}/render \\\n"
            f"  -H \"Authorization: Bearer $CRAFTKIT_API_KEY\" \\\n"
            f"  -H \"Content-Type: application/json\" \\\n"
            f"  -d '{body}'")


def _json(text: str, what: str) -> object:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise errors.InvalidTemplate(f"{what} is not valid JSON: {exc}",
                                     field_errors={what: ["Invalid JSON"]}) from None
