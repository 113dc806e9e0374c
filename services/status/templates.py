"""TemplateService: templates, their immutable versions, which version is published, and the
images and fonts (assets) their layouts use.

Everything a client sends is checked here before it reaches PostgreSQL, whoever calls: names and
slugs as whole strings (`$` would let "x\n" through), lengths, JSON via `craftkit.inputs`, and
images by their header and then a full decode, fonts parsed and embedded once in a capped child
process (craftkit.layout.uploads), so a file that cannot render is refused at upload.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import multiprocessing
import re
from concurrent.futures import TimeoutError as FutureTimeout
from functools import lru_cache

import pebble
import psycopg
from psycopg_pool import AsyncConnectionPool
from uuid6 import uuid7

from craftkit import cursor, errors, inputs
from craftkit.layout import image_assets, lint, uploads
from craftkit.manifest import Manifest
from craftkit.render_pool import start_child
from craftkit.timefmt import ms
from craftkit.v1 import templates_pb2, templates_pb2_grpc

# Matched with fullmatch: whole strings, so a trailing newline is refused too.
SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
FILENAME = re.compile(r"[^/\\\x00-\x1f\x7f\ud800-\udfff]{1,200}")
ASSET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
MAX_TEMPLATE_JSON = 512 * 1024
"""Characters of a version's manifest and layout JSON together."""
FONT_CHECKERS = 2
"""Processes checking uploaded fonts (each capped at uploads.CHECK_MEMORY_MB)."""
MAX_ASSET_SIDE = 10_000
"""Pixels on either side of an image: more than 700 dpi across the longest page there is."""


def check_filename(value: str, error=errors.InvalidRequest) -> str:
    """A safe object name: no path separators or control characters; `.pdf` is appended if
    missing."""
    if not FILENAME.fullmatch(value) or value in (".", ".."):
        raise error(f"filename {errors.shorten(value)} must be 1 to 200 characters without '/', "
                    "'\\' or control characters", field_errors={"filename": ["Invalid filename"]})
    return value if value.lower().endswith(".pdf") else value + ".pdf"


def not_found(slug: str) -> errors.TemplateNotFound:
    return errors.TemplateNotFound(f"no template with slug {errors.shorten(slug)} in this project")


def known_template(project_id: str, slug: str) -> bool:
    """Whether (project, slug) could name a template at all: anything else is not found without
    asking PostgreSQL (which refuses NUL, and a malformed id as a uuid)."""
    return inputs.is_uuid(project_id) and SLUG.fullmatch(slug) is not None


@lru_cache(maxsize=1024)
def compiled(template_id, number: int, manifest_json: str) -> Manifest:
    """Versions are immutable, so a compiled manifest is good for as long as we keep it."""
    return Manifest.parse(json.loads(manifest_json))


def load_data(data_json: str) -> dict:
    """A render's (or preview's) `data`, parsed; Manifest.validate then checks it against the
    version and walks it for what cannot be stored (NUL, depth, Infinity). One function, so
    enqueue and preview refuse the same data with the same errors."""
    data = inputs.load_json(data_json, "data", errors.InvalidInputData)
    if not isinstance(data, dict):
        raise errors.InvalidRequest("data must be a JSON object")
    return data


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
    def __init__(self, pool: AsyncConnectionPool, *, max_asset_pixels: int) -> None:
        self.pool = pool
        self.max_asset_pixels = max_asset_pixels
        self.decoding = asyncio.Semaphore(1)  # one full-size image in memory at a time
        self.font_checker: pebble.ProcessPool | None = None  # started at the first font upload
        # One font check per project at a time: a project's uploads queue behind each other,
        # never in front of another project's (project id -> its lock and how many want it).
        self.font_checks: dict[str, tuple[asyncio.Lock, list[int]]] = {}

    def close(self) -> None:
        """Ends the font checker's child process, if one was started."""
        if self.font_checker is not None:
            self.font_checker.stop()
            self.font_checker.join(timeout=5)

    async def _template(self, conn, project_id: str, slug: str, *, lock: bool = False) -> dict:
        if not known_template(project_id, slug):
            raise not_found(slug)
        cur = await conn.execute(
            "SELECT * FROM templates WHERE project_id = %s AND slug = %s"
            + (" FOR UPDATE" if lock else ""), (project_id, slug))
        row = await cur.fetchone()
        if row is None:
            raise not_found(slug)
        return row

    async def CreateTemplate(self, request, context):
        if not SLUG.fullmatch(request.slug):
            raise errors.InvalidRequest(
                "slug must be 1 to 63 lowercase letters, digits or '-', starting with a letter "
                "or digit", field_errors={"slug": ["Invalid slug"]})
        if not inputs.is_uuid(request.project_id):
            raise errors.InvalidRequest("project_id must be a project's id (a UUID)")
        if request.name:
            inputs.check_text(request.name, "name", limit=inputs.MAX_NAME_LENGTH)
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
            except psycopg.errors.ForeignKeyViolation:
                raise errors.InvalidRequest("project_id names no project") from None
            return template_proto(await cur.fetchone())

    async def GetTemplate(self, request, context):
        async with self.pool.connection() as conn:
            row = await self._template(conn, request.project_id, request.slug)
            cur = await conn.execute(f"SELECT {VERSION_COLUMNS} FROM template_versions "
                                     "WHERE template_id = %s ORDER BY number", (row["id"],))
            return template_proto(row, await cur.fetchall())

    async def ListTemplates(self, request, context):
        limit = cursor.page_size(request.limit, 100, 100)
        after = cursor.decode(request.cursor, cursor.text)[0] if request.cursor else ""
        if not inputs.is_uuid(request.project_id):
            return templates_pb2.ListTemplatesResponse()
        async with self.pool.connection() as conn:
            cur = await conn.execute("SELECT * FROM templates WHERE project_id = %s AND slug > %s "
                                     "ORDER BY slug LIMIT %s", (request.project_id, after, limit + 1))
            rows = await cur.fetchall()
        page = rows[:limit]
        return templates_pb2.ListTemplatesResponse(
            templates=[template_proto(r) for r in page],
            next_cursor=cursor.encode(page[-1]["slug"]) if len(rows) > limit else "")

    async def AddVersion(self, request, context):
        size = len(request.manifest_json) + len(request.layout_json)
        if size > MAX_TEMPLATE_JSON:
            raise errors.InvalidTemplate(
                f"the manifest and layout are {size} characters of JSON together; at most "
                f"{MAX_TEMPLATE_JSON}")
        manifest = inputs.parse_json(request.manifest_json, "manifest", errors.InvalidTemplate)
        layout = inputs.parse_json(request.layout_json, "layout", errors.InvalidTemplate)
        compiled = Manifest.parse(manifest)
        async with self.pool.connection() as conn, conn.transaction():
            template = await self._template(conn, request.project_id, request.slug, lock=True)
            cur = await conn.execute("SELECT name, content_type FROM template_assets "
                                     "WHERE template_id = %s", (template["id"],))
            rows = await cur.fetchall()
            lint(layout, compiled, assets={row["name"] for row in rows},
                 font_assets={r["name"] for r in rows if r["content_type"].startswith("font/")})
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
                    f"template {errors.shorten(request.slug)} has no version {request.number}")
            cur = await conn.execute("UPDATE templates SET published_version = %s WHERE id = %s "
                                     "RETURNING *", (request.number, template["id"]))
            row = await cur.fetchone()
            cur = await conn.execute(f"SELECT {VERSION_COLUMNS} FROM template_versions "
                                     "WHERE template_id = %s ORDER BY number", (row["id"],))
            return template_proto(row, await cur.fetchall())


    async def GetVersionSchema(self, request, context):
        async with self.pool.connection() as conn:
            template = await self._template(conn, request.project_id, request.slug)
            cur = await conn.execute("SELECT manifest::text AS manifest, published_at "
                                     "FROM template_versions "
                                     "WHERE template_id = %s AND number = %s",
                                     (template["id"], request.number))
            row = await cur.fetchone()
        if row is None:
            raise errors.VersionNotFound(
                f"template {errors.shorten(request.slug)} has no version {request.number}")
        manifest = Manifest.parse(json.loads(row["manifest"]))
        example = manifest.example()
        return templates_pb2.VersionSchema(
            number=request.number,
            schema_json=json.dumps(manifest.json_schema(f"{template['name']} v{request.number}")),
            example_json=json.dumps(example),
            curl=(curl_line if row["published_at"] else preview_curl_line)(
                request.api_base_url, request.slug, request.number, example))


    async def PrepareVersionPreview(self, request, context):
        data = load_data(request.data_json)
        async with self.pool.connection() as conn:
            template = await self._template(conn, request.project_id, request.slug)
            cur = await conn.execute(
                "SELECT manifest::text AS manifest, layout::text AS layout FROM template_versions "
                "WHERE template_id = %s AND number = %s", (template["id"], request.number))
            row = await cur.fetchone()
        if row is None:
            raise errors.VersionNotFound(
                f"template {errors.shorten(request.slug)} has no version {request.number}")
        data = compiled(template["id"], request.number, row["manifest"]).validate(data)
        assets = (image_assets(json.loads(row["layout"]))
                  if '"image"' in row["layout"] or '"fonts"' in row["layout"] else ())
        return templates_pb2.VersionPreview(
            template_id=str(template["id"]), layout_json=row["layout"],
            data_json=json.dumps(data, ensure_ascii=False, separators=(",", ":")),
            asset_names=sorted(assets))

    async def PutAsset(self, request, context):
        if not ASSET_NAME.fullmatch(request.name):
            raise errors.InvalidRequest(
                "asset names are 1 to 100 letters, digits, '.', '_' or '-', starting with a "
                "letter or digit (e.g. logo.png)", field_errors={"name": ["Invalid asset name"]})
        async with self.pool.connection() as conn:
            await self._template(conn, request.project_id, request.slug)  # 404 before the work
        if uploads.is_font(request.data):
            content_type, width, height = await self._font_facts(request.data,
                                                                 request.project_id), 0, 0
        else:
            async with self.decoding:
                content_type, width, height = await asyncio.to_thread(
                    image_facts, request.data, self.max_asset_pixels)
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
                        f"asset {errors.shorten(request.name)} exists with other content; assets are "
                        "write-once (versions that show them never change): use a new name")
        return asset_proto(row)

    async def _font_facts(self, data: bytes, project_id: str) -> str:
        """The content type of an uploaded font the renderer can embed, checked in a child
        process that is killed past CHECK_SECONDS or CHECK_MEMORY_MB (a crafted font can make a
        parser loop or allocate); InvalidAsset says what is wrong. Its character map's ranges
        are counted first, here (`uploads.precheck`: cheap); then one check per project at a
        time goes to the checkers (FONT_CHECKERS processes), so a project sending fonts that
        take their 5 s holds one checker, and the others check other projects' fonts."""
        try:
            await asyncio.to_thread(uploads.precheck, data)  # up to 0.1 s for 4 MiB of ranges
        except uploads.BadFont as exc:
            raise errors.InvalidAsset(str(exc)) from None
        lock, users = self.font_checks.setdefault(project_id, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            async with lock:
                return await self._check_font(data)
        finally:
            users[0] -= 1
            if not users[0]:
                del self.font_checks[project_id]

    async def _check_font(self, data: bytes) -> str:
        if self.font_checker is None:
            self.font_checker = pebble.ProcessPool(
                max_workers=FONT_CHECKERS, max_tasks=50, initializer=start_child,
                initargs=(uploads.CHECK_MEMORY_MB,), context=multiprocessing.get_context("spawn"))
        try:
            future = self.font_checker.schedule(uploads.inspect, (data,),
                                                timeout=uploads.CHECK_SECONDS)
            return await asyncio.wrap_future(future)
        except uploads.BadFont as exc:
            raise errors.InvalidAsset(str(exc)) from None
        except FutureTimeout:
            raise errors.InvalidAsset(f"the font took over {uploads.CHECK_SECONDS:g} s to "
                                      "read; it is not one the renderer can use") from None
        except pebble.ProcessExpired:
            raise errors.InvalidAsset(f"reading the font needed over {uploads.CHECK_MEMORY_MB} "
                                      "MB of memory; it is not one the renderer can use") from None

    async def ListAssets(self, request, context):
        async with self.pool.connection() as conn:
            template = await self._template(conn, request.project_id, request.slug)
            cur = await conn.execute(f"SELECT {ASSET_COLUMNS} FROM template_assets "
                                     "WHERE template_id = %s ORDER BY name", (template["id"],))
            rows = await cur.fetchall()
        return templates_pb2.ListAssetsResponse(assets=[asset_proto(r) for r in rows])

    async def GetAssetData(self, request, context):
        """An asset's bytes, by template id (a preview holds it) or by slug (a download)."""
        async with self.pool.connection() as conn:
            template_id = request.template_id
            if request.slug:
                template = await self._template(conn, request.project_id, request.slug)
                template_id = str(template["id"])
            if not (inputs.is_uuid(template_id) and ASSET_NAME.fullmatch(request.name)):
                raise errors.NotFound(f"no asset {errors.shorten(request.name)} for template "
                                      f"{errors.shorten(request.slug or template_id)}")
            cur = await conn.execute(
                "SELECT a.name, a.sha256, a.data, a.content_type FROM template_assets a "
                "JOIN templates t "
                "ON t.id = a.template_id WHERE a.template_id = %s AND t.project_id = %s "
                "AND a.name = %s", (template_id, request.project_id, request.name))
            row = await cur.fetchone()
        if row is None:
            raise errors.NotFound(f"no asset {errors.shorten(request.name)} for template "
                                  f"{request.slug or template_id}")
        return templates_pb2.AssetData(name=row["name"], sha256=row["sha256"], data=row["data"],
                                       content_type=row["content_type"])


ASSET_COLUMNS = "name, content_type, sha256, length(data) AS size, width, height, created_at"


def asset_proto(row: dict) -> templates_pb2.Asset:
    return templates_pb2.Asset(
        name=row["name"], content_type=row["content_type"], sha256=row["sha256"],
        size=row["size"], width=row["width"], height=row["height"],
        created_at_ms=ms(row["created_at"]))


def image_facts(data: bytes, max_pixels: int) -> tuple[str, int, int]:
    """(content type, width, height) of a PNG or JPEG that renders: its size within
    MAX_ASSET_SIDE and `max_pixels` (read from the header, before anything is decoded), then the
    whole image decoded once, so a truncated or corrupt file is refused now rather than failing
    every render. InvalidAsset says what is wrong. Blocking: run it in a thread."""
    from PIL import Image, UnidentifiedImageError

    kinds = {"PNG": "image/png", "JPEG": "image/jpeg"}
    kind = "image"
    try:
        with Image.open(io.BytesIO(data), formats=tuple(kinds)) as image:
            kind, (width, height) = f"{image.format} image", image.size
            _check_size(width, height, max_pixels)
            if kind == "JPEG":  # decode at 1/8 scale: every byte is still read and checked
                image.draft(image.mode, (max(1, width // 8), max(1, height // 8)))
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own guard, raised before the size is known to us: its text has the count.
        pixels = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{int(pixels.group(1)) / 1e6:.0f} MP" if pixels else "far too many pixels"
        raise errors.InvalidAsset(f"image has {size}, a decompression bomb; at most "
                                  f"{max_pixels / 1e6:g} MP (MAX_ASSET_PIXELS)") from None
    except UnidentifiedImageError:
        raise errors.InvalidAsset("an asset must be a PNG or JPEG image or a TrueType font "
                                  "(.ttf); this is none of them (or its header is damaged)") \
            from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise errors.InvalidAsset(f"the {kind} cannot be decoded: it is truncated or corrupt "
                                  f"({inputs.cut(str(exc))})") from None
    return kinds[kind.split()[0]], width, height


def _check_size(width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise errors.InvalidAsset(
            f"image is {width}x{height} = {width * height / 1e6:.0f} MP; at most "
            f"{max_pixels / 1e6:g} MP (MAX_ASSET_PIXELS)")
    if width > MAX_ASSET_SIDE or height > MAX_ASSET_SIDE:
        raise errors.InvalidAsset(f"image is {width}x{height} pixels; at most {MAX_ASSET_SIDE} "
                                  "on either side")


def curl_line(base: str, slug: str, number: int, example: dict) -> str:
    """A shell line that renders `example` with this version (the key comes from the env)."""
    body = {"data": example, "options": {"versionNumber": number}}
    return _curl(f"{base.rstrip('/')}/v1/templates/{slug}/render", body)


def preview_curl_line(base: str, slug: str, number: int, example: dict) -> str:
    """For a version not published yet (a render of it would be 404 version_not_found): says
    so, and previews `example` with it into preview.pdf instead."""
    base = base.rstrip("/")
    return (f"# version {number} is not published: renders need it published first\n"
            f"# (POST {base}/v1/templates/{slug}/versions/{number}/publish). Preview it:\n"
            + _curl(f"{base}/v1/templates/{slug}/versions/{number}/preview", {"data": example})
            + " \\\n  -o preview.pdf")


def _curl(url: str, body: dict) -> str:
    quoted = json.dumps(body, ensure_ascii=False).replace("'", "'\\''")
    return (f"curl -X POST {url} \\\n"
            f"  -H \"Authorization: Bearer $CRAFTKIT_API_KEY\" \\\n"
            f"  -H \"Content-Type: application/json\" \\\n"
            f"  -d '{quoted}'")

