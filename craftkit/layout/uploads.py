"""Fonts uploaded as template assets (`PUT /v1/templates/{slug}/assets/brand.ttf`).

Checked once, at upload, by `inspect` in a child process with a time and memory cap (the status
service kills it past them): a hostile file costs one short-lived process, never the service's
event loop or another tenant's upload. A render registers a layout's families with ReportLab
under names made of the files' content hashes (`families`): ReportLab's font registry is global
to the process, so a name is what a tenant could collide with or reach; a hash is neither
guessable nor reachable (inline markup cannot name a font), and two tenants with the same files
share one harmless entry. A render process keeps at most REGISTERED_MAX uploaded fonts, costing at
most REGISTERED_MAX_BYTES, besides the fonts of the render under way (at most MAX_LAYOUT_FONTS);
a font mapping more than MAX_FONT_CHARACTERS characters is refused at upload (a tiny cmap can
map all of Unicode, which ReportLab expands into 190 MB of dicts).
"""

from __future__ import annotations

import hashlib
import io
import re
import struct
from collections import OrderedDict

from craftkit.layout.fonts import Family

MAGIC = {b"\x00\x01\x00\x00": "font/ttf", b"true": "font/ttf", b"OTTO": "font/otf",
         b"ttcf": "font/collection"}
MAX_FONT_BYTES = 4 * 2**20  # a brand font is 50-500 kB; Noto Sans CJK, the largest, 16 MB
# Characters a font may map: ReportLab keeps a few dicts entries per character (about 300
# bytes each), and a 1 kB cmap (format 13) can map all of Unicode to one glyph: 190 MB.
MAX_FONT_CHARACTERS = 65_536
MAX_LAYOUT_FONTS = 8  # font files one layout names: two families of four styles
CHECK_SECONDS = 5.0  # within the gateway's 10 s call to the status service, with its start
CHECK_MEMORY_MB = 256
REGISTERED_MAX = 32
# What the uploaded fonts a render process keeps between renders may cost (`cost`); the fonts
# of the render under way are kept whatever they cost (at most MAX_LAYOUT_FONTS of them).
REGISTERED_MAX_BYTES = 64 * 2**20
STYLES = ("regular", "bold", "italic", "boldItalic")
FAMILY_NAME = re.compile(r"[A-Za-z][A-Za-z0-9 _-]{0,39}")


class BadFont(Exception):
    """What is wrong with an uploaded font, in words for the uploader (400 invalid_asset)."""


def is_font(data: bytes) -> bool:
    return data[:4] in MAGIC


def inspect(data: bytes) -> str:
    """The content type of a font the renderer can embed, or BadFont saying what is wrong. Parses
    the whole font and embeds a subset of it once, as a render would. Run it in a child process
    with a time and memory cap: a crafted font can make a parser loop or allocate."""
    if len(data) > MAX_FONT_BYTES:
        raise BadFont(f"the font is {len(data) / 2**20:.1f} MiB; at most "
                      f"{MAX_FONT_BYTES // 2**20} MiB")
    kind = MAGIC.get(data[:4])
    if kind == "font/otf":
        raise BadFont("this OpenType font has PostScript (CFF) outlines, which the renderer "
                      "cannot embed: convert it to TrueType outlines (e.g. fontTools' otf2ttf) "
                      "or upload the font's .ttf")
    if kind != "font/ttf":
        raise BadFont("a font must be one TrueType font (.ttf, or .otf with TrueType outlines)"
                      + ("; this is a collection (.ttc): upload one of its fonts" if kind else ""))
    precheck(data)
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFError
    from reportlab.pdfgen.canvas import Canvas

    name = "check-" + hashlib.sha256(data).hexdigest()[:24]
    font = None
    try:
        font = _load(name, data)
        mapped = entries(font)
        if mapped > MAX_FONT_CHARACTERS:
            raise BadFont(f"the font maps {mapped:,} characters; at most "
                          f"{MAX_FONT_CHARACTERS:,} (one per character it draws)")
        if max(font.face.charToGlyph, default=0) > 0x10FFFF:
            raise BadFont("the font maps code points beyond Unicode (over U+10FFFF)")
        sample = [chr(c) for c in sorted(font.face.charToGlyph) if c >= 0x20][:200]
        if not sample:
            raise BadFont("the font maps no characters (no usable Unicode cmap)")
        pdfmetrics.registerFont(font)
        canvas = Canvas(io.BytesIO())
        canvas.setFont(name, 12)
        canvas.drawString(10, 10, "".join(sample))
        canvas.save()  # subsets and embeds: the part of a render that reads every glyph used
    except BadFont:
        raise
    except TTFError as exc:
        raise BadFont(f"the font cannot be used: {_cut(exc)}") from None
    except Exception as exc:  # noqa: BLE001 - any parser failure on hostile bytes is the file's
        raise BadFont(f"the font is truncated or corrupt ({type(exc).__name__}: {_cut(exc)})") \
            from None
    finally:
        if font is not None:
            font.unregister()
    return kind


def precheck(data: bytes) -> None:
    """BadFont when the font's character maps (any of them) map more than MAX_FONT_CHARACTERS
    code points, counted from their ranges without expanding them: ReportLab expands the one
    it uses code point by code point, and a few bytes of ranges (overlapping, or up to
    U+FFFFFFFF) keep it busy for seconds and hundreds of MB. Cheap (a loop over the ranges):
    the status service runs it before it queues the font for `inspect`."""
    if len(data) > MAX_FONT_BYTES:
        raise BadFont(f"the font is {len(data) / 2**20:.1f} MiB; at most "
                      f"{MAX_FONT_BYTES // 2**20} MiB")
    try:
        mapped = max(_cmap_sizes(data), default=0)
    except struct.error:
        raise BadFont("the font is truncated or corrupt (its character map is cut)") from None
    if mapped > MAX_FONT_CHARACTERS:
        raise BadFont(f"the font maps {mapped:,} characters; at most "
                      f"{MAX_FONT_CHARACTERS:,} (one per character it draws)")


def _cmap_sizes(data: bytes):
    """How many code points each subtable of the font's cmap maps (ranges summed, so
    overlapping ranges count each time, as ReportLab lists them)."""
    tables = struct.unpack_from(">H", data, 4)[0]
    for record in range(min(tables, 256)):
        tag, _, offset, _ = struct.unpack_from(">4sIII", data, 12 + 16 * record)
        if tag == b"cmap":
            break
    else:
        return
    count = struct.unpack_from(">H", data, offset + 2)[0]
    for index in range(count):
        sub = offset + struct.unpack_from(">I", data, offset + 8 + 8 * index)[0]
        kind = struct.unpack_from(">H", data, sub)[0]
        if kind == 4:
            segments = struct.unpack_from(">H", data, sub + 6)[0] // 2
            ends = struct.unpack_from(f">{segments}H", data, sub + 14)
            starts = struct.unpack_from(f">{segments}H", data, sub + 16 + 2 * segments)
            yield sum(end - start + 1 for start, end in zip(starts, ends) if end >= start)
        elif kind in (12, 13):
            groups = struct.unpack_from(">I", data, sub + 12)[0]
            if groups * 12 > len(data):
                raise struct.error("more groups than bytes")
            values = struct.unpack_from(f">{3 * groups}I", data, sub + 16)  # one C call
            yield sum(end - start + 1 for start, end in zip(values[::3], values[1::3])
                      if end >= start)
        elif kind in (6, 10):
            yield struct.unpack_from(">H" if kind == 6 else ">I", data,
                                     sub + (8 if kind == 6 else 16))[0]


def entries(font) -> int:
    """The characters a loaded font maps, as ReportLab holds them: overlapping ranges of its
    cmap count each time (ReportLab lists a character under its glyph once per range)."""
    face = font.face
    return max(len(face.charToGlyph), sum(len(chars) for chars in face.glyphToChar.values()))


def _load(name: str, data: bytes):
    """A ReportLab TTFont of `data` named `name`, its face renamed `name` too: ReportLab keys
    loaded faces by the name inside the file, and registering a second font whose file says
    the same name silently hands out the first (another tenant's, or one of ours)."""
    from reportlab.pdfbase.ttfonts import TTFont

    font = TTFont(name, io.BytesIO(data))
    font.face.name = name.encode("ascii")
    return font


def _cut(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 160 else text[:159] + "…"


# --------------------------------------------------------------------------------- at render

_registered: OrderedDict[str, int] = OrderedDict()  # font name -> its cost, oldest first
NO_FILE = hashlib.sha256(b"").digest()
"""A style a family leaves out, in the family's content hash."""


def families(declared: dict, assets: dict[str, bytes]) -> dict[str, Family]:
    """The layout's `fonts` ({"Brand": {"regular": "brand.ttf", "bold": …}}) as registered
    families. A missing style draws the regular one (bold italic: the bold one)."""
    from reportlab.lib.fonts import addMapping

    files = {name: {style: assets[styles[style]] for style in STYLES if style in styles}
             for name, styles in declared.items()}
    digests = {name: {style: hashlib.sha256(data).digest() for style, data in styles.items()}
               for name, styles in files.items()}  # each file hashed once (up to 4 MiB each)
    distinct = {digest for styles in digests.values() for digest in styles.values()}
    if len(distinct) > MAX_LAYOUT_FONTS:
        raise BadFont(f"the layout names {len(distinct)} font files; at most "
                      f"{MAX_LAYOUT_FONTS}")
    out, used = {}, set()
    for name, styles in files.items():
        key = hashlib.sha256(b"".join(digests[name].get(s, NO_FILE)
                                      for s in STYLES)).hexdigest()[:24]
        names = {style: _register(f"u{key}-{style}", data) for style, data in styles.items()}
        used.update(names.values())
        regular = names["regular"]
        family = Family(regular, names.get("bold", regular), names.get("italic", regular),
                        names.get("boldItalic", names.get("bold", regular)))
        for bold, italic in ((0, 0), (1, 0), (0, 1), (1, 1)):
            addMapping(regular, bold, italic, family.style(bold, italic))
        out[name] = family
    _evict(keep=used)
    return out


def _register(name: str, data: bytes) -> str:
    """Registers the font once per process under `name` (the family's content hash)."""
    from reportlab.pdfbase import pdfmetrics

    if name in _registered:
        _registered.move_to_end(name)
        return name
    font = _load(name, data)
    if (mapped := entries(font)) > MAX_FONT_CHARACTERS:  # stored before uploads checked it
        raise BadFont(f"an uploaded font maps {mapped:,} characters; at most "
                      f"{MAX_FONT_CHARACTERS:,}: upload it again, subset")
    pdfmetrics.registerFont(font)
    _registered[name] = cost(data, font)
    return name


def cost(data: bytes, font) -> int:
    """About what a registered font holds in memory, in bytes: its file (twice: uharfbuzz
    keeps a copy to shape with) and ReportLab's dicts, per character and per glyph (measured:
    30 registered Lato files held 89 MB, 3 MB each)."""
    return 2 * len(data) + 500 * (entries(font) + font.face.numGlyphs)


def _evict(keep: set[str]) -> None:
    """Unregisters the least recently used fonts, but none of `keep` (the render's own), while
    there are more than REGISTERED_MAX or they cost more than REGISTERED_MAX_BYTES."""
    from reportlab.pdfbase import pdfmetrics

    total = sum(_registered.values())
    for old in list(_registered):
        if len(_registered) <= REGISTERED_MAX and total <= REGISTERED_MAX_BYTES:
            break
        if old in keep:
            continue
        total -= _registered.pop(old)
        pdfmetrics.getFont(old).unregister()


def registered() -> list[str]:
    """The uploaded fonts this process holds, oldest first (for tests and the bound)."""
    return list(_registered)
