"""The PDF file around the pages: dates, title, language, PDF/A-2b, read back with pypdf."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from xml.dom.minidom import parseString

import pypdf
import pytest
from PIL import Image

from craftkit.errors import InvalidTemplate
from craftkit.layout import RenderError, lint, render_pdf
from craftkit.manifest import Manifest

MANIFEST = Manifest.parse({"fields": {"number": {"type": "string"}}})
DATA = {"number": ""}
PDFA = {"pdfa": "2b", "font": "DejaVuSans", "locale": "de_DE",
        "metadata": {"title": "Rechnung {{number}} <Ölmühle & Co>", "author": "Ölmühle GmbH",
                     "subject": "Rechnung", "keywords": "rechnung, öl"},
        "body": [{"type": "text",
                  "text": "Zahlen: [online](https://example.com/pay) · Überweisung"}]}


def read(layout: dict, data: dict = DATA, **kwargs) -> pypdf.PdfReader:
    lint(layout, MANIFEST)
    return pypdf.PdfReader(io.BytesIO(render_pdf(layout, data, **kwargs)))


def pdf_date(value: str) -> datetime:
    """D:YYYYMMDDHHmmSS+00'00' (or Z) as an aware datetime; anything else fails the match."""
    found = re.fullmatch(r"D:(\d{14})(Z|\+00'00')", value)
    assert found, f"{value!r} is not a UTC PDF date"
    return datetime.strptime(found[1], "%Y%m%d%H%M%S").replace(tzinfo=UTC)


def test_the_file_is_dated_now_in_utc_and_its_title_is_one_trimmed_line():
    reader = read({"metadata": {"title": "Invoice {{number}}", "author": "  Acme\n Corp\t"},
                   "body": [{"type": "text", "text": "x"}]})
    info = reader.metadata
    for key in ("/CreationDate", "/ModDate"):
        assert abs(pdf_date(info[key]) - datetime.now(UTC)) < timedelta(minutes=1)
    assert info.title == "Invoice" and info.author == "Acme Corp"
    assert info.creator == "Craftkit" and info.producer.startswith("ReportLab ")


def test_the_language_is_the_layouts_lang_or_its_locales():
    assert read({"locale": "pt_BR", "body": [{"type": "text", "text": "x"}]}
                ).trailer["/Root"]["/Lang"] == "pt-BR"
    assert read({"locale": "pt_BR", "lang": "pt", "body": [{"type": "text", "text": "x"}]}
                ).trailer["/Root"]["/Lang"] == "pt"


def test_the_same_layout_data_and_date_give_the_same_bytes_and_another_date_another_id():
    layout = {"body": [{"type": "text", "text": "x"}]}
    when = datetime(2026, 5, 3, 10, 14, tzinfo=UTC)
    first = render_pdf(layout, DATA, created=when)
    assert first == render_pdf(layout, DATA, created=when)
    later = pypdf.PdfReader(io.BytesIO(render_pdf(layout, DATA, created=when + timedelta(1))))
    assert pypdf.PdfReader(io.BytesIO(first)).trailer["/ID"] != later.trailer["/ID"]


def test_page_streams_are_compressed_binary_not_ascii85_too():
    reader = read({"body": [{"type": "text", "text": "x"}]})
    assert reader.pages[0]["/Contents"].get_object()["/Filter"] in ("/FlateDecode",
                                                                    ["/FlateDecode"])


@pytest.mark.parametrize("layout, where, message", [
    ({"lang": "english please"}, "layout.lang", "is not a language tag"),
    ({"pdfa": "1b"}, "layout.pdfa", "must be one of 2b"),
    ({"pdfa": "2b", "protect": {"password": "x"}}, "layout.pdfa", "PDF/A forbids encryption"),
])
def test_lint_refuses_what_the_file_cannot_be(layout, where, message):
    with pytest.raises(InvalidTemplate) as caught:
        lint({**layout, "body": [{"type": "text", "text": "x"}]}, MANIFEST)
    assert any(message in m for m in caught.value.field_errors[where])


def xmp(reader: pypdf.PdfReader):
    stream = reader.trailer["/Root"]["/Metadata"].get_object()
    assert "/Filter" not in stream  # PDF/A: the metadata stream is not filtered
    dom = parseString(stream.get_data())
    value = lambda tag: "".join(n.data for e in dom.getElementsByTagName(tag)  # noqa: E731
                                for n in e.getElementsByTagName("rdf:li") or e.childNodes
                                for n in ([n] if n.nodeType == n.TEXT_NODE else n.childNodes))
    return value


def test_pdfa_2b_identifies_itself_and_repeats_the_document_information_in_xmp():
    reader = read(PDFA, {**DATA, "number": "R-7"})
    value, info = xmp(reader), reader.metadata
    assert (value("pdfaid:part"), value("pdfaid:conformance")) == ("2", "B")
    assert value("dc:title") == info.title == "Rechnung R-7 <Ölmühle & Co>"
    assert value("dc:creator") == info.author and value("dc:description") == info.subject
    assert value("pdf:Keywords") == info["/Keywords"] and value("pdf:Producer") == info.producer
    assert value("xmp:CreatorTool") == info.creator
    assert "/" + value("pdf:Trapped") == info["/Trapped"]  # ReportLab writes /Trapped /False
    created = pdf_date(info["/CreationDate"])
    assert value("xmp:CreateDate") == created.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert pdf_date(info["/ModDate"]).strftime("%Y-%m-%dT%H:%M:%SZ") == value("xmp:ModifyDate")


def test_pdfa_2b_has_an_srgb_output_intent_embedded_fonts_printing_links_an_id_no_encryption():
    lint(PDFA, MANIFEST)
    pdf = render_pdf(PDFA, DATA)
    first, second = pdf.split(b"\n")[:2]  # a version, then a comment of binary bytes
    assert re.fullmatch(rb"%PDF-1\.[4-7]", first) and sum(b > 127 for b in second[1:5]) == 4
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    (intent,) = [i.get_object() for i in reader.trailer["/Root"]["/OutputIntents"]]
    assert intent["/S"] == "/GTS_PDFA1" and intent["/Type"] == "/OutputIntent"
    profile = intent["/DestOutputProfile"].get_object()
    icc = profile.get_data()
    assert profile["/N"] == 3 and icc[36:40] == b"acsp" and icc[16:20] == b"RGB "
    assert icc[12:16] in (b"mntr", b"prtr") and icc[8] <= 4  # a v2 or v4 display profile
    fonts = [f.get_object() for page in reader.pages
             for f in page["/Resources"]["/Font"].values()]
    assert fonts and all({"/FontFile", "/FontFile2", "/FontFile3"} & set(f["/FontDescriptor"])
                         for f in fonts)
    annotations = [a.get_object() for page in reader.pages for a in page["/Annots"]]
    assert annotations and all(a["/F"] & 4 for a in annotations)
    assert len(reader.trailer["/ID"]) == 2 and not reader.is_encrypted
    assert "Überweisung" in reader.pages[0].extract_text()


def test_pdfa_with_a_cmyk_image_fails_saying_to_upload_it_as_rgb():
    jpeg = io.BytesIO()
    Image.new("CMYK", (40, 20), (0, 100, 100, 0)).save(jpeg, "JPEG")
    layout = {**PDFA, "body": [{"type": "image", "asset": "logo", "width": 50}]}
    lint(layout, MANIFEST, {"logo"})
    with pytest.raises(RenderError, match="an image of the layout is CMYK: upload the image as RGB"):
        render_pdf(layout, DATA, assets={"logo": jpeg.getvalue()})
    rgb = io.BytesIO()
    Image.new("RGB", (40, 20), (200, 30, 30)).save(rgb, "JPEG")
    assert render_pdf(layout, DATA, assets={"logo": rgb.getvalue()}).startswith(b"%PDF")


@pytest.mark.parametrize("locale, lang", [("en_US)/X(", "en"), ("de_DE@euro", "de-DE"),
                                          ("en_US.UTF-8", "en-US"), ("zh_Hant_TW", "zh-Hant-TW"),
                                          ("root", "und")])
def test_the_language_from_a_locale_is_a_language_tag_whatever_babel_let_through(locale, lang):
    """Babel's parser takes "en_US)/X(" as en and keeps "@euro": /Lang was the locale's text
    with underscores made hyphens, no language tag."""
    assert read({"locale": locale, "body": [{"type": "text", "text": "x"}]}
                ).trailer["/Root"]["/Lang"] == lang


@pytest.mark.parametrize("number", ["R-\uffff7", "R-\ufffe7", "R-\ud8007"])
def test_characters_xml_has_no_place_for_leave_the_xmp_well_formed_and_equal_to_the_info(number):
    """U+FFFE and U+FFFF pass the gateway's JSON checks (a lone surrogate does not, but the
    renderer takes any data): the XMP was not well-formed (or the render crashed encoding it)."""
    reader = read(PDFA, {**DATA, "number": number})
    value, info = xmp(reader), reader.metadata
    assert value("dc:title") == info.title == "Rechnung R- 7 <Ölmühle & Co>"
