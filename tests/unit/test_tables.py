import io

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
