"""Uploaded fonts: refused at upload when the renderer could not embed them; registered per render
under content-hash names, never more than REGISTERED_MAX at once."""

from __future__ import annotations

import io

import pdfplumber
import pypdf
import pytest
from fontTools.ttLib import TTFont
from reportlab.pdfbase.pdfmetrics import stringWidth

from craftkit.errors import InvalidTemplate
from craftkit.layout import RenderError, fonts, lint, render_pdf, uploads
from craftkit.manifest import Manifest

LATO = {style: fonts.FAMILIES["sans"].files[i].read_bytes()
        for i, style in enumerate(("regular", "bold", "italic", "boldItalic"))}
DEJAVU = fonts.DEJAVU.files[0].read_bytes()
MANIFEST = Manifest.parse({"fields": {"name": {"type": "string"}}})


def dejavu_width(text: str) -> float:
    fonts.register(fonts.DEJAVU)
    return stringWidth(text, fonts.DEJAVU.regular, 10)


def test_a_truetype_font_passes_and_what_cannot_embed_is_refused_saying_why():
    assert uploads.inspect(LATO["regular"]) == "font/ttf"
    refused = {
        "truncated": LATO["regular"][:30_000],
        "garbage": b"\x00\x01\x00\x00" + b"\xff" * 5000,
        "oversized": b"\x00\x01\x00\x00" + b"\x00" * uploads.MAX_FONT_BYTES,
        "cff": b"OTTO" + LATO["regular"][4:],
        "collection": b"ttcf" + b"\x00" * 100,
        "png": b"\x89PNG\r\n\x1a\n",
    }
    messages = {}
    for name, data in refused.items():
        with pytest.raises(uploads.BadFont) as caught:
            uploads.inspect(data)
        messages[name] = str(caught.value)
    assert "truncated or corrupt" in messages["truncated"]
    assert "truncated or corrupt" in messages["garbage"] or "cannot be used" in messages["garbage"]
    assert "at most 4 MiB" in messages["oversized"]
    assert "convert it to TrueType outlines" in messages["cff"]
    assert "collection" in messages["collection"]
    assert "one TrueType font" in messages["png"]


def layout(family: dict, text: str = "Brand **bold** 株") -> dict:
    return {"fonts": {"Brand": family}, "font": "Brand", "body": [{"type": "text", "text": text}]}


def fontnames(pdf: bytes) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for char in pdfplumber.open(io.BytesIO(pdf)).pages[0].chars:
        out.setdefault(char["text"], set()).add(char["fontname"].split("+", 1)[1])
    return out


def test_a_layout_draws_with_its_uploaded_family_and_falls_back_for_what_it_lacks():
    assets = {"brand.ttf": DEJAVU, "brand-bold.ttf": LATO["bold"]}
    spec = layout({"regular": "brand.ttf", "bold": "brand-bold.ttf"})
    lint(spec, MANIFEST, assets=set(assets), font_assets=set(assets))
    drawn = fontnames(render_pdf(spec, {}, assets=assets))
    [regular], [bold] = drawn["r"], drawn["o"]  # "r" only in Brand, "o" only in **bold**
    assert regular.startswith("u") and regular.endswith("-regular") and bold.endswith("-bold")
    assert regular[:-len("-regular")] == bold[:-len("-bold")]  # one family, one content hash
    assert drawn["株"] == {"NotoSansCJKtc-Regular"}


def renamed(data: bytes, name: str) -> bytes:
    """The font with the PostScript name inside its file changed to `name`."""
    font = TTFont(io.BytesIO(data))
    for record in font["name"].names:
        if record.nameID in (1, 4, 6):
            record.string = name
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def test_a_font_whose_file_names_itself_like_another_is_still_itself():
    """ReportLab keys faces by the name inside the file: an upload calling itself Lato-Regular
    (or another tenant's name) must neither be drawn as that font nor replace it."""
    ours = fontnames(render_pdf({"body": [{"type": "text", "text": "x"}]}, {}))["x"]
    impostor = renamed(DEJAVU, "Lato-Regular")
    theirs = render_pdf(layout({"regular": "r.ttf"}, "x"), {}, assets={"r.ttf": impostor})
    [char] = pdfplumber.open(io.BytesIO(theirs)).pages[0].chars
    assert char["width"] == pytest.approx(dejavu_width("x"), abs=0.01)  # DejaVu's "x", not Lato's
    assert fontnames(render_pdf({"body": [{"type": "text", "text": "x"}]}, {}))["x"] == ours


def test_two_layouts_with_the_same_regular_file_keep_their_own_bold():
    one = render_pdf(layout({"regular": "r.ttf", "bold": "b.ttf"}, "**b**"), {},
                     assets={"r.ttf": DEJAVU, "b.ttf": LATO["bold"]})
    two = render_pdf(layout({"regular": "r.ttf", "bold": "b.ttf"}, "**b**"), {},
                     assets={"r.ttf": DEJAVU, "b.ttf": LATO["boldItalic"]})
    assert fontnames(one)["b"] != fontnames(two)["b"]


def test_a_render_process_keeps_at_most_registered_max_uploaded_fonts(monkeypatch):
    monkeypatch.setattr(uploads, "REGISTERED_MAX", 2)
    for style in ("regular", "bold", "italic"):
        render_pdf(layout({"regular": "x.ttf"}, "x"), {}, assets={"x.ttf": LATO[style]})
    assert len(uploads.registered()) == 2
    render_pdf(layout({"regular": "x.ttf"}, "x"), {}, assets={"x.ttf": LATO["regular"]})


def test_lint_refuses_fonts_that_are_missing_images_or_badly_named():
    spec = {"fonts": {"Brand": {"regular": "logo.png", "bold": "none.ttf", "heavy": "x"},
                      "sans": {"regular": "b.ttf"}, "1x": {}},
            "font": "Other", "body": [{"type": "text", "text": "x", "font": "Brand"}]}
    with pytest.raises(Exception) as caught:
        lint(spec, MANIFEST, assets={"logo.png", "b.ttf"}, font_assets={"b.ttf"})
    problems = caught.value.field_errors
    assert "is an image, not a font" in problems["layout.fonts.Brand.regular"][0]
    assert "not an asset of this template" in problems["layout.fonts.Brand.bold"][0]
    assert "layout.fonts.Brand" in problems  # 'heavy' is not a style
    assert "layout.fonts.sans" in problems and "layout.fonts.1x" in problems
    assert "layout.font" in problems and "layout.body.0.font" not in problems


@pytest.mark.parametrize("text", ["שלום a**bc**", "שלום **ab**c", "مرحبا x**yz**"])
def test_a_word_changing_weight_in_a_shaped_paragraph_keeps_its_letters(text):
    """ReportLab shapes a word with its first font's glyph numbers: with a bold file whose
    glyphs are numbered otherwise, "a**bc**" drew "aMN", "**ab**c" a private-use glyph."""
    assets = {"r.ttf": LATO["regular"], "b.ttf": DEJAVU, "i.ttf": DEJAVU}
    spec = layout({"regular": "r.ttf", "bold": "b.ttf", "italic": "i.ttf"}, text)
    lint(spec, MANIFEST, assets=set(assets), font_assets=set(assets))
    drawn = fontnames(render_pdf(spec, {}, assets=assets))
    latin = {char for char in text if char.isascii() and char.isalpha()}
    assert latin <= set(drawn)
    assert all(char in latin or not char.isascii() or char.isspace() for char in drawn)


def huge_cmap(last: int = 0x10FFFF) -> bytes:
    """Lato with a 28-byte cmap (format 13) mapping every code point up to `last` to one glyph:
    ReportLab expands it into dicts of 190 MB."""
    from fontTools.ttLib.tables._c_m_a_p import CmapSubtable

    font = TTFont(io.BytesIO(LATO["regular"]))
    table = CmapSubtable.newSubtable(13)
    table.platformID, table.platEncID, table.language = 3, 10, 0
    glyph = font.getBestCmap()[ord("x")]
    table.cmap = {code: glyph for code in range(0x20, last + 1)}
    font["cmap"].tables.append(table)
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def test_a_font_mapping_all_of_unicode_is_refused_at_upload_and_at_render():
    data = huge_cmap()
    with pytest.raises(uploads.BadFont, match="maps 1,114,080 characters; at most 65,536"):
        uploads.inspect(data)
    with pytest.raises(RenderError, match="maps 1,114,080 characters"):
        render_pdf(layout({"regular": "x.ttf"}, "x"), {}, assets={"x.ttf": data})
    assert uploads.inspect(huge_cmap(0x2000)) == "font/ttf"  # an ordinary number of them


def overlapping_cmap(groups: int = 10, last: int = 0x2FFF) -> bytes:
    """Lato with a cmap (format 12) of `groups` identical ranges U+0020..`last`: ReportLab
    lists every character under its glyph once per range (10 ranges: 122,560 entries)."""
    import struct

    from fontTools.ttLib.tables.DefaultTable import DefaultTable

    ranges = b"".join(struct.pack(">III", 0x20, last, 3) for _ in range(groups))
    table = struct.pack(">HHIII", 12, 0, 16 + len(ranges), 0, groups) + ranges
    font = TTFont(io.BytesIO(LATO["regular"]))
    font.tables["cmap"] = DefaultTable("cmap")
    font["cmap"].data = struct.pack(">HHHHI", 0, 1, 3, 10, 12) + table
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def test_a_font_whose_cmap_ranges_overlap_is_refused_by_what_reportlab_holds():
    """12,256 characters, but 122,560 entries in ReportLab's lists; 50 ranges of all the BMP
    passed (65,504 characters) and cost a render process 133 MB."""
    with pytest.raises(uploads.BadFont, match="maps 122,560 characters"):
        uploads.inspect(overlapping_cmap())
    assert uploads.inspect(overlapping_cmap(groups=1)) == "font/ttf"


def padded(data: bytes, n: int) -> bytes:
    """The same font as another file (another content hash): ReportLab ignores the tail."""
    return data + b"\0" * 4 * (n + 1)


def test_a_layout_names_at_most_max_layout_fonts_files():
    assets = {f"f{i}.ttf": padded(LATO["regular"], i) for i in range(uploads.MAX_LAYOUT_FONTS + 1)}
    spec = {"fonts": {f"F{i}": {"regular": name} for i, name in enumerate(assets)},
            "body": [{"type": "text", "text": f"family {i}", "font": f"F{i}"}
                     for i in range(len(assets))]}
    with pytest.raises(InvalidTemplate) as caught:
        lint(spec, MANIFEST, assets=set(assets), font_assets=set(assets))
    assert "at most 8" in caught.value.field_errors["layout.fonts"][0]
    # Unlinted (a layout stored before the limit): a message, not ReportLab's KeyError for a
    # font unregistered while its own render still needed it.
    with pytest.raises(RenderError, match="names 9 font files; at most 8"):
        render_pdf(spec, {}, assets=assets)


def test_a_renders_own_fonts_stay_registered_and_the_rest_within_the_budget(monkeypatch):
    monkeypatch.setattr(uploads, "REGISTERED_MAX", 2)
    assets = {f"f{i}.ttf": padded(LATO["regular"], i) for i in range(uploads.MAX_LAYOUT_FONTS)}
    spec = {"fonts": {f"F{i}": {"regular": name} for i, name in enumerate(assets)},
            "body": [{"type": "text", "text": f"family {i}", "font": f"F{i}"}
                     for i in range(len(assets))]}
    pdf = render_pdf(spec, {}, assets=assets)
    assert len(pypdf.PdfReader(io.BytesIO(pdf)).pages[0]["/Resources"]["/Font"]) == 8
    render_pdf(layout({"regular": "x.ttf"}, "x"), {}, assets={"x.ttf": LATO["bold"]})
    assert len(uploads.registered()) == 2
    monkeypatch.setattr(uploads, "REGISTERED_MAX_BYTES", 1)
    render_pdf(layout({"regular": "x.ttf"}, "x"), {}, assets={"x.ttf": LATO["italic"]})
    assert len(uploads.registered()) == 1  # only the last render's own font


def test_an_unregistered_font_is_freed_with_what_was_cached_about_it(monkeypatch):
    """The code points of 64 fonts stayed cached after the fonts were unregistered (with a
    font mapping all of Unicode: 100 MB each)."""
    import gc
    import tracemalloc

    monkeypatch.setattr(uploads, "REGISTERED_MAX", 1)
    data = huge_cmap(0x4000)  # 16,000 characters

    def render(n: int) -> None:
        render_pdf(layout({"regular": "x.ttf"}, "x 株"), {}, assets={"x.ttf": padded(data, n)})

    render(0)
    tracemalloc.start()
    try:
        render(1)
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        for n in range(2, 5):
            render(n)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 2**20, grown


def test_a_render_out_of_memory_while_loading_fonts_is_not_a_font_problem(monkeypatch):
    """MemoryError became 'an uploaded font cannot be used: ' (no reason), and the render
    process, holding what it had allocated, went on rendering."""
    def out_of_memory(name, data):
        raise MemoryError

    monkeypatch.setattr(uploads, "_load", out_of_memory)
    with pytest.raises(MemoryError):
        render_pdf(layout({"regular": "x.ttf"}, "x"), {}, assets={"x.ttf": padded(DEJAVU, 7)})


def test_the_status_service_counts_a_fonts_character_ranges_before_it_queues_the_check():
    """A 650 kB font whose cmap has 100 ranges of the whole BMP took the only checker process
    8.5 s (its 5 s, then a new process): three of them made another project's upload wait
    26 s, past the gateway's 10 s."""
    import asyncio

    from craftkit.errors import InvalidAsset
    from services.status.templates import TemplateService

    service = TemplateService.__new__(TemplateService)
    service.font_checker, service.font_checks = None, {}
    with pytest.raises(InvalidAsset, match="maps 1,114,080 characters"):
        asyncio.run(service._font_facts(huge_cmap(), "project-a"))
    assert service.font_checker is None  # refused before any process was needed


def test_one_font_check_per_project_at_a_time_and_other_projects_go_past(monkeypatch):
    import asyncio

    from services.status.templates import TemplateService

    service = TemplateService.__new__(TemplateService)
    service.font_checker, service.font_checks = None, {}
    running: dict[str, int] = {}
    done: list[str] = []

    async def check(data: bytes) -> str:
        project = data.decode()[0]
        running[project] = running.get(project, 0) + 1
        assert running[project] == 1
        await asyncio.sleep(0.05)
        running[project] -= 1
        done.append(data.decode())
        return "font/ttf"

    monkeypatch.setattr(service, "_check_font", check)
    monkeypatch.setattr(uploads, "precheck", lambda data: None)

    async def uploads_of_two_projects():
        async def upload(name, delay):
            await asyncio.sleep(delay)
            return await service._font_facts(name.encode(), name[0])
        await asyncio.gather(*(upload(f"A{i}", 0) for i in range(4)), upload("B", 0.01))

    asyncio.run(uploads_of_two_projects())
    assert done.index("B") <= 1  # after the first of A's, not after all four
    assert service.font_checks == {}
