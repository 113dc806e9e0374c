"""Fonts per run of text: what a reader of the PDF sees, read back with pdfplumber, pypdf and
pypdfium2 (which orders right-to-left text back into logical order, as a reader's copy does)."""

from __future__ import annotations

import io
import re

import pdfplumber
import pypdf
import pypdfium2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from craftkit.errors import InvalidTemplate
from craftkit.layout import fonts, lint, render_pdf
from craftkit.manifest import Manifest

MANIFEST = Manifest.parse({"fields": {"name": {"type": "string"}}})


def render(*blocks, **layout) -> bytes:
    layout = {"body": list(blocks), **layout}
    lint(layout, MANIFEST)
    return render_pdf(layout, {"name": "x"})


def chars(pdf: bytes) -> list[dict]:
    return pdfplumber.open(io.BytesIO(pdf)).pages[0].chars


def font_of(char: dict) -> str:
    return char["fontname"].split("+", 1)[1]  # the subset prefix (AAAAAA+) aside


def logical_text(pdf: bytes) -> str:
    return pypdfium2.PdfDocument(pdf)[0].get_textpage().get_text_range()


def test_one_non_latin_character_changes_the_font_of_no_other_text():
    pdf = render({"type": "text", "text": "Kovács Ödön"},
                 {"type": "text", "text": "Őrség Kft 株 and שלום in one line"},
                 {"type": "title", "text": "Invoice"})
    drawn = chars(pdf)
    assert {font_of(c) for c in drawn if c["text"] == "株"} == {"NotoSansCJKtc-Regular"}
    assert {font_of(c) for c in drawn if c["text"] in "שלום"} == {"DejaVuSans"}
    others = {font_of(c) for c in drawn if c["text"] not in "株שלום" and c["size"] == 10}
    assert others == {"Lato-Regular"}
    assert {font_of(c) for c in drawn if c["size"] == 20} == {"Lato-Bold"}


def test_every_font_of_a_mixed_script_document_is_embedded():
    pdf = render({"type": "title", "text": "Invoice فاتورة 123"},
                 {"type": "text", "text": "Ωμέγα Привет 株式会社 שלום नमस्ते ภาษาไทย **bold** *it*"},
                 {"type": "text", "text": "Serif Őrség", "font": "serif"},
                 {"type": "text", "text": "Mono 0123", "font": "mono"},
                 header=[{"type": "text", "text": "東京 {{page}}/{{pages}}"}],
                 watermark="ЧЕРНОВИК")
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    used = [f.get_object() for f in reader.pages[0]["/Resources"]["/Font"].values()]
    names = {str(f["/BaseFont"]).split("+")[-1] for f in used}
    assert {"Lato-Bold", "Lato-Regular", "IBMPlexSansArabic-Bold", "NotoSansCJKtc-Regular",
            "DejaVuSans", "NotoSansDevanagari-Regular", "NotoSansThai-Regular",
            "IBMPlexSerif-Regular", "IBMPlexMono-Regular"} <= names
    assert all("/FontFile2" in f["/FontDescriptor"] for f in used)


@pytest.mark.parametrize("text", [
    "株式会社 東京都 請求書", "한국어 かな カナ", "חשבונית מס 2026", "Invoice חשבונית 123",
    "فاتورة رقم 123", "مرحبا بالعالم", "لا إله", "Invoice فاتورة", "الإجمالي: 1,234.50 ر.س",
])
def test_cjk_arabic_and_hebrew_extract_back_in_logical_order(text):
    assert logical_text(render({"type": "text", "text": text})).strip() == text


def test_shaping_makes_no_discretionary_ligature():
    """A paragraph with Hebrew is shaped; the CJK font's discretionary ligature would draw (and
    extract) 株式会社 as the one sign ㍿."""
    text = logical_text(render({"type": "text", "text": "株式会社サンヒル שלום office"}))
    assert "株式会社" in text and "\u337f" not in text


def test_right_to_left_paragraphs_read_from_the_right_and_align_right():
    drawn = chars(render({"type": "text", "text": "שלום עולם"},
                         {"type": "text", "text": "שלום עולם", "direction": "ltr"}))
    first, second = ([c for c in drawn if c["top"] < 60], [c for c in drawn if c["top"] >= 60])
    shin = next(c for c in first if c["text"] == "ש")
    ayin = next(c for c in first if c["text"] == "ע")
    assert shin["x0"] > ayin["x0"]  # the first word is the rightmost
    assert max(c["x1"] for c in first) > max(c["x1"] for c in second) + 300  # right-aligned


def test_arabic_is_joined_with_an_arabic_font():
    drawn = chars(render({"type": "text", "text": "فاتورة"}))
    assert {font_of(c) for c in drawn} == {"IBMPlexSansArabic-Regular"}
    # Joined letters are narrower than the same letters drawn apart (isolated forms).
    isolated = sum(c["width"] for c in chars(render({"type": "text", "text": " ".join("فاتورة")}))
                   if c["text"] != " ")
    assert sum(c["width"] for c in drawn) < isolated


def test_fallback_markup_wraps_only_what_the_font_lacks_and_keeps_the_tags():
    sans = fonts.family("sans").regular
    assert fonts.covered("Kovács Őrség Ωμέγα", sans)
    assert not fonts.covered("株", sans) and not fonts.covered("שלום", sans)
    assert (fonts.fallback_markup("<b>Őrség 株式</b> &amp; Ж", sans)
            == '<b>Őrség <font face="NotoSansCJK">株式</font></b> &amp; Ж')


def test_families_are_selectable_and_the_old_values_mean_sans():
    drawn = chars(render({"type": "text", "text": "Serif"}, {"type": "text", "text": "Mono",
                                                             "font": "mono"}, font="serif"))
    assert {font_of(c) for c in drawn if c["text"] in "Serif"} == {"IBMPlexSerif-Regular"}
    assert {font_of(c) for c in drawn if c["text"] in "Mono"} == {"IBMPlexMono-Regular"}
    for old in ("auto", "Helvetica", "DejaVuSans"):
        assert {font_of(c) for c in chars(render({"type": "text", "text": "x"}, font=old))} \
            == {"Lato-Regular"}


def test_lint_names_an_unknown_font_or_direction():
    with pytest.raises(InvalidTemplate) as caught:
        render({"type": "text", "text": "x", "font": "Comic", "direction": "up"}, font="Arial")
    problems = caught.value.field_errors
    assert "layout.font" in problems and "layout.body.0.font" in problems
    assert "layout.body.0.direction" in problems


def test_no_font_is_left_unembedded_in_any_sample():
    from craftkit.demo import SAMPLES, sample, sample_assets

    for name in SAMPLES:
        spec = sample(name)
        reader = pypdf.PdfReader(io.BytesIO(render_pdf(spec["layout"], spec["example"],
                                                       assets=sample_assets(name))))
        for page in reader.pages:
            for font in page["/Resources"]["/Font"].values():
                font = font.get_object()
                assert "/FontDescriptor" in font, (name, font["/BaseFont"])
                assert "/FontFile2" in font["/FontDescriptor"], (name, font["/BaseFont"])


ALPHABET = "aZ Ő Ωж 株か ש فاتورة नम ไท 12,.:-&<>\"'*\n"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=40), st.sampled_from(["auto", "ltr", "rtl"]),
       st.booleans())
def test_fallback_markup_loses_no_character_and_always_lays_out(template, direction, bold):
    """Whatever the text (scripts, markup characters, **bold**, line breaks), the markup made
    parses, lays out, and holds every character it was given (plus the hair spaces that split
    a word changing font in a shaped paragraph)."""
    from html import unescape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import Paragraph

    from craftkit.layout.text import markup

    source = markup(template.replace("*", "**"), {})
    family = fonts.family("sans")
    made = fonts.fallback_markup(source, family.style(bold, False), direction)
    style = ParagraphStyle("t", fontName=family.style(bold, False), shaping=1)
    Paragraph(made, style).wrap(200, 1000)

    def letters(text: str) -> list[str]:
        plain = unescape(re.sub(r"<[^>]*>", "", text.replace("<br/>", " ")))
        return sorted(c for c in plain if not c.isspace() and c != "\u200a")

    assert letters(made) == letters(source)


HEBREW_WORDS = "אחד שתיים שלוש ארבע חמש שש שבע שמונה תשע עשר".split()


def reading_order(pdf: bytes) -> list[str]:
    """The words of every page, lines top to bottom, in logical order (pypdfium2 reads each line
    of right-to-left text back into logical order)."""
    document = pypdfium2.PdfDocument(pdf)
    return [word for page in document for word in page.get_textpage().get_text_range().split()]


def hebrew_words(pdf: bytes) -> list[str]:
    """The Hebrew words as a reader reads them: lines top to bottom, each line's Hebrew words
    from the right (pdfplumber gives each word's letters as drawn, left to right)."""
    out = []
    for page in pdfplumber.open(io.BytesIO(pdf)).pages:
        lines: dict[int, list[dict]] = {}
        for word in page.extract_words():
            lines.setdefault(round(word["top"]), []).append(word)
        for top in sorted(lines):
            out += [w["text"][::-1] for w in sorted(lines[top], key=lambda w: -w["x0"])
                    if re.search("[\u0590-\u05ff]", w["text"])]
    return out


@pytest.mark.parametrize("direction", ["auto", "rtl"])
def test_a_right_to_left_paragraph_that_wraps_keeps_its_lines_in_order(direction):
    text = " ".join(HEBREW_WORDS * 4)
    pdf = render({"type": "text", "text": text, "direction": direction}, page={"size": "A6"})
    assert len({round(c["top"]) for c in chars(pdf)}) >= 3
    assert hebrew_words(pdf) == text.split()
    assert reading_order(pdf) == text.split()


def test_a_left_to_right_paragraph_with_a_long_hebrew_phrase_keeps_its_order():
    text = "Invoice " + " ".join(HEBREW_WORDS * 3) + " paid"
    pdf = render({"type": "text", "text": text}, page={"size": "A6"})
    assert hebrew_words(pdf) == HEBREW_WORDS * 3
    drawn = pdfplumber.open(io.BytesIO(pdf)).pages[0].extract_words()
    assert drawn[0]["text"] == "Invoice" and drawn[-1]["text"] == "paid"
    assert drawn[0]["x0"] == min(w["x0"] for w in drawn)  # the paragraph starts at the left


def test_a_right_to_left_paragraph_keeps_its_line_breaks_markup_and_every_word():
    text = ("**" + " ".join(HEBREW_WORDS[:5]) + "** " + " ".join(HEBREW_WORDS * 2) + "\n" +
            " ".join(HEBREW_WORDS[::-1] * 2))
    pdf = render({"type": "text", "text": text}, page={"size": "A6"})
    assert reading_order(pdf) == text.replace("**", "").split()


def test_a_justified_right_to_left_paragraph_justifies_its_wrapped_lines():
    text = " ".join(HEBREW_WORDS * 4)
    pdf = render({"type": "text", "text": text, "align": "justify"}, page={"size": "A6"})
    lines: dict[int, list[dict]] = {}
    for char in chars(pdf):
        lines.setdefault(round(char["top"]), []).append(char)
    full = [lines[top] for top in sorted(lines)][:-1]
    assert len(full) >= 2
    assert len({round(min(c["x0"] for c in line)) for line in full}) == 1  # every line but
    assert len({round(max(c["x1"] for c in line)) for line in full}) == 1  # the last: full width
    assert hebrew_words(pdf) == text.split()


def test_a_right_to_left_table_cell_that_wraps_keeps_its_lines_in_order():
    text = " ".join(HEBREW_WORDS * 3)
    layout = {"body": [{"type": "table", "source": "rows", "as": "row", "columns": [
        {"header": "#", "text": "1", "width": 30}, {"header": "Name", "text": "{{row.name}}"},
        {"header": "Amount", "text": "9.50", "width": 60, "align": "right"}]}]}
    manifest = Manifest.parse({"fields": {"rows": {"type": "array"},
                                          "rows[].name": {"type": "string"}}})
    lint(layout, manifest)
    pdf = render_pdf(layout, {"rows": [{"name": text}] * 2})
    assert hebrew_words(pdf) == text.split() * 2


def test_a_right_to_left_word_wider_than_the_line_reads_piece_after_piece():
    word = "".join("אבגדהוזחטיכלמנסעפצקרשת"[i % 22] for i in range(300))
    layout = {"body": [{"type": "text", "text": "שלום {{name}} סוף"}]}
    lint(layout, MANIFEST)
    pdf = render_pdf(layout, {"name": word})
    lines: dict[int, list[dict]] = {}
    for char in chars(pdf):
        lines.setdefault(round(char["top"]), []).append(char)
    assert len(lines) >= 3
    read = "".join(c["text"] for top in sorted(lines)
                   for c in sorted(lines[top], key=lambda c: -c["x0"]))
    assert read.replace(" ", "") == "שלום" + word + "סוף"


@pytest.mark.parametrize("text, font, letters, drawn_in", [
    ("**مرحبا** world", "sans", "مرحبا", "IBMPlexSansArabic-Bold"),
    ("x **שלום** y", "sans", "שלום", "DejaVuSans-Bold"),
    ("**Ωμέγα** x", "serif", "Ωμέγα", "DejaVuSans-Bold"),
    ("*Ωμέγα* x", "serif", "Ωμέγα", "DejaVuSans-Oblique"),
    ("***Ωμέγα*** x", "serif", "Ωμέγα", "DejaVuSans-BoldOblique"),
])
def test_bold_and_italic_markup_reach_the_fallback_runs_inside_them(text, font, letters,
                                                                    drawn_in):
    drawn = chars(render({"type": "text", "text": text}, font=font))
    assert {font_of(c) for c in drawn if c["text"] in letters} == {drawn_in}
    assert {font_of(c) for c in drawn if c["text"] in "xyworld"} <= {
        "Lato-Regular", "IBMPlexSerif-Regular"}


@pytest.mark.parametrize("text", ["x**مرحبا**", "مر**حبا** x", "ש**לום** עולם"])
def test_a_shaped_word_changing_weight_renders(text):
    """ReportLab shapes a word with its first font's glyph numbers: "x**مرحبا**" (x in the
    Arabic regular font, the rest in its bold) failed with AttributeError hbAddPrivate."""
    assert logical_text(render({"type": "text", "text": text})).replace("\u200a", "") \
        .replace(" ", "") == text.replace("*", "").replace(" ", "")


@pytest.mark.parametrize("value, named", [
    ("a\ue123b", "U+E123"), ("a\u0378b", "U+0378"), ("a\ud800b", "U+D800"), ("a\x1bb", "U+001B"),
])
def test_a_character_only_a_notdef_would_draw_fails_naming_it(value, named):
    """Private use, unassigned, lone surrogates, controls: Lato's empty .notdef glyph, copied
    out as NUL, where the docs promise an error naming the character."""
    from craftkit.layout import RenderError

    layout = {"body": [{"type": "text", "text": "{{name}}"}]}
    lint(layout, MANIFEST)
    with pytest.raises(RenderError, match=f"no font here has a glyph for .*{re.escape(named)}"):
        render_pdf(layout, {"name": value})


def test_format_characters_draw_nothing_and_do_not_fail():
    layout = {"body": [{"type": "text", "text": "{{name}}"}]}
    lint(layout, MANIFEST)
    render_pdf(layout, {"name": "a\u200db\u200ec\u00add\ufeff"})


@pytest.mark.parametrize("text", ["x \ue0009\ue001 y", "[a](\ue0000\ue001)"])
def test_the_markers_markup_holds_values_with_cannot_come_from_a_template(text):
    """A template holding U+E000 digits U+E001 linted and failed with IndexError (or showed a
    data value where it stood)."""
    from craftkit.layout import RenderError

    with pytest.raises(InvalidTemplate) as caught:
        lint({"body": [{"type": "text", "text": text}]}, MANIFEST)
    assert "U+E000" in caught.value.field_errors["layout.body.0.text"][0]
    with pytest.raises(RenderError, match=r"U\+E000"):
        render_pdf({"body": [{"type": "text", "text": text}]}, {})


def test_more_than_thirty_combining_marks_on_one_character_fail_naming_it():
    """1,000 fathas on one letter were stacked by the shaper up to 1,246 pt above the page."""
    from craftkit.layout import RenderError

    layout = {"body": [{"type": "text", "text": "{{name}}"}]}
    lint(layout, MANIFEST)
    with pytest.raises(RenderError, match="1,000 combining marks on one character .*U\\+0628"):
        render_pdf(layout, {"name": "ب" + "\u064e" * 1000 + " x"})
    pdf = render_pdf(layout, {"name": "ب" + "\u064e" * 30 + " x" + " e\u0301" * 200})
    assert min(c["top"] for c in chars(pdf)) > 0  # on the page
