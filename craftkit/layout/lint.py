"""Pre-flight checks of a layout against its manifest, before a version is accepted: structure,
every `{{path}}` against the manifest's fields (with the right type for its filters), and the
values of every option. InvalidTemplate names the JSON path of each problem, all at once (as many
as fit in a gRPC header). The work is bounded: at most MAX_BLOCKS blocks and table columns,
nested at most MAX_NESTING deep, and texts of at most MAX_TEXT_LENGTH characters."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from craftkit import errors, inputs
from craftkit.errors import InvalidTemplate
from craftkit.layout import codes, fonts, metadata, text, uploads
from craftkit.manifest import Manifest

PAGE_SIZES = {"A4": (595.2756, 841.8898), "A5": (419.5276, 595.2756), "A6": (297.6378, 419.5276),
              "Letter": (612.0, 792.0), "Legal": (612.0, 1008.0),
              "Label4x6": (288.0, 432.0)}  # a 4 x 6 in shipping label
ALIGNS = ("left", "center", "right")
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # matched with fullmatch, like every name here
COLOR = re.compile(r"#[0-9A-Fa-f]{6}")
SPACE = {"xs": 4, "sm": 8, "md": 12, "lg": 20, "xl": 32}  # the spacing scale, points
MAX_BLOCKS = 2000  # blocks and table columns, all nesting levels together
MAX_NESTING = 16  # keep, columns, if and each inside one another
MAX_TEXT_LENGTH = 10_000  # characters of one text, cell, value or metadata entry
BARCODES = ("code128", "ean13")
LANG = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,4}")  # a BCP 47 tag: en, en-US, sr-Latn-RS
PAGE_VARIABLES = {"page": "integer", "pages": "integer"}


@dataclass
class Context:
    paths: dict[str, str]  # manifest path (items[].qty) -> type
    assets: set[str] = field(default_factory=set)  # the template's uploaded images
    problems: dict[str, list[str]] = field(default_factory=dict)
    scope: dict[str, str] = field(default_factory=dict)  # loop variable -> array path
    extra: dict[str, str] = field(default_factory=dict)  # page, pages in headers and footers
    nesting: int = 0  # container blocks around this one
    seen: list[int] = field(default_factory=lambda: [0])  # blocks and columns so far, shared
    families: set[str] = field(default_factory=set)  # the layout's uploaded font families

    def problem(self, where: str, message: str) -> None:
        self.problems.setdefault(where, []).append(message)

    def inner(self, nest: bool = False, **changes) -> Context:
        return Context(self.paths, self.assets, self.problems,
                       {**self.scope, **changes.get("scope", {})},
                       {**self.extra, **changes.get("extra", {})},
                       self.nesting + nest, self.seen, self.families)

    def count(self, where: str, amount: int = 1) -> bool:
        """Counts blocks or columns against MAX_BLOCKS; False (reported once) past it."""
        self.seen[0] += amount
        if self.seen[0] > MAX_BLOCKS:
            if "layout" not in self.problems or not any(
                    "blocks and table columns" in m for m in self.problems["layout"]):
                self.problem("layout", f"the layout has more than {MAX_BLOCKS} blocks and table "
                                       f"columns (first past the limit: {where})")
            return False
        return True

    def type_of(self, path: str) -> str | None:
        """The manifest type a path refers to in this scope, or None when it refers to nothing."""
        if path in self.extra:
            return self.extra[path]
        head, _, rest = path.partition(".")
        if head in self.scope:
            path = f"{self.scope[head]}[]" + (f".{rest}" if rest else "")
        return self.paths.get(path)


def lint(layout: object, manifest: Manifest, assets: set[str] = frozenset(),
         font_assets: set[str] | None = None) -> None:
    """Raises InvalidTemplate naming the JSON path of every problem in the layout. `assets`: the
    names of the template's images and fonts; `font_assets`: those that are fonts (None: not
    known, every asset may be)."""
    if not isinstance(layout, dict):
        raise InvalidTemplate("layout must be a JSON object",
                              field_errors={"layout": ["Expected object"]})
    ctx = Context(manifest.paths(), set(assets))
    unknown(ctx, layout, {"page", "body", "header", "footer", "watermark", "metadata", "locale",
                          "font", "fonts", "direction", "protect", "lang", "pdfa"}, "layout")
    _uploaded_fonts(ctx, layout.get("fonts", {}), font_assets)
    _page(ctx, layout.get("page", {}))
    _font(ctx, layout, "layout")
    locale = layout.get("locale", "en_US")
    from babel import Locale, UnknownLocaleError
    try:
        Locale.parse(locale)
    except (ValueError, TypeError, UnknownLocaleError):
        ctx.problem("layout.locale",
                    f"{errors.shorten(locale)} is not a known locale (e.g. en_US, de_DE)")
    _blocks(ctx, layout.get("body"), "layout.body", required=True)
    for part in ("header", "footer"):
        if part in layout:
            _blocks(ctx.inner(extra=PAGE_VARIABLES), layout[part], f"layout.{part}", required=True)
    if "watermark" in layout:
        _watermark(ctx, layout["watermark"])
    if "metadata" in layout:
        meta = layout["metadata"]
        if not isinstance(meta, dict):
            ctx.problem("layout.metadata", "Expected object")
        else:
            unknown(ctx, meta, {"title", "author", "subject", "keywords"}, "layout.metadata")
            for key, value in meta.items():
                template(ctx, value, f"layout.metadata.{key}")
    if "protect" in layout:
        protect = layout["protect"]
        if not isinstance(protect, dict) or "password" not in protect:
            ctx.problem("layout.protect", "Expected {\"password\": \"…\"}")
        else:
            unknown(ctx, protect, {"password"}, "layout.protect")
            template(ctx, protect["password"], "layout.protect.password")
    _output(ctx, layout)
    if ctx.problems:
        raise InvalidTemplate("the layout is not valid", field_errors=ctx.problems)


# ------------------------------------------------------------------------------------- helpers

def _font(ctx: Context, obj: dict, where: str) -> None:
    """`font` names a family (the old values stay valid); `direction` is auto, ltr or rtl."""
    if "font" in obj and obj["font"] not in (*fonts.CHOICES, *ctx.families):
        ctx.problem(f"{where}.font", f"must be one of {', '.join(fonts.CHOICES)} or a family "
                                     "of the layout's \"fonts\"")
    if "direction" in obj and obj["direction"] not in fonts.DIRECTIONS:
        ctx.problem(f"{where}.direction", f"must be one of {', '.join(fonts.DIRECTIONS)}")


def _uploaded_fonts(ctx: Context, declared: object, font_assets: set[str] | None) -> None:
    """`fonts`: {"Brand": {"regular": "brand.ttf", "bold": …}}, each file an uploaded font."""
    if not isinstance(declared, dict):
        ctx.problem("layout.fonts", 'Expected {"Family": {"regular": "file.ttf", …}}')
        return
    for name, styles in declared.items():
        at = f"layout.fonts.{name}"
        if not isinstance(name, str) or not uploads.FAMILY_NAME.fullmatch(name) \
                or name in fonts.CHOICES:
            ctx.problem(at, "a family name is 1 to 40 letters, digits, spaces, '_' or '-', "
                            f"starting with a letter, and none of {', '.join(fonts.CHOICES)}")
            continue
        if not isinstance(styles, dict) or "regular" not in styles:
            ctx.problem(at, 'Expected {"regular": "file.ttf"} and optionally bold, italic, '
                            "boldItalic")
            continue
        unknown(ctx, styles, set(uploads.STYLES), at)
        for style, asset in styles.items():
            if style not in uploads.STYLES:
                continue
            if not isinstance(asset, str) or asset not in ctx.assets:
                ctx.problem(f"{at}.{style}", f"{errors.shorten(asset)} is not an asset of this "
                                             "template; upload the .ttf with PUT "
                                             "/v1/templates/{slug}/assets/{name} first")
            elif font_assets is not None and asset not in font_assets:
                ctx.problem(f"{at}.{style}", f"{errors.shorten(asset)} is an image, not a font")
        ctx.families.add(name)
    files = {asset for styles in declared.values() if isinstance(styles, dict)
             for asset in styles.values() if isinstance(asset, str)}
    if len(files) > uploads.MAX_LAYOUT_FONTS:
        ctx.problem("layout.fonts", f"{len(files)} font files; a layout names at most "
                                    f"{uploads.MAX_LAYOUT_FONTS} (two families of four styles)")


def unknown(ctx: Context, obj: dict, allowed: set[str], where: str) -> None:
    extra = sorted(set(obj) - allowed)
    if extra:
        ctx.problem(where, "Unrecognized key(s) in object: " + ", ".join(f"'{k}'" for k in extra))


def number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def in_range(ctx: Context, block: dict, key: str, where: str, low: float, high: float) -> None:
    if key in block and not (number(block[key]) and low <= block[key] <= high):
        ctx.problem(f"{where}.{key}", f"must be a number from {low:g} to {high:g}")


def template(ctx: Context, value: object, where: str) -> None:
    """A text with placeholders: each must name a field in scope, with filters that fit it."""
    if not isinstance(value, str):
        ctx.problem(where, "Expected string")
        return
    if len(value) > MAX_TEXT_LENGTH:
        ctx.problem(where, f"the text is {len(value)} characters; at most {MAX_TEXT_LENGTH}")
        return
    if text.RESERVED.search(value):
        ctx.problem(where, "the text holds U+E000 or U+E001, private-use characters the "
                           "renderer reserves (and no font draws); remove them")
    for expression in text.placeholders(value):
        try:
            path, filters = text.parse(expression)
        except text.TextError as exc:
            ctx.problem(where, str(exc))
            continue
        kind = ctx.type_of(path)
        if kind is None:
            ctx.problem(where, f"{{{{{path}}}}} is not a field of the manifest"
                               + (" (page and pages exist only in headers and footers)"
                                  if path in PAGE_VARIABLES else ""))
            continue
        for name, arg in filters:
            reason = text.check_filter(name, arg, kind)
            if reason:
                ctx.problem(where, f"{{{{{expression}}}}}: {reason}")
            elif name == "currency" and not text.CURRENCY.fullmatch(arg) and \
                    ctx.type_of(arg) not in ("string", "enum"):
                ctx.problem(where, f"{{{{{expression}}}}}: {arg} is not a text field of the "
                                   "manifest holding a currency code")
            kind = None if name in ("upper", "lower", "default") else "string"


def _page(ctx: Context, page: object) -> None:
    if not isinstance(page, dict):
        ctx.problem("layout.page", "Expected object")
        return
    unknown(ctx, page, {"size", "orientation", "margin"}, "layout.page")
    if page.get("size", "A4") not in PAGE_SIZES:
        ctx.problem("layout.page.size", f"must be one of {', '.join(PAGE_SIZES)}")
    if page.get("orientation", "portrait") not in ("portrait", "landscape"):
        ctx.problem("layout.page.orientation", "must be portrait or landscape")
    margin = page.get("margin", 48)
    sides = margin if isinstance(margin, dict) else {"all": margin}
    if isinstance(margin, dict):
        unknown(ctx, margin, {"top", "right", "bottom", "left"}, "layout.page.margin")
    if not all(number(v) and 0 <= v <= 200 for v in sides.values()):
        ctx.problem("layout.page.margin", "must be points from 0 to 200, or "
                                          "{top, right, bottom, left} of such numbers")
    elif page.get("size", "A4") in PAGE_SIZES:
        width, height = content_box(page)
        if width <= 0 or height <= 0:
            ctx.problem("layout.page.margin",
                        f"the margins leave a content box of {round(width, 2):g} x "
                        f"{round(height, 2):g} pt; they must leave room on the page")


def content_box(page: dict) -> tuple[float, float]:
    """(width, height) of a linted page's content box: the page minus its margins (sides a
    margin object leaves out are 48 pt)."""
    width, height = PAGE_SIZES[page.get("size", "A4")]
    if page.get("orientation") == "landscape":
        width, height = height, width
    top, right, bottom, left = margins(page)
    return width - left - right, height - top - bottom


def margins(page: dict) -> tuple[float, float, float, float]:
    """(top, right, bottom, left) of a linted page."""
    margin = page.get("margin", 48)
    sides = margin if isinstance(margin, dict) else {}
    return tuple(sides.get(s, margin if not sides else 48)
                 for s in ("top", "right", "bottom", "left"))


def _output(ctx: Context, layout: dict) -> None:
    """The file's language and PDF/A level (craftkit/layout/metadata.py)."""
    lang = layout.get("lang", "en")
    if not (isinstance(lang, str) and LANG.fullmatch(lang)):
        ctx.problem("layout.lang", f"{errors.shorten(lang)} is not a language tag; give one like "
                                   "en, en-US or sr-Latn-RS (default: from the locale)")
    if "pdfa" in layout:
        if layout["pdfa"] not in metadata.PDFA_LEVELS:
            ctx.problem("layout.pdfa", f"must be one of {', '.join(metadata.PDFA_LEVELS)} "
                                       "(PDF/A-2b)")
        elif "protect" in layout:
            ctx.problem("layout.pdfa", "PDF/A forbids encryption: remove protect or pdfa")


def _watermark(ctx: Context, mark: object) -> None:
    if isinstance(mark, str):
        mark = {"text": mark}
    if not isinstance(mark, dict) or "text" not in mark:
        ctx.problem("layout.watermark", "Expected a text or {\"text\": \"…\", \"opacity\": 0.1}")
        return
    unknown(ctx, mark, {"text", "size", "opacity", "color", "if"}, "layout.watermark")
    template(ctx, mark["text"], "layout.watermark.text")
    in_range(ctx, mark, "size", "layout.watermark", 8, 300)
    in_range(ctx, mark, "opacity", "layout.watermark", 0.01, 1)
    if "color" in mark and not (isinstance(mark["color"], str) and COLOR.fullmatch(mark["color"])):
        ctx.problem("layout.watermark.color", "must be #RRGGBB")
    if "if" in mark:
        _condition(ctx, mark["if"], "layout.watermark.if")


def _blocks(ctx: Context, blocks: object, where: str, required: bool = False) -> None:
    if not isinstance(blocks, list) or (required and not blocks):
        ctx.problem(where, "Expected a non-empty array of blocks" if required
                    else "Expected an array of blocks")
        return
    if ctx.nesting > MAX_NESTING:
        ctx.problem(where, f"blocks are nested more than {MAX_NESTING} deep (keep, columns, if "
                           "and each inside one another)")
        return
    for index, block in enumerate(blocks):
        at = f"{where}.{index}"
        if not ctx.count(at):
            return
        if not isinstance(block, dict) or block.get("type") not in BLOCKS:
            ctx.problem(f"{at}.type", f"must be one of {', '.join(BLOCKS)}")
            continue
        allowed, check = BLOCKS[block["type"]]
        flows = block["type"] not in ("if", "each", "pagebreak")
        unknown(ctx, block, {"type", *allowed, *(FLOW_KEYS if flows else ())}, at)
        _font(ctx, block, at)
        check(ctx, block, at)
        if flows:
            _flow(ctx, block, at)


# Keys every block that takes room on the page may have (docs/layout.md, Spacing).
FLOW_KEYS = {"spaceAfter", "keepWithNext"}


def space(ctx: Context, block: dict, key: str, where: str, high: float) -> None:
    """A length of space: points from 0 to `high`, or a step of the spacing scale."""
    if key not in block:
        return
    value = block[key]
    if isinstance(value, str) and value in SPACE:
        return
    if not (number(value) and 0 <= value <= high):
        ctx.problem(f"{where}.{key}", f"must be points from 0 to {high:g} or a step of the "
                                      f"spacing scale: {', '.join(SPACE)}")


def _flow(ctx: Context, block: dict, where: str) -> None:
    space(ctx, block, "spaceAfter", where, 200)
    if not isinstance(block.get("keepWithNext", False), bool):
        ctx.problem(f"{where}.keepWithNext", "Expected boolean")


def _source(ctx: Context, block: dict, where: str) -> tuple[str, str] | None:
    """(array path in manifest terms, loop variable) for a table or an each block."""
    source, name = block.get("source"), block.get("as", "item")
    if not isinstance(name, str) or not NAME.fullmatch(name):
        ctx.problem(f"{where}.as", "must be a simple name")
        return None
    if not isinstance(source, str):
        ctx.problem(f"{where}.source", "must name an array field of the manifest")
        return None
    head, _, rest = source.partition(".")
    resolved = f"{ctx.scope[head]}[]" + (f".{rest}" if rest else "") if head in ctx.scope else source
    if ctx.paths.get(resolved) != "array":
        ctx.problem(f"{where}.source", "must name an array field of the manifest")
        return None
    return resolved, name


def _condition(ctx: Context, test: object, where: str) -> None:
    """`"path"` (true when present and not false, 0, "" or empty), or {path, equals} / {path, not}."""
    if isinstance(test, str):
        test = {"path": test}
    if not isinstance(test, dict) or not isinstance(test.get("path"), str):
        ctx.problem(where, "Expected a path, or {\"path\": …, \"equals\": …}")
        return
    unknown(ctx, test, {"path", "equals", "not"}, where)
    if ctx.type_of(test["path"]) is None:
        ctx.problem(where, f"{inputs.cut(test['path'])} is not a field of the manifest")
    if "not" in test and not isinstance(test["not"], bool):
        ctx.problem(f"{where}.not", "Expected boolean")


# -------------------------------------------------------------------------------------- blocks

def _title(ctx, block, where):
    template(ctx, block.get("text"), f"{where}.text")
    if block.get("align", "center") not in ALIGNS:
        ctx.problem(f"{where}.align", f"must be one of {', '.join(ALIGNS)}")


def _heading(ctx, block, where):
    _title(ctx, block, where)
    if block.get("level", 1) not in (1, 2, 3):
        ctx.problem(f"{where}.level", "must be 1, 2 or 3")


def _text(ctx, block, where):
    template(ctx, block.get("text"), f"{where}.text")
    if block.get("align", "left") not in (*ALIGNS, "justify"):
        ctx.problem(f"{where}.align", f"must be one of {', '.join(ALIGNS)}, justify")
    in_range(ctx, block, "size", where, 4, 72)
    for flag in ("bold", "italic"):
        if not isinstance(block.get(flag, False), bool):
            ctx.problem(f"{where}.{flag}", "Expected boolean")
    if "color" in block and not (isinstance(block["color"], str) and COLOR.fullmatch(block["color"])):
        ctx.problem(f"{where}.color", "must be #RRGGBB")


def _table(ctx, block, where):
    found = _source(ctx, block, where)
    inner = ctx.inner(scope={found[1]: found[0].removesuffix("[]")}) if found else ctx
    columns = block.get("columns")
    if not isinstance(columns, list) or not columns:
        ctx.problem(f"{where}.columns", "Expected a non-empty array of columns")
        return
    if not ctx.count(f"{where}.columns", len(columns)):
        return
    for index, column in enumerate(columns):
        at = f"{where}.columns.{index}"
        if not isinstance(column, dict):
            ctx.problem(at, "Expected object")
            continue
        unknown(ctx, column, {"header", "text", "align", "width"}, at)
        if not isinstance(column.get("header", ""), str):
            ctx.problem(f"{at}.header", "Expected string")
        template(inner, column.get("text"), f"{at}.text")
        if column.get("align", "left") not in ALIGNS:
            ctx.problem(f"{at}.align", f"must be one of {', '.join(ALIGNS)}")
        if "width" in column and not (number(column["width"]) and column["width"] > 0):
            ctx.problem(f"{at}.width", "must be a positive number of points")
    if not isinstance(block.get("zebra", False), bool):
        ctx.problem(f"{where}.zebra", "Expected boolean")
    if "totals" in block:
        totals = block["totals"]
        if not isinstance(totals, list) or len(totals) != len(columns):
            ctx.problem(f"{where}.totals", f"Expected one text per column ({len(columns)})")
        else:
            for index, cell in enumerate(totals):
                template(ctx, cell, f"{where}.totals.{index}")


def _spacer(ctx, block, where):
    space(ctx, block, "height", where, 800)


def _nothing(ctx, block, where):
    pass


def _rule(ctx, block, where):
    in_range(ctx, block, "thickness", where, 0.1, 10)


def _keep(ctx, block, where):
    _blocks(ctx.inner(nest=True), block.get("blocks"), f"{where}.blocks", required=True)


def _columns(ctx, block, where):
    columns = block.get("columns")
    if not isinstance(columns, list) or not 1 <= len(columns) <= 6:
        ctx.problem(f"{where}.columns", "Expected 1 to 6 columns")
        return
    for index, column in enumerate(columns):
        at = f"{where}.columns.{index}"
        if not isinstance(column, dict):
            ctx.problem(at, "Expected object")
            continue
        unknown(ctx, column, {"width", "blocks"}, at)
        if "width" in column and not (number(column["width"]) and column["width"] > 0):
            ctx.problem(f"{at}.width", "must be a positive number of points")
        _blocks(ctx.inner(nest=True), column.get("blocks"), f"{at}.blocks", required=True)
    space(ctx, block, "gap", where, 100)


def _if(ctx, block, where):
    _condition(ctx, block.get("test"), f"{where}.test")
    _blocks(ctx.inner(nest=True), block.get("then"), f"{where}.then", required=True)
    if "else" in block:
        _blocks(ctx.inner(nest=True), block["else"], f"{where}.else")


def _each(ctx, block, where):
    found = _source(ctx, block, where)
    inner = ctx.inner(nest=True, scope={found[1]: found[0].removesuffix("[]")} if found else {})
    _blocks(inner, block.get("blocks"), f"{where}.blocks", required=True)


def _qr(ctx, block, where):
    template(ctx, block.get("value"), f"{where}.value")
    in_range(ctx, block, "size", where, 24, 400)
    if block.get("align", "left") not in ALIGNS:
        ctx.problem(f"{where}.align", f"must be one of {', '.join(ALIGNS)}")


def _barcode(ctx, block, where):
    template(ctx, block.get("value"), f"{where}.value")
    if block.get("kind", "code128") not in BARCODES:
        ctx.problem(f"{where}.kind", f"must be one of {', '.join(BARCODES)}")
    in_range(ctx, block, "height", where, 10, 300)
    if block.get("align", "left") not in ALIGNS:
        ctx.problem(f"{where}.align", f"must be one of {', '.join(ALIGNS)}")
    if not isinstance(block.get("showText", True), bool):
        ctx.problem(f"{where}.showText", "Expected boolean")


def _image(ctx, block, where):
    name = block.get("asset")
    if not isinstance(name, str) or name not in ctx.assets:
        known = inputs.cut(", ".join(sorted(ctx.assets)), 200) or "none yet"
        ctx.problem(f"{where}.asset", f"{errors.shorten(name)} is not an asset of this template "
                                      f"(uploaded: {known}); upload it with PUT "
                                      "/v1/templates/{slug}/assets/{name} first")
    for key in ("width", "height"):
        in_range(ctx, block, key, where, 1, 2000)
    if "fit" in block:
        if block["fit"] not in codes.FITS:
            ctx.problem(f"{where}.fit", f"must be one of {', '.join(codes.FITS)}")
        elif not ("width" in block and "height" in block):
            ctx.problem(f"{where}.fit", "needs both width and height (the box the image fits); "
                                        "with one of them the image keeps its shape anyway")
    if block.get("align", "left") not in ALIGNS:
        ctx.problem(f"{where}.align", f"must be one of {', '.join(ALIGNS)}")


def image_assets(layout: dict) -> set[str]:
    """The asset names a (linted) layout uses: its images, wherever the image blocks are, and
    its uploaded fonts."""
    found: set[str] = {asset for styles in layout.get("fonts", {}).values()
                       for asset in styles.values()}

    def walk(node) -> None:
        if isinstance(node, dict):
            if node.get("type") == "image" and isinstance(node.get("asset"), str):
                found.add(node["asset"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(layout)
    return found


BLOCKS: dict[str, tuple[set[str], Callable]] = {
    "title": ({"text", "align", "font", "direction"}, _title),
    "heading": ({"text", "level", "align", "font", "direction"}, _heading),
    "text": ({"text", "align", "size", "bold", "italic", "color", "font", "direction"}, _text),
    "table": ({"source", "as", "columns", "zebra", "totals", "font"}, _table),
    "spacer": ({"height"}, _spacer),
    "rule": ({"thickness"}, _rule),
    "pagebreak": (set(), _nothing),
    "keep": ({"blocks"}, _keep),
    "columns": ({"columns", "gap"}, _columns),
    "if": ({"test", "then", "else"}, _if),
    "each": ({"source", "as", "blocks"}, _each),
    "qr": ({"value", "size", "align"}, _qr),
    "barcode": ({"value", "kind", "height", "align", "showText"}, _barcode),
    "image": ({"asset", "width", "height", "align", "fit"}, _image),
}
