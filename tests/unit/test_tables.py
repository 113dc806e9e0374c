import io
import pytest

import pypdf
from reportlab.platypus import SimpleDocTemplate

from craftkit.layout.tables import Columns, Look, TableStream


def pages_of(stream: TableStream) -> list[str]:
    out = io.BytesIO()
    SimpleDocTemplate(out, invariant=1).build([stream])
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(out.getvalue())).pages]


def stream(rows: int, **kwargs) -> TableStream:
    return TableStream(["Name", "Qty"], [[f"row-{i:05d}", str(i)] for i in range(rows)],
                       Columns([None, 60], ["LEFT", "RIGHT"]), **kwargs)


def test_every_row_once_in_order_with_the_header_on_each_page():
    pages = pages_of(stream(500))
    assert len(pages) > 5
    assert all(page.startswith("Name") for page in pages)
    seen = [line.split()[0] for page in pages for line in page.splitlines() if line.startswith("row-")]
    assert seen == [f"row-{i:05d}" for i in range(500)]


def test_rows_of_several_lines_are_measured_and_never_cut():
    rows = [[f"row {i}\nsecond line\nthird", str(i)] for i in range(200)]
    pages = pages_of(TableStream(["Name", "Qty"], rows, Columns([None, 60], ["LEFT", "RIGHT"])))
    text = "\n".join(pages)
    assert text.count("third") == 200
    for page in pages:  # a row's three lines stay on one page
        assert page.count("row ") == page.count("third")


def test_the_totals_row_comes_once_after_the_last_row():
    pages = pages_of(stream(120, footer=["Total", "7140"]))
    assert "Total" not in "".join(pages[:-1])
    assert pages[-1].split()[-2:] == ["Total", "7140"]


def test_zebra_stripes_do_not_break_the_split():
    assert len(pages_of(stream(300, look=Look(zebra=True)))) > 3


# ------------------------------------------------------------------ wrapping, read back by position

import pdfplumber  # noqa: E402

from craftkit.layout import lint, render_pdf  # noqa: E402
from craftkit.layout.tables import GUTTER, wrap_plain  # noqa: E402
from craftkit.manifest import Manifest  # noqa: E402

MANIFEST = Manifest.parse({"fields": {
    "items": {"type": "array"}, "items[].name": {"type": "string"},
    "items[].qty": {"type": "integer"}, "items[].price": {"type": "number"},
    "items[].url": {"type": "string", "required": False}, "total": {"type": "number"}}})
MARGIN = 48
PAGE_WIDTH = 595.2756
RIGHT = PAGE_WIDTH - MARGIN  # the content box's right edge
QTY, PRICE = 40, 70  # column widths
ITEM_TEXT_RIGHT = RIGHT - PRICE - QTY - GUTTER / 2  # where the Item column's text must end
LONG = ("Annual enterprise support subscription including 24/7 phone support, on-site visits "
        "and a named engineer for every region you operate in")


def invoice(items: list[dict], name: str = "{{item.name}}", totals: list[str] | None = None,
            before: list[dict] = ()) -> dict:
    table = {"type": "table", "source": "items", "columns": [
        {"header": "Item", "text": name},
        {"header": "Qty", "text": "{{item.qty}}", "align": "right", "width": QTY},
        {"header": "Price", "text": "{{item.price | number:2}}", "align": "right", "width": PRICE}]}
    if totals:
        table["totals"] = totals
    layout = {"page": {"margin": MARGIN}, "body": [*before, table,
                                                    {"type": "text", "text": "Total: {{total}}",
                                                     "align": "right"}]}
    lint(layout, MANIFEST)
    return layout


def words(layout: dict, items: list[dict]) -> list[list[dict]]:
    """Each page's words with their positions and fonts."""
    pdf = render_pdf(layout, {"items": items, "total": 49.95})
    with pdfplumber.open(io.BytesIO(pdf)) as document:
        return [page.extract_words(extra_attrs=["fontname"]) for page in document.pages]


def row(name: str, qty: int = 1, price: float = 9.5) -> dict:
    return {"name": name, "qty": qty, "price": price}


def test_a_long_cell_wraps_inside_its_column_on_every_page():
    token = "".join(chr(65 + i % 26) for i in range(300))
    items = [row(LONG, 7, 1200), row(token, 8, 3), row("line one\nline two", 9, 4)] * 15
    pages = words(invoice(items), items)
    assert len(pages) > 1
    for page in pages:
        assert all(w["x1"] <= RIGHT + 0.5 for w in page), "nothing passes the right margin"
        item_words = [w for w in page if w["x0"] < ITEM_TEXT_RIGHT]
        assert all(w["x1"] <= ITEM_TEXT_RIGHT + 0.5 for w in item_words)
        assert all(w["x0"] >= MARGIN - 0.5 for w in page)
    flat = [w for page in pages for w in page]
    pieces = [w["text"] for w in flat if w["text"].isalpha() and w["text"].isupper()
              and len(w["text"]) > 5]
    assert "".join(pieces) == token * 15, "the long word is broken into lines, every letter kept"
    qty = [w["text"] for w in flat if w["x0"] > ITEM_TEXT_RIGHT and w["x1"] < RIGHT - PRICE]
    assert qty.count("Qty") == len(pages)
    assert [q for q in qty if q != "Qty"] == ["7", "8", "9"] * 15
    two = next(i for i, w in enumerate(flat) if w["text"] == "two")
    one = next(w for w in flat if w["text"] == "one")
    assert flat[two]["top"] > one["top"] and flat[two - 1]["text"] == "line"
    assert flat[two - 1]["x0"] == pytest.approx(MARGIN, abs=0.5), "a line break, not a wrap"


def test_every_row_once_in_order_when_rows_of_several_lines_fill_pages():
    items = [row(f"R{i:03d} {LONG}" if i % 3 else f"R{i:03d}", i) for i in range(200)]
    pages = words(invoice(items), items)
    seen = [w["text"] for page in pages for w in page if w["text"].startswith("R")
            and w["text"][1:].isdigit()]
    assert seen == [f"R{i:03d}" for i in range(200)]
    assert all(page[0]["text"] == "Item" for page in pages), "the header starts every page"


def test_a_row_taller_than_the_space_left_moves_to_the_next_page_whole():
    tall = "\n".join(f"tall{i:02d}" for i in range(30))
    for filler in range(30, 45):
        items = [row(f"short{i}") for i in range(filler)] + [row(tall)]
        pages = words(invoice(items), items)
        holding = {n for n, page in enumerate(pages) for w in page if w["text"].startswith("tall")}
        assert len(holding) == 1, f"the 30-line row split after {filler} rows"


def test_a_row_taller_than_a_page_splits_by_lines_under_the_header():
    tall = "\n".join(f"line{i:03d}" for i in range(150))
    items = [row("first"), row(tall, 2), row("last", 3)]
    pages = words(invoice(items), items)
    assert len(pages) >= 3
    assert all(page[0]["text"] == "Item" for page in pages)
    lines = [w["text"] for page in pages for w in page if w["text"].startswith("line")]
    assert lines == [f"line{i:03d}" for i in range(150)]
    text = [w["text"] for page in pages for w in page]
    assert text.index("first") < text.index("line000") and text.index("line149") < text.index("last")


def test_the_totals_row_takes_at_least_two_rows_with_it():
    for count in range(35, 60):  # every way the last page can fall
        items = [row(f"r{i}") for i in range(count)]
        pages = [[w["text"] for w in page] for page in
                 words(invoice(items, totals=["**Total**", "", "{{total}}"]), items)]
        holding = [page for page in pages if "Total" in page]
        assert len(holding) == 1 and holding[0].count("Total") == 1
        if len(pages) > 1:
            assert len([t for t in holding[0] if t.startswith("r")]) >= 2, count
        assert [t for page in pages for t in page if t.startswith("r")] == \
            [f"r{i}" for i in range(count)]


def test_a_page_never_ends_with_the_header_alone():
    for lines in range(40, 60):
        before = [{"type": "text", "text": "\n".join(["filler"] * lines)}]
        items = [row(f"r{i}") for i in range(5)]
        pages = words(invoice(items, before=before), items)
        for page in pages:
            texts = [w["text"] for w in page]
            if "Item" in texts:
                assert any(t.startswith("r") for t in texts[texts.index("Item"):]), lines


def test_markup_in_cells_and_totals_but_never_from_data():
    items = [row("**bold** item"), row("plain")]
    flat = [w for page in words(invoice(items, name="**{{item.name}}** x",
                                        totals=["**Total**", "", "{{total}}"]), items)
            for w in page]
    fonts = {w["text"]: w["fontname"] for w in flat}
    assert fonts["Total"].endswith("Lato-Bold") and fonts["plain"].endswith("Lato-Bold")
    assert "**bold**" in fonts and fonts["x"].endswith("Lato-Regular")


def test_right_aligned_text_lines_up_with_a_right_aligned_column():
    items = [row("a", 1, 9.99)]
    flat = [w for page in words(invoice(items), items) for w in page]
    price = next(w for w in flat if w["text"] == "9.99")
    total = next(w for w in flat if w["text"] == "49.95")
    assert price["x1"] == pytest.approx(total["x1"], abs=0.5) == pytest.approx(RIGHT, abs=0.5)
    assert next(w for w in flat if w["text"] == "a")["x0"] == pytest.approx(MARGIN, abs=0.5)


def test_wrap_plain_keeps_every_character_and_fits_the_width():
    text = f"{LONG}\n\n{'x' * 120} end"
    lines = wrap_plain(text, "Helvetica", 10, 100)
    from reportlab.pdfbase.pdfmetrics import stringWidth
    assert all(stringWidth(line, "Helvetica", 10) <= 100 for line in lines)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "").replace("\n", "")
    assert "" in lines  # the empty line between the two paragraphs


def test_a_short_word_a_little_wider_than_a_narrow_column_stays_whole():
    """The receipt's 28 pt Qty column: "Qty" reaches into the gutter rather than break."""
    assert wrap_plain("Qty", "Helvetica-Bold", 10, 16, slack=6) == ["Qty"]
    assert wrap_plain("Qty", "Helvetica-Bold", 10, 16) == ["Qt", "y"]
