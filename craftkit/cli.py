"""`craftkit`'s REST commands: what an integrator does with a project's API key, from a shell or
a CI job, through the Python SDK (`craftkit_client`, clients/python/). craftkit/admin.py owns the
console and its operator commands and hands these over (`add_commands`, `run`).

A template folder (`templates push` reads it, `templates pull` writes it):

    manifest.json    the version's manifest            (required)
    layout.json      the version's layout              (required)
    template.json    {"slug", "name", "defaultFilename"} (optional: the slug defaults to the
                     folder's name, --slug wins over both)
    *.png *.jpg *.jpeg *.ttf *.otf   the template's assets, uploaded under their file names

The SDK is imported only when a REST command runs: the container image ships the services and
the operator console, not the SDK, and `craftkit projects …` must work there.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

OK, REFUSED, USAGE, RENDER_FAILED, TIMED_OUT, UNREACHABLE = 0, 1, 2, 3, 4, 5
EXIT_CODES = """\
exit status:
  0  done
  1  refused by the API (a 4xx: bad key, unknown template, lint errors, ...)
     or by the status service
  2  bad usage or a setting to fix (the message names it)
  3  the render failed, was cancelled, or its PDF expired
  4  a wait timed out (the render goes on: craftkit renders get ID --wait)
  5  unreachable: no answer from the API or the status service, a 5xx,
     or an answer that is not the API's (another server at that URL)
Errors go to standard error: the API's code, its message, and a line for each
issue at its path."""

ASSET_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
               ".ttf": "font/ttf", ".otf": "font/otf"}
"""Files of a template folder uploaded as assets, by suffix (the server tells their kind from
their bytes: an .otf must have TrueType outlines)."""
FOLDER_FILES = ("manifest.json", "layout.json", "template.json")
WIDTH = 80
"""Tables fit a terminal of this many columns: the widest free-text column gives way."""
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DEFAULT_WAIT = 60.0
"""Seconds `render --wait` and `renders get --wait` wait by default."""


@dataclasses.dataclass
class Result:
    """What a command did: `document` for --json, `text` for people, and the exit status."""
    document: Any
    text: str
    code: int = OK


class Failure(Exception):
    """A command that cannot go on, with the exit status and what to print (code, message,
    issue lines); raised by the commands, and made from the SDK's errors by `failure`."""

    def __init__(self, code: int, error: str, message: str, issues: Iterable[str] = (),
                 **extra: Any) -> None:
        super().__init__(message)
        self.code, self.error, self.message = code, error, message
        self.issues, self.extra = list(issues), extra

    def document(self) -> dict:
        return {"error": {"code": self.error, "message": self.message, "issues": self.issues,
                          **self.extra}}

    def lines(self) -> str:
        return "\n".join([f"error: {self.error}: {self.message}",
                          *(f"  {issue}" for issue in self.issues)])


# --- output ------------------------------------------------------------------------------------

def printable(text: object) -> str:
    """`text` with what a terminal would act on rather than show (C1 controls such as CSI,
    bidirectional overrides, line separators) as \\u escapes: tenants' names, URLs and messages
    reach the user's terminal, and must not move the cursor or reorder a table's columns."""
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in str(text))


def table(header: tuple[str, ...], rows: list[tuple], flexible: int = -1,
          width: int = WIDTH) -> str:
    """Aligned columns within `width`: when they do not fit, column `flexible` (free text: a
    template slug, a URL) is cut, ending in an ellipsis. Empty values show as '-'."""
    cells = [header] + [tuple(printable(c) if c not in (None, "") else "-" for c in row)
                        for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    flexible %= len(header)
    over = sum(widths) + 2 * (len(widths) - 1) - width
    if over > 0:
        widths[flexible] = max(2, widths[flexible] - over)
    return "\n".join("  ".join(cut(cell, w).ljust(w) for cell, w in zip(row, widths)).rstrip()
                     for row in cells)


def cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def when(moment: datetime | None) -> str | None:
    """A model's timestamp as a table shows it: `2026-11-24 08:17:32` (UTC, to the second)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S") if moment else None


def jsonable(value: Any) -> Any:
    """An SDK model (or a list of them) as the REST API's JSON for --json: the document it was
    made from, which the SDK keeps whole in `raw`."""
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value.raw


class Progress:
    """One line on standard error, rewritten on each poll, while a wait lasts; silent when
    standard error is not a terminal (CI logs, pipes), so it never mixes into captured output."""

    def __init__(self, what: str, stream: IO[str] | None = None) -> None:
        self.what, self.stream = what, stream or sys.stderr
        self.shown = self.stream.isatty()
        self.start = time.monotonic()

    def __call__(self, render: Any) -> None:
        if self.shown:
            elapsed = time.monotonic() - self.start
            status = printable(render.status)
            self.stream.write(f"\r{printable(self.what)}: {status} ({elapsed:.1f} s)\x1b[K")
            self.stream.flush()

    def done(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


# --- inputs ------------------------------------------------------------------------------------

def read_json_file(path: str, what: str) -> Any:
    """A JSON document from `path` (`-`: standard input); Failure(USAGE) saying where it is
    not JSON."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise Failure(USAGE, "bad_file", f"{what} {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise Failure(USAGE, "bad_file", f"{what} {path} is not UTF-8 text") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        name = "standard input" if path == "-" else path
        raise Failure(USAGE, "bad_file", f"{what} {name} is not JSON: {exc.msg} at line "
                      f"{exc.lineno} column {exc.colno}") from None


@dataclasses.dataclass
class Folder:
    """A template folder read from disk (the layout is in the module's docstring)."""
    slug: str
    name: str | None
    default_filename: str | None
    manifest: Any
    layout: Any
    assets: dict[str, tuple[bytes, str]]  # file name -> (bytes, content type)


def read_folder(directory: str, slug: str | None) -> Folder:
    root = Path(directory)
    if not root.is_dir():
        raise Failure(USAGE, "bad_folder", f"{directory} is not a folder")
    files = [root / name for name in FOLDER_FILES] + [
        path for path in sorted(root.iterdir()) if path.suffix.lower() in ASSET_TYPES]
    for path in files:  # before any is read
        within(root, path)
    meta = {}
    if (root / "template.json").exists():
        meta = read_json_file(str(root / "template.json"), "template file")
        if not isinstance(meta, dict):
            raise Failure(USAGE, "bad_folder", f"{root / 'template.json'} must be an object: "
                          '{"slug", "name", "defaultFilename"}')
    missing = [f for f in FOLDER_FILES[:2] if not (root / f).is_file()]
    if missing:
        raise Failure(USAGE, "bad_folder", f"{directory} has no {' nor '.join(missing)}")
    assets = {path.name: (path.read_bytes(), ASSET_TYPES[path.suffix.lower()])
              for path in files if path.is_file() and path.suffix.lower() in ASSET_TYPES}
    return Folder(slug=slug or meta.get("slug") or root.resolve().name,
                  name=meta.get("name"), default_filename=meta.get("defaultFilename"),
                  manifest=read_json_file(str(root / "manifest.json"), "manifest"),
                  layout=read_json_file(str(root / "layout.json"), "layout"), assets=assets)


def within(root: Path, path: Path) -> None:
    """Failure(USAGE) when `path` is a symbolic link leading out of the folder: a folder from
    elsewhere (a template author's) could otherwise send ~/.ssh/id_rsa as `logo.png`, or any
    JSON file of the user's as its manifest, to the server."""
    if path.is_symlink() and not path.resolve().is_relative_to(root.resolve()):
        raise Failure(USAGE, "bad_folder", f"{path} is a link to {path.resolve()}, outside "
                      f"the folder: copy the file into it if it belongs to the template")


def write_json(path: Path, value: Any) -> None:
    write_file(path, (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode())


def write_file(path: Path, content: bytes) -> None:
    """`content` as the file `path`, through a new file beside it renamed over it: a symbolic
    link already there (a folder from elsewhere may hold one, to ~/.bashrc say) is replaced,
    never followed, and a file is never left half written. The mode is the umask's, as for
    any new file."""
    temp = path.with_name(f".{path.name}.{os.urandom(6).hex()}.part")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(content)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def safe_file_name(name: str) -> bool:
    """Whether an asset name from the API may be a file in the folder as it is (no path, no
    dot file, not one of the folder's own files)."""
    return (isinstance(name, str) and Path(name).name == name and not name.startswith(".")
            and name not in FOLDER_FILES and printable(name) == name)


# --- commands ----------------------------------------------------------------------------------

def push(client, args) -> Result:
    """Creates the template when the project has none of that slug, uploads the assets it lacks,
    and adds the version, unless the newest version already holds this manifest and layout."""
    from craftkit_client import NotFound
    folder = read_folder(args.dir, args.slug)
    try:
        template, created = client.templates.get(folder.slug), False
    except NotFound:
        template, created = client.templates.create(
            folder.slug, name=folder.name, default_filename=folder.default_filename), True
    uploaded, unchanged = upload_assets(client, folder)
    newest = max(template.versions or [], key=lambda v: v.number, default=None)
    if newest and (newest.manifest, newest.layout) == (folder.manifest, folder.layout):
        number, added = newest.number, False
    else:
        number, added = client.templates.add_version(folder.slug, folder.manifest,
                                                     folder.layout).number, True
    if args.publish:
        client.templates.publish(folder.slug, number)
    document = {"slug": folder.slug, "created": created, "version": number, "added": added,
                "published": args.publish or template.published_version == number,
                "assets": {"uploaded": uploaded, "unchanged": unchanged}}
    return Result(document, push_text(document))


def push_text(pushed: dict) -> str:
    verb = "added" if pushed["added"] else "unchanged (the newest version holds this content)"
    lines = [f"template {printable(pushed['slug'])}"
             + (" created" if pushed["created"] else ""),
             f"version {pushed['version']} {verb}" + (", published" if pushed["published"]
                                                      else "")]
    if pushed["assets"]["uploaded"]:
        lines.append("assets uploaded: " + ", ".join(map(printable, pushed["assets"]["uploaded"])))
    return "\n".join(lines)


def upload_assets(client, folder: Folder) -> tuple[list[str], list[str]]:
    """Uploads the folder's assets the template does not hold yet (before the version: lint
    checks that the images a layout names exist). Assets are write-once: one of the same name
    with other bytes is refused before anything is uploaded."""
    held = {a.name: a.sha256 for a in client.templates.list_assets(folder.slug)}
    differing = [name for name, (data, _) in folder.assets.items()
                 if held.get(name) not in (None, hashlib.sha256(data).hexdigest())]
    if differing:
        raise Failure(REFUSED, "asset_exists", "assets are write-once and the template holds "
                      "other bytes under these names: give the files new names (and the "
                      "layout too)", differing)
    uploaded = [name for name in folder.assets if name not in held]
    for name in uploaded:
        client.templates.put_asset(folder.slug, name, *folder.assets[name])
    return uploaded, [name for name in folder.assets if name in held]


def pull(client, args) -> Result:
    """Writes a version (N, else the published one, else the newest) as a template folder,
    with every asset of the template."""
    template = client.templates.get(args.slug)
    version = pick_version(template, args.version)
    names = [asset.name for asset in client.templates.list_assets(args.slug)]
    for name in names:  # all checked before anything is written
        if not safe_file_name(name):
            raise Failure(REFUSED, "unsafe_asset_name", f"asset {printable(name)!r} "
                          "cannot be a file name in the folder")
    root = Path(args.dir or args.slug)  # the slug asked for, not the one the server answered
    root.mkdir(parents=True, exist_ok=True)
    write_json(root / "template.json", {"slug": template.slug, "name": template.name,
                                        "defaultFilename": template.default_filename})
    write_json(root / "manifest.json", version.manifest)
    write_json(root / "layout.json", version.layout)
    for name in names:
        write_file(root / name, client.templates.get_asset(args.slug, name))
    document = {"slug": template.slug, "version": version.number, "dir": str(root),
                "assets": names}
    return Result(document, f"version {version.number} of {printable(template.slug)} written "
                  f"to {printable(root)}" + (f" (assets: {', '.join(names)})" if names else ""))


def pick_version(template, number: int | None):
    versions = {v.number: v for v in template.versions or []}
    if number is None:
        number = template.published_version or max(versions, default=None)
    if number not in versions:
        raise Failure(REFUSED, "version_not_found",
                      f"template {printable(template.slug)} has no version {number}"
                      if number else f"template {printable(template.slug)} has no version yet")
    return versions[number]


def render(client, args) -> Result:
    data = read_json_file(args.data, "data")
    if not (args.wait or args.out):
        made = client.renders.create(args.slug, data, version=args.version,
                                     filename=args.filename)
        return Result(jsonable(made), f"render {made.id} {made.status}\n"
                      f"wait for it: craftkit renders get {made.id} --wait")
    from craftkit_client import RenderFailed
    progress = Progress(f"render of {printable(args.slug)}")
    try:
        done = client.render(args.slug, data, version=args.version, filename=args.filename,
                             wait=True, timeout=args.timeout, on_poll=progress)
    except RenderFailed as exc:
        done = exc.render
    finally:
        progress.done()
    return finished(client, done, args.out)


def finished(client, render, out: str | None) -> Result:
    """A terminal render: its PDF written to `out` when it succeeded and one is asked for;
    exit 3 when it failed, was cancelled or expired."""
    document, line = jsonable(render), f"render {render.id} {render.status}"
    if render.status != "succeeded" or render.expired_at:
        reason = render.error_message or ("PDF expired" if render.expired_at else "")
        return Result(document, line + (f": {printable(reason)}" if reason else ""),
                      RENDER_FAILED)
    if render.duration_ms is not None:
        line += f" in {render.duration_ms} ms"
    if out:
        size = download_to(client, render.id, out)
        document = {**document, "out": out, "bytes": size}
        line = "" if out == "-" else line + f"\n{printable(out)}: {size} bytes"
    return Result(document, line)


def download_to(client, render_id: str, out: str) -> int:
    """The PDF streamed to `out` (`-`: standard output)."""
    return client.renders.download(render_id, sys.stdout.buffer if out == "-" else out)


def renders_list(client, args) -> Result:
    filters = {"status": args.status, "template": args.template,
               "created_after": args.created_after, "created_before": args.created_before}
    if args.all:
        items, cursor = list(client.renders.iter(**filters, limit=args.limit)), None
    else:
        page = client.renders.list(**filters, limit=args.limit, cursor=args.cursor)
        items, cursor = page.data, page.next_cursor
    text = table(("ID", "STATUS", "TEMPLATE", "CREATED"),
                 [(r.id, r.status, r.template_slug, when(r.created_at)) for r in items],
                 flexible=2)
    return Result({"data": jsonable(items), "nextCursor": cursor}, with_cursor(text, cursor))


def renders_get(client, args) -> Result:
    if not args.wait:
        got = client.renders.get(args.id)
        return Result(jsonable(got), render_text(got))
    progress = Progress(f"render {args.id}")
    try:
        done = client.renders.wait(args.id, timeout=args.timeout, on_poll=progress)
    finally:
        progress.done()
    return finished(client, done, args.out)


def render_text(r) -> str:
    rows = [("id", r.id), ("status", r.status), ("template", r.template_slug),
            ("created", when(r.created_at)), ("completed", when(r.completed_at)),
            ("duration", f"{r.duration_ms} ms" if r.duration_ms is not None else None),
            ("error", r.error_message), ("download", r.download_url),
            ("expired", when(r.expired_at))]
    return "\n".join(f"{name + ':':<10} {printable(value)}" for name, value in rows
                     if value is not None)


def renders_download(client, args) -> Result:
    out = args.out or f"{args.id}.pdf"
    size = download_to(client, args.id, out)
    return Result({"id": args.id, "out": out, "bytes": size},
                  "" if out == "-" else f"{printable(out)}: {size} bytes")


def renders_cancel(client, args) -> Result:
    cancelled = client.renders.cancel(args.id)
    return Result(jsonable(cancelled), f"render {cancelled.id} {cancelled.status}")


def preview(client, args) -> Result:
    data = read_json_file(args.data, "data")
    kind = "png" if args.out.lower().endswith(".png") else "pdf"
    content = client.templates.preview(args.slug, args.version, data, format=kind)
    if kind == "png" and not content.startswith(PNG_SIGNATURE):
        raise Failure(REFUSED, "png_unsupported", "the API answered a PDF, not a PNG: this "
                      "server cannot preview as an image; use --out FILE.pdf")
    Path(args.out).write_bytes(content)
    return Result({"slug": args.slug, "version": args.version, "format": kind, "out": args.out,
                   "bytes": len(content)},
                  f"{printable(args.out)}: {len(content)} bytes ({kind.upper()}, version "
                  f"{args.version} of {printable(args.slug)}, not published by this)")


def webhooks_add(client, args) -> Result:
    made = client.webhooks.create(args.url, events=args.event)
    return Result(jsonable(made), f"webhook {made.id} -> {printable(made.url)}\n"
                  f"events: {', '.join(made.events)}\n"
                  f"secret: {made.secret}\n(the secret is shown only now)")


def webhooks_list(client, args) -> Result:
    """Each endpoint on two lines (id, state and events; then its URL), so that a URL of any
    length still shows whole within 80 columns, up to a point."""
    page = client.webhooks.list(limit=args.limit, cursor=args.cursor)
    lines = []
    for hook in page.data:
        state = "enabled" if hook.enabled else "disabled"
        if hook.paused_until:
            state = f"paused until {when(hook.paused_until)}"
        lines += [f"{hook.id}  {state}  {','.join(hook.events)}",
                  "  " + cut(printable(hook.url), WIDTH - 2)]
    return Result({"webhooks": jsonable(page.data), "nextCursor": page.next_cursor},
                  with_cursor("\n".join(lines) or "no webhooks", page.next_cursor))


def with_cursor(text: str, cursor: str | None) -> str:
    """A table, and how to get the next page when there is one."""
    return text + (f"\nmore: --cursor {cursor}" if cursor else "")


def webhooks_deliveries(client, args) -> Result:
    page = client.webhooks.deliveries(args.id, limit=args.limit, cursor=args.cursor)
    text = table(("ID", "EVENT", "STATUS", "LAST ATTEMPT"),
                 [(d.id, d.event.removeprefix("render."), d.status, last_attempt(d.attempts))
                  for d in page.data], flexible=3)
    return Result({"deliveries": jsonable(page.data), "nextCursor": page.next_cursor},
                  with_cursor(text, page.next_cursor))


def last_attempt(attempts) -> str | None:
    """The latest attempt: its number, when (UTC, to the minute) and its HTTP status or the
    error of one that got none, as `#2 11-24 08:25 503`."""
    if not attempts:
        return None
    last = max(attempts, key=lambda a: a.number)
    return f"#{last.number} {(when(last.at) or '')[5:16]} {last.status_code or last.error or ''}"


# --- the parser --------------------------------------------------------------------------------

def positive(text: str) -> int:
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number from 1")
    return int(text)


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0")
    return value


def common_options() -> argparse.ArgumentParser:
    """--json, --api-url and --api-key, taken after any REST command."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true",
                        help="print one JSON document on standard output (the API's shapes)")
    common.add_argument("--api-url", metavar="URL",
                        help="the API's base URL (over CRAFTKIT_API_URL and .craftkit/dev.env)")
    common.add_argument("--api-key", metavar="KEY",
                        help="the API key (over CRAFTKIT_API_KEY and .craftkit/dev.env)")
    return common


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Adds the REST commands to the console's parser."""
    common = [common_options()]

    def command(parent, name: str, run: Callable, help: str) -> argparse.ArgumentParser:
        made = parent.add_parser(name, help=help, description=help, parents=common)
        made.set_defaults(run=run, rest=True)
        return made

    def group(name: str, help: str):
        return commands.add_parser(name, help=help, description=help).add_subparsers(
            dest="action", required=True, metavar="ACTION")

    templates = group("templates", "push and pull template folders")
    pushed = command(templates, "push", push, "create or update a template from a folder "
                     "(manifest.json, layout.json, template.json, images and fonts) and add a "
                     "version")
    pushed.add_argument("dir", metavar="DIR")
    pushed.add_argument("--slug", help="the template's slug (default: template.json's slug, "
                        "else the folder's name)")
    pushed.add_argument("--publish", action="store_true",
                        help="make the version the default for renders")
    pulled = command(templates, "pull", pull, "write a template version as a folder")
    pulled.add_argument("slug", metavar="SLUG")
    pulled.add_argument("--version", type=positive, metavar="N",
                        help="the version (default: the published one, else the newest)")
    pulled.add_argument("--dir", metavar="DIR", help="where to write it (default: ./SLUG)")

    rendered = command(commands, "render", render, "render a template with JSON data")
    rendered.add_argument("slug", metavar="SLUG")
    rendered.add_argument("--data", required=True, metavar="FILE",
                          help="the data, a JSON file; - reads standard input")
    rendered.add_argument("--version", type=positive, metavar="N",
                          help="a published version (default: the published default)")
    rendered.add_argument("--filename", help="the PDF's file name for downloads")
    add_wait_options(rendered, "wait until the render is done (--out implies it)")

    renders = group("renders", "list, inspect, download and cancel renders")
    listed = command(renders, "list", renders_list, "the project's renders, newest first")
    listed.add_argument("--status", choices=("queued", "rendering", "succeeded", "failed",
                                             "cancelled"))
    listed.add_argument("--template", metavar="SLUG")
    listed.add_argument("--created-after", metavar="TIME", help="ISO 8601 with a time zone")
    listed.add_argument("--created-before", metavar="TIME", help="ISO 8601 with a time zone")
    listed.add_argument("--limit", type=positive, metavar="N", help="per page (1 to 100)")
    listed.add_argument("--cursor", help="the page after the one that printed it")
    listed.add_argument("--all", action="store_true", help="every page")
    got = command(renders, "get", renders_get, "one render")
    got.add_argument("id", metavar="ID")
    add_wait_options(got, "wait until it is done")
    fetched = command(renders, "download", renders_download, "a render's PDF")
    fetched.add_argument("id", metavar="ID")
    fetched.add_argument("--out", metavar="FILE", help="default: ID.pdf; - for standard output")
    command(renders, "cancel", renders_cancel, "cancel a queued render").add_argument(
        "id", metavar="ID")

    previewed = command(commands, "preview", preview, "render any version (published or "
                        "not) without storing it: a PDF, or page 1 as a PNG")
    previewed.add_argument("slug", metavar="SLUG")
    previewed.add_argument("--version", type=positive, required=True, metavar="N")
    previewed.add_argument("--data", required=True, metavar="FILE",
                           help="the data, a JSON file; - reads standard input")
    previewed.add_argument("--out", required=True, metavar="FILE",
                           help="FILE.pdf, or FILE.png for page 1 as an image")

    webhooks = group("webhooks", "webhook endpoints and their deliveries")
    added = command(webhooks, "add", webhooks_add, "a new endpoint (its secret is shown once)")
    added.add_argument("url", metavar="URL")
    added.add_argument("--event", action="append",
                       choices=("render.succeeded", "render.failed", "render.cancelled"),
                       help="repeatable (default: render.succeeded and render.failed)")
    hooks = command(webhooks, "list", webhooks_list, "the project's endpoints, oldest first")
    hooks.add_argument("--limit", type=positive, metavar="N", help="per page (1 to 100)")
    hooks.add_argument("--cursor", help="the page after the one that printed it")
    deliveries = command(webhooks, "deliveries", webhooks_deliveries,
                         "an endpoint's delivery log, newest first")
    deliveries.add_argument("id", metavar="ID", help="the endpoint's id")
    deliveries.add_argument("--limit", type=positive, metavar="N", help="per page (1 to 200)")
    deliveries.add_argument("--cursor", help="the page after the one that printed it")


def add_wait_options(parser: argparse.ArgumentParser, wait_help: str) -> None:
    parser.add_argument("--wait", action="store_true", help=wait_help)
    parser.add_argument("--out", metavar="FILE.pdf",
                        help="write the PDF here once it succeeded; - for standard output")
    parser.add_argument("--timeout", type=seconds, default=DEFAULT_WAIT, metavar="SECONDS",
                        help=f"how long to wait (default {DEFAULT_WAIT:g}; then exit 4)")


# --- running -----------------------------------------------------------------------------------

def run(args: argparse.Namespace) -> int:
    """Runs a REST command and prints its result: the JSON document on standard output with
    --json, and the text on standard output, or on standard error when the command failed."""
    try:
        if args.json and getattr(args, "out", None) == "-":
            raise Failure(USAGE, "usage", "--out - writes the PDF to standard output, where "
                          "--json writes its document: choose one")
        result = call(args)
    except Failure as failure:
        result = Result(failure.document(), failure.lines(), failure.code)
    except KeyboardInterrupt:
        return 130
    if args.json:
        print(json_text(result.document))
    if result.code != OK:
        print(shown(result.text), file=sys.stderr)
    elif result.text and not args.json:
        print(shown(result.text))
    return result.code


def shown(text: str) -> str:
    """Text for the terminal, line by line through `printable`: whatever a command prints (an
    error message, a name, a status from the server) reaches it as characters, never as the
    escape sequences a hostile server or tenant put in them."""
    return "\n".join(printable(line) for line in text.split("\n"))


def json_text(document: Any) -> str:
    """The --json document: UTF-8 text as it is, but characters a terminal acts on (C1
    controls such as U+009B, which json.dumps leaves raw, bidi overrides, line separators)
    as \\u escapes, which a JSON parser reads back as the same string."""
    text = json.dumps(document, indent=2, ensure_ascii=False)
    return "".join(c if c.isprintable() or c == "\n" else json.dumps(c)[1:-1] for c in text)


def call(args: argparse.Namespace) -> Result:
    """The command with a client; what the SDK raises becomes a Failure saying what to do."""
    try:
        import craftkit_client as sdk
    except ImportError:
        raise Failure(USAGE, "no_sdk", "the REST commands need the Python SDK: pip install "
                      "clients/python (make installs it into .venv)") from None
    try:
        client = sdk.Client(args.api_url, args.api_key)
    except ValueError as exc:  # no URL or no key anywhere
        raise Failure(USAGE, "settings", f"{exc}; or pass --api-url / --api-key") from None
    try:
        with client:
            return args.run(client, args)
    except sdk.ApiError as exc:
        raise failure(exc) from None
    except sdk.WaitTimeout as exc:
        raise Failure(TIMED_OUT, "timed_out", f"render {exc.render.id} is still "
                      f"{exc.render.status} after {exc.timeout:g} s; it goes on: craftkit "
                      f"renders get {exc.render.id} --wait") from None
    except sdk.NetworkError as exc:
        raise Failure(UNREACHABLE, "unreachable", f"no answer from the API ({exc}): check "
                      "CRAFTKIT_API_URL or --api-url, and that the gateway runs") from None
    except sdk.UnexpectedAnswer as exc:
        raise Failure(UNREACHABLE, "unexpected_answer", f"{exc} (check CRAFTKIT_API_URL or "
                      "--api-url)") from None
    except OSError as exc:  # a folder or an --out file that cannot be read or written
        raise Failure(USAGE, "bad_file", f"{exc.filename or 'a file'}: {exc.strerror}") from None


RENDER_GONE = {"render_failed", "render_expired", "link_expired"}
"""API error codes meaning the render has no PDF to give (exit 3, not 1)."""


def failure(exc) -> Failure:
    """An ApiError as a Failure: its code, message and issue lines, and the exit status its
    HTTP status calls for."""
    if exc.status >= 500:
        code = UNREACHABLE
    elif exc.code in RENDER_GONE:
        code = RENDER_FAILED
    else:
        code = REFUSED
    return Failure(code, exc.code, exc.message, issue_lines(exc.issues), status=exc.status,
                   requestId=exc.request_id)


def issue_lines(issues: Any) -> list[str]:
    """The envelope's issues as `path: message` lines (formErrors first, without a path)."""
    if not issues:
        return []
    if isinstance(issues, dict):
        lines = [printable(m) for m in issues.get("formErrors") or []]
        for path, messages in (issues.get("fieldErrors") or {}).items():
            for message in messages if isinstance(messages, list) else [messages]:
                lines.append(f"{printable(path)}: {printable(message)}")
        return lines
    return [printable(i) for i in issues]
