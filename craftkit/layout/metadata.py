"""The PDF file around the pages: the document information (title, author, dates), its language,
and PDF/A-2b when a layout asks for it.

ReportLab's `invariant=1` keeps its output free of per-run noise but dates every file 2000-01-01;
`finish` puts the real time of the render (UTC) in CreationDate, ModDate and, for PDF/A, in the
XMP metadata that must repeat them. What PDF/A-2b needs and how each part is checked: the PDF/A
section of docs/layout.md.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from xml.sax.saxutils import escape

import reportlab
from reportlab import rl_config
from reportlab.pdfbase.pdfdoc import (PDFArray, PDFCatalog, PDFDictionary, PDFImageXObject,
                                      PDFName, PDFStream, PDFString)
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.pdfmetrics import EmbeddedType1Face
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from craftkit.layout.errors import RenderError

# Page streams compressed only, not also wrapped in ASCII85 (ReportLab's default, for 7-bit mail
# of the 1990s): a quarter smaller and about a tenth faster to write. For the whole process: the
# render workers only render.
rl_config.useA85 = 0

PDFA_LEVELS = ("2b",)
CREATOR = "Craftkit"
PRODUCER = f"ReportLab {reportlab.Version} (Craftkit)"
LANGUAGE_TAG = re.compile(r"[a-z]{2,3}(-[A-Z][a-z]{3})?(-([A-Z]{2}|[0-9]{3}))?")
PRINT = 4  # the annotation flag that prints it (PDF/A requires it on every annotation)


@dataclass(frozen=True)
class FileInfo:
    """What the file says about itself, whatever its pages show."""
    title: str = ""
    author: str = ""
    subject: str = ""
    keywords: str = ""
    lang: str = ""
    pdfa: str | None = None
    created: datetime = field(default_factory=lambda: datetime.now(UTC))

    def document_args(self) -> dict:
        """The keyword arguments of ReportLab's document template that carry this."""
        return {"title": self.title, "author": self.author, "subject": self.subject,
                "keywords": self.keywords, "creator": CREATOR, "producer": PRODUCER,
                "lang": self.lang or None, "displayDocTitle": 1 if self.title else None}


def file_info(meta: dict[str, str], lang: str, pdfa: str | None,
              created: datetime | None = None) -> FileInfo:
    """FileInfo from a layout's interpolated `metadata`: each value on one line, trimmed."""
    clean = {key: one_line(meta.get(key, "")) for key in ("title", "author", "subject", "keywords")}
    return FileInfo(**clean, lang=lang, pdfa=pdfa,
                    created=(created or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0))


def one_line(value: str) -> str:
    """Runs of whitespace as one space, no control characters, trimmed: "Invoice " is "Invoice"
    (a title is one line in every viewer, and XML, which PDF/A's metadata is, has no place for
    control characters, nor for U+FFFE, U+FFFF and lone surrogates, which JSON carries)."""
    kept = "".join(" " if unicodedata.category(c) in ("Cc", "Cs") or c in "\ufffe\uffff" else c
                   for c in value)
    return " ".join(kept.split())


def language(layout: dict) -> str:
    """The document's language (BCP 47, as the PDF catalog's /Lang wants it): the layout's `lang`,
    else its locale's language, script and territory (`en_US` -> `en-US`, `sr_Latn_RS` ->
    `sr-Latn-RS`), as Babel parses the locale: it takes `en_US)/X(` as en and `de_DE@euro` as
    de_DE, so the locale's own text is no tag."""
    if layout.get("lang"):
        return layout["lang"]
    from babel import Locale

    try:
        parsed = Locale.parse(layout.get("locale", "en_US"))
    except (ValueError, TypeError):
        return "und"
    tag = "-".join(part for part in (parsed.language, parsed.script, parsed.territory) if part)
    return tag if LANGUAGE_TAG.fullmatch(tag) else "und"


def finish(canvas: Canvas, info: FileInfo) -> None:
    """Before the canvas saves: the real dates, and PDF/A's metadata and output intent."""
    doc = canvas._doc
    doc._timeStamp = _Stamp(info.created)
    doc.updateSignature(info.created.isoformat())  # the file identifier differs with the time
    if info.pdfa:
        _check_embedded(doc)
        _check_rgb(doc)
        catalog = doc.Catalog
        catalog.Metadata = _xmp(info)
        catalog.OutputIntents = PDFArray([_srgb_intent(doc)])
        catalog.__NoDefault__ = [*PDFCatalog.__NoDefault__, "OutputIntents"]


def _check_embedded(doc) -> None:
    """PDF/A: every font the file names is embedded. fonts.py embeds every font it has; this keeps
    the promise should one of ReportLab's standard or CID fonts (never embedded) slip in."""
    for name in doc.fontMapping:
        font = pdfmetrics.getFont(name)
        if not (isinstance(font, TTFont) or isinstance(font.face, EmbeddedType1Face)):
            raise RenderError(f"PDF/A needs every font embedded, and {name} is not: choose an "
                              "embedded font for the layout, or remove pdfa")


def _check_rgb(doc) -> None:
    """PDF/A: colours match the output intent, sRGB here (gray is fine, CMYK is not)."""
    for item in doc.idToObject.values():
        if isinstance(item, PDFImageXObject) and item.colorSpace == "DeviceCMYK":
            raise RenderError("PDF/A here has an sRGB output intent and an image of the layout is "
                              "CMYK: upload the image as RGB, or remove pdfa")


class _Stamp:
    """ReportLab's TimeStamp for a given UTC time (its own knows only now and 2000-01-01)."""

    def __init__(self, when: datetime) -> None:
        self.t = when.timestamp()
        self.lt = when.timetuple()
        self.YMDhms = tuple(self.lt)[:6]
        self.dhh = self.dmm = 0
        self.tzname = "UTC"


def _xmp(info: FileInfo) -> PDFStream:
    """The XMP packet PDF/A requires: its identification and a copy of the document information,
    uncompressed (PDF/A forbids a filter on the metadata stream)."""
    when = info.created.strftime("%Y-%m-%dT%H:%M:%SZ")
    def alt(value: str) -> str:
        return f'<rdf:Alt><rdf:li xml:lang="x-default">{escape(value)}</rdf:li></rdf:Alt>'

    packet = f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/" xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:pdf="http://ns.adobe.com/pdf/1.3/">
   <pdfaid:part>{info.pdfa[0]}</pdfaid:part>
   <pdfaid:conformance>{info.pdfa[1:].upper()}</pdfaid:conformance>
   <dc:format>application/pdf</dc:format>
   <dc:title>{alt(info.title)}</dc:title>
   <dc:creator><rdf:Seq><rdf:li>{escape(info.author)}</rdf:li></rdf:Seq></dc:creator>
   <dc:description>{alt(info.subject)}</dc:description>
   <pdf:Keywords>{escape(info.keywords)}</pdf:Keywords>
   <pdf:Producer>{escape(PRODUCER)}</pdf:Producer>
   <pdf:Trapped>False</pdf:Trapped>
   <xmp:CreatorTool>{CREATOR}</xmp:CreatorTool>
   <xmp:CreateDate>{when}</xmp:CreateDate>
   <xmp:ModifyDate>{when}</xmp:ModifyDate>
   <xmp:MetadataDate>{when}</xmp:MetadataDate>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"""
    return PDFStream(PDFDictionary({"Type": PDFName("Metadata"), "Subtype": PDFName("XML")}),
                     packet.encode("utf-8"))  # ReportLab filters only streams that ask for it


def _srgb_intent(doc) -> PDFDictionary:
    """PDF/A's output intent: every colour here is DeviceRGB (or gray), meant as sRGB."""
    profile = PDFStream(PDFDictionary({"N": 3}), _srgb_profile())
    return PDFDictionary({"Type": PDFName("OutputIntent"), "S": PDFName("GTS_PDFA1"),
                          "OutputConditionIdentifier": PDFString("sRGB IEC61966-2.1"),
                          "Info": PDFString("sRGB IEC61966-2.1"),
                          "DestOutputProfile": doc.Reference(profile)})


@cache
def _srgb_profile() -> bytes:
    """An sRGB ICC profile (LittleCMS's, through Pillow: 588 bytes, no file to ship)."""
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
