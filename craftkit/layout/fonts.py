"""Fonts: every one embedded (subset), chosen per run of characters.

A document names a family (`sans`, `serif` or `mono`; `auto`, `Helvetica` and `DejaVuSans`, the
values before issue 10, mean `sans`). Its font draws every character it covers; a character it
does not cover is drawn by the first font of the fallback chain that does, in a `<font face=…>`
run around just that text, so one "Ő" or "株" never changes the font of anything else.

| family / chain      | font                      | from                                   |
|---------------------|---------------------------|----------------------------------------|
| sans (default)      | Lato                      | fontpkg-lato (static TTFs)             |
| serif               | IBM Plex Serif            | fontpkg-ibm-plex-serif (static TTFs)   |
| mono                | IBM Plex Mono             | fontpkg-ibm-plex-mono (static TTFs)    |
| 1 Arabic            | IBM Plex Sans Arabic      | fontpkg-ibm-plex-sans-arabic (regular, bold) |
| 2 Greek, Cyrillic, Hebrew, symbols | DejaVu Sans | craftkit/fonts/ (vendored)         |
| 3 Devanagari, Thai  | Noto Sans Devanagari/Thai | fontpkg-noto-sans-devanagari/-thai     |
| 4 CJK               | Noto Sans CJK TC          | cvttf-notosanscjk-regular's CFF .otf, converted once to TrueType by `python -m craftkit.layout.cjk` (ReportLab reads TrueType outlines only) |

Right-to-left text (Hebrew, Arabic) and the Indic scripts need shaping: `shaping(markup)` says
when a paragraph style must turn on ReportLab's uharfbuzz shaping, and `fallback` gives a
paragraph with right-to-left words as a `Bidi`, which `rtl.RtlParagraph` breaks into lines in
logical order before it puts each line's words in visual order (ReportLab 5.1's own bidi needs
`rlbidi`, not on PyPI).
A character no font covers fails the render, naming it (U+XXXX NAME): a silent blank box in
an invoice is worse than an error the caller can act on.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path

from html import unescape as html_unescape
from xml.sax.saxutils import escape as xml_escape

from bidi import get_base_level

FONT_DIR = Path(__file__).resolve().parent.parent / "fonts"
# Written once by `python -m craftkit.layout.cjk` into the environment (the venv; /opt/venv in
# the image, at build time), not beside the code: it is built, not source.
CJK_FILE = Path(sys.prefix) / "share" / "craftkit" / "NotoSansCJKtc-Regular.ttf"
FAMILY_NAMES = ("sans", "serif", "mono")
ALIASES = {"auto": "sans", "Helvetica": "sans", "DejaVuSans": "sans"}
CHOICES = (*FAMILY_NAMES, *ALIASES)
DIRECTIONS = ("auto", "ltr", "rtl")


@dataclass(frozen=True)
class Family:
    """One typeface in four styles, as ReportLab font names, and where the files are."""
    regular: str
    bold: str
    italic: str
    bold_italic: str
    files: tuple[Path, Path, Path, Path] | None = None

    def style(self, bold: bool, italic: bool) -> str:
        return ((self.bold_italic if italic else self.bold) if bold else
                (self.italic if italic else self.regular))


def _package(package: str, *names: str) -> tuple[Path, ...]:
    return tuple(Path(str(files(package) / "files" / name)) for name in names)


def _four(name: str, package: str, stem: str, styles=("Regular", "Bold", "Italic",
                                                       "BoldItalic")) -> Family:
    return Family(name, f"{name}-Bold", f"{name}-Italic", f"{name}-BoldItalic",
                  _package(package, *(f"{stem}-{s}.ttf" for s in styles)))


def _one(name: str, path: Path) -> Family:
    """A family of one style (the fallback scripts' fonts): bold and italic draw regular."""
    return Family(name, name, name, name, (path, path, path, path))


FAMILIES = {
    "sans": _four("Lato", "fontpkg_lato", "Lato"),
    "serif": _four("IBMPlexSerif", "fontpkg_ibm_plex_serif", "IBMPlexSerif"),
    "mono": _four("IBMPlexMono", "fontpkg_ibm_plex_mono", "IBMPlexMono"),
}
DEJAVU = Family("DejaVuSans", "DejaVuSans-Bold", "DejaVuSans-Oblique", "DejaVuSans-BoldOblique",
                tuple(FONT_DIR / f"DejaVuSans{s}.ttf"
                      for s in ("", "-Bold", "-Oblique", "-BoldOblique")))
CHAIN = (
    Family("IBMPlexSansArabic", "IBMPlexSansArabic-Bold", "IBMPlexSansArabic",
           "IBMPlexSansArabic-Bold", _package("fontpkg_ibm_plex_sans_arabic", *(
               f"IBMPlexSansArabic-{s}.ttf" for s in ("Regular", "Bold", "Regular", "Bold")))),
    DEJAVU,
    _one("NotoSansDevanagari",
         *_package("fontpkg_noto_sans_devanagari", "NotoSansDevanagari[wdth,wght].ttf")),
    _one("NotoSansThai", *_package("fontpkg_noto_sans_thai", "NotoSansThai[wdth,wght].ttf")),
    _one("NotoSansCJK", CJK_FILE),
)
_BY_FONT = {name: family for family in (*FAMILIES.values(), *CHAIN)
            for name in (family.regular, family.bold, family.italic, family.bold_italic)}


class MissingGlyph(Exception):
    pass


def family(choice: str | None, uploaded: dict[str, Family] | None = None) -> Family:
    """The family a layout's (or a block's) `font` names: one of the layout's uploaded `fonts`,
    or a built-in family (the old values mean sans)."""
    choice = choice or "sans"
    if uploaded and choice in uploaded:
        return uploaded[choice]
    name = ALIASES.get(choice, choice)
    if name not in FAMILIES:
        raise MissingGlyph(f"unknown font {choice!r}: use one of {', '.join(FAMILY_NAMES)} or "
                           "a family of the layout's \"fonts\"")
    register(FAMILIES[name])
    return FAMILIES[name]


@cache
def register(family: Family) -> frozenset[int]:
    """Registers the family's four styles with ReportLab once per process (with the mapping
    `<b>`/`<i>` follow); returns the code points its regular style covers."""
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    from craftkit.layout import shaped_text  # noqa: F401 - shaped glyphs' ToUnicode entries

    names = (family.regular, family.bold, family.italic, family.bold_italic)
    for name, path in dict(zip(names, family.files)).items():
        if not path.exists():
            raise MissingGlyph(f"font file {path.name} is not installed"
                               + (": run `python -m craftkit.layout.cjk` once (make does)"
                                  if path == CJK_FILE else ""))
        pdfmetrics.registerFont(TTFont(name, str(path)))
    for bold, italic in ((0, 0), (1, 0), (0, 1), (1, 1)):
        addMapping(family.regular, bold, italic, family.style(bold, italic))
    return frozenset(pdfmetrics.getFont(family.regular).face.charToGlyph)


def _coverage(font_name: str) -> frozenset[int]:
    known = _BY_FONT.get(font_name)
    return register(known) if known is not None else _uploaded_coverage(font_name)


def _uploaded_coverage(font_name: str) -> frozenset[int]:
    """An uploaded font's code points, kept with the registered font (uploads.py unregisters
    it, and them with it: a cache of its own would outlive the fonts it describes)."""
    from reportlab.pdfbase import pdfmetrics
    font = pdfmetrics.getFont(font_name)
    coverage = font.__dict__.get("craftkit_coverage")
    if coverage is None:
        coverage = font.__dict__["craftkit_coverage"] = frozenset(font.face.charToGlyph)
    return coverage


# Scripts drawn only with shaping (joining, reordering, marks): Hebrew, Arabic, Syriac, Thaana,
# NKo, the Indic scripts, Thai, Lao; Arabic presentation forms.
_SHAPED = re.compile("[\u0590-\u08ff\u0900-\u0dff\u0e00-\u0eff\ufb1d-\ufdff\ufe70-\ufefc]")
_RTL = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc]")
_TAG = re.compile(r"<[^>]*>")
_TAG_SPLIT = re.compile(r"(<[^>]*>)")
_INLINE = re.compile(r"<(/?)([bi])>")
_NEUTRAL = set("ZPSN")  # spaces, punctuation, symbols, digits: they stay in the run they are in


def covered(text: str, font_name: str) -> bool:
    """True when `font_name` alone draws every character of `text`, left to right and with no
    shaping, so the text can be measured with stringWidth and drawn as a plain string."""
    glyphs = _coverage(font_name)
    return not _SHAPED.search(text) and all(ord(c) in glyphs or c in "\n\t " for c in text)


def shaping(markup: str) -> bool:
    """True when a Paragraph of `markup` needs `shaping=1` in its style (uharfbuzz): Arabic
    joins, Indic marks reorder, right-to-left words are reversed by the shaper."""
    return bool(_SHAPED.search(markup))


def rtl(text: str) -> bool:
    """True when the paragraph's first strong character (markup tags aside) is right-to-left
    (Unicode's rule P2)."""
    return bool(_RTL.search(text)) and get_base_level(_TAG.sub("", text)) == 1


def fallback_markup(markup: str, font_name: str, direction: str = "auto") -> str:
    """ReportLab paragraph markup in which every run of characters `font_name` cannot draw is
    wrapped in `<font face="…">` of the first font of the fallback chain that can, and the words
    of a paragraph with right-to-left text are put in visual order (`direction`: auto, from the
    first strong character, or rtl/ltr) line by line, unwrapped (see `fallback`). MissingGlyph
    names the first character no font draws."""
    made = fallback(markup, font_name, direction)
    return made if isinstance(made, str) else made.markup()


def fallback(markup: str, font_name: str, direction: str = "auto") -> str | Bidi:
    """`fallback_markup`, except that a paragraph with right-to-left text comes back as a Bidi
    (its words in logical order), which `rtl.RtlParagraph` breaks into lines before it orders
    each line's words."""
    items = _items(markup)
    text = "".join(item for item in items if not _is_tag(item))
    faces = _faces(text, _coverage(font_name))
    shaped = bool(_SHAPED.search(text))
    if shaped:
        _one_font_per_word(text, faces)
    style = _style_of(font_name)
    if _RTL.search(text):
        return _bidi(items, faces, style, direction, font_name)
    return _emit(items, faces, style, shaped)


def _is_tag(item: str) -> bool:
    return len(item) > 1  # characters are items of one, tags longer


def _items(markup: str) -> list[str]:
    """The markup as a flat list: each tag whole, each character alone (entities decoded)."""
    out: list[str] = []
    for token in _TAG_SPLIT.split(markup):
        if token.startswith("<"):
            out.append(token)
        else:
            out.extend(html_unescape(token))
    return out


def _emit(items: list[str], faces: list[str | None], style: tuple[bool, bool],
          shaped: bool) -> str:
    """Markup again, each run of one face in its `<font>`. In a `shaped` paragraph each word
    must be in one font (ReportLab shapes a word with its first font's glyphs, whatever the
    others: it fails, or draws the other font's glyphs of the same numbers): where a word
    still changes font ("ABCفاتورة") or weight or slant ("a**bc**", "x**مرحبا**") a hair space
    splits it, which ReportLab lays out as a space (its words split at spaces, zero-width ones
    not)."""
    out: list[str] = []
    run: list[str] = []
    face: str | None = None
    font: object = None  # what the character before is drawn in (`_drawn`)
    last = " "  # the character before, across tags
    chars = iter(faces)
    inline = {"b": 0, "i": 0}  # <b> and <i> open around the run: a <font face> inside them
    # names one font, so a fallback run in **bold** takes its font's bold style itself

    def close():
        if run:
            body = xml_escape("".join(run))
            out.append(body if face is None else
                       f'<font face="{_drawn(face, style, inline["b"], inline["i"])}">{body}</font>')
            run.clear()

    for item in items:
        if _is_tag(item):
            close()
            out.append(item)
            if tag := _INLINE.fullmatch(item):
                inline[tag[2]] += -1 if tag[1] else 1
            continue
        this = next(chars)
        if this != face:
            close()
            face = this
        drawn = _drawn(this, style, inline["b"], inline["i"])
        if (shaped and font is not None and drawn != font and not item.isspace()
                and not last.isspace()):
            run.append("\u200a")
        font = drawn
        run.append(item)
        last = item
    close()
    return "".join(out)


def _drawn(face: str | None, style: tuple[bool, bool], bold: int, italic: int) -> object:
    """The font a character of `face` (None: the base font) is drawn in, in a paragraph of
    `style` (bold, italic) inside `bold` <b> and `italic` <i> tags: a fallback font's name, or
    the base font's style."""
    bold, italic = style[0] or bold > 0, style[1] or italic > 0
    return (bold, italic) if face is None else _BY_FONT[face].style(bold, italic)


def _style_of(font_name: str) -> tuple[bool, bool]:
    """(bold, italic) of a font: a bold title's fallback runs are bold too."""
    family = _BY_FONT.get(font_name)
    if family is None:  # an uploaded font, named u<hash>-<style>
        suffix = font_name.rsplit("-", 1)[-1]
        return suffix in ("bold", "boldItalic"), suffix in ("italic", "boldItalic")
    return (font_name in (family.bold, family.bold_italic) and font_name != family.regular,
            font_name in (family.italic, family.bold_italic) and font_name != family.regular)


def _faces(text: str, base: frozenset[int]) -> list[str | None]:
    """Each character's face (None: the base font). Letters take the first font that has them;
    spaces, punctuation and digits stay in the run they are in when its font has them, unless
    the next letter goes back to the base font ("株式会社 & Co": " & " in the base font)."""
    faces: list[str | None] = []
    kept: list[int] = []  # neutral characters kept in a fallback run, since the last letter
    for index, char in enumerate(text):
        previous = faces[-1] if faces else None
        glyphs = base if previous is None else _coverage(previous)
        neutral = unicodedata.category(char)[0] in _NEUTRAL or unicodedata.combining(char)
        if char.isspace() or (neutral and ord(char) in glyphs):
            faces.append(previous)
            if previous is not None and not unicodedata.combining(char):
                kept.append(index)
            continue
        face = _face_for(char, base)
        if face is None:
            for i in kept:
                if text[i].isspace() or ord(text[i]) in base:
                    faces[i] = None
        kept.clear()
        faces.append(face)
    return faces


def _one_font_per_word(text: str, faces: list[str | None]) -> None:
    """Gives each word with shaped letters the font of those letters where it has all the
    word's characters: "(فاتورة)" and "ر.س" are one run, as shaping needs."""
    for word in re.finditer(r"\S+", text):
        span = range(word.start(), word.end())
        shaped = [faces[i] for i in span if _SHAPED.match(text[i]) and faces[i]]
        if shaped and len({faces[i] for i in span}) > 1:
            glyphs = _coverage(shaped[0])
            if all(ord(text[i]) in glyphs for i in span):
                for i in span:
                    faces[i] = shaped[0]


def _face_for(char: str, base: frozenset[int]) -> str | None:
    """None for the base font, else the name of the first chain font with the character.
    Format characters (joiners, direction marks, soft hyphens) draw nothing, in any font.
    Private-use characters mean something only in a font that has them (the base font, an
    uploaded one): like unassigned code points, lone surrogates and control characters
    (NUL, ESC…), no fallback draws them and the render fails naming them (they drew Lato's
    empty .notdef glyph and copied out as NUL)."""
    code = ord(char)
    category = unicodedata.category(char)
    if code in base or char.isspace() or category == "Cf":
        return None
    if category[0] == "C":
        raise MissingGlyph(f"no font here has a glyph for {_name(char)}")
    for fallback in CHAIN:
        try:
            if code in register(fallback):
                return fallback.regular
        except MissingGlyph:
            continue  # a chain font not installed here (the CJK one before its conversion)
    raise MissingGlyph(f"no font here has a glyph for {_name(char)}")


# ------------------------------------------------------------------------- right to left
# ReportLab 5.1 orders right-to-left text only through `rlbidi` (not on PyPI), and not at all
# in paragraphs of several fonts. Here each word becomes self-contained markup (its tags
# re-opened around it) and uharfbuzz, shaping each word, reverses an RTL word's letters and
# joins them. Lines are broken in logical order first, by ReportLab itself (`Bidi.wrapped`:
# the words in logical order, wrapped at the paragraph's width, say how many words each line
# holds), then the words of each line are put in visual order with the Unicode algorithm's
# levels at word granularity (rule L2 applies per line), and the lines joined with <br/>.

_OPEN = re.compile(r"<(\w+)[^>]*(?<!/)>")
_CLOSE = re.compile(r"</(\w+)\s*>")
# Where ReportLab splits words (str.split(); a no-break space never splits).
_BREAK = re.compile(r"[^\S\xa0]")
Tags = tuple[tuple[str, str], ...]  # the tags open around a character: (name, as written)


@dataclass
class Word:
    """A word of a right-to-left paragraph: its characters, each with its face (None: the base
    font) and the tags open around it. `glued`: it continues the word before it with no space
    (a word changing font, or a word too long for a line, cut in pieces)."""
    chars: list[tuple[str, str | None, Tags]]
    glued: bool = False

    @property
    def plain(self) -> str:
        return "".join(char for char, _, _ in self.chars)

    def markup(self, style: tuple[bool, bool]) -> str:
        items: list[str] = []
        applied: Tags = ()
        for char, _, tags in self.chars:
            if tags != applied:
                items.extend(f"</{name}>" for name, _ in reversed(applied))
                items.extend(tag for _, tag in tags)
                applied = tags
            items.append(char)
        items.extend(f"</{name}>" for name, _ in reversed(applied))
        return _emit(items, [face for _, face, _ in self.chars], style, True)


@dataclass
class Bidi:
    """A paragraph with right-to-left text: its lines (between <br/>) of words in logical order,
    its base level (1: right to left), the font it is set in and the style of its fallbacks."""
    lines: list[list[Word]]
    level: int
    font_name: str
    style: tuple[bool, bool]

    def markup(self) -> str:
        """The paragraph unwrapped: each line's words in visual order (a line wider than the
        paragraph would wrap in the wrong order: see `wrapped`)."""
        return "<br/>".join(self._line([run for word in words for run in self._runs(word)])
                            for words in self.lines)

    def wrapped(self, width: float, style) -> tuple[str, set[int]]:
        """The markup of the paragraph broken into lines at `width` points for the paragraph
        style `style`, each line's words in visual order, and the indexes of the lines that end
        where the text wraps (not at a line break of its own: those may still be justified)."""
        out: list[str] = []
        soft: set[int] = set()
        for words in self.lines:
            units = [piece for word in words for run in self._runs(word)
                     for piece in self._pieces(run, width, style)]
            counts = _line_counts([unit.markup(self.style) for unit in units], width, style)
            if counts is None:  # ReportLab broke lines elsewhere than between our words
                out.append(self._line(units))
                continue
            for count in counts:
                soft.add(len(out))
                line, units = units[:count], units[count:]
                out.append(self._line(line))
            soft.discard(len(out) - 1)
        return "<br/>".join(out), soft

    def _line(self, units: list[Word]) -> str:
        """One line's markup: its units in visual order, a space between two words, a hair
        space between two pieces of one word (ReportLab shapes each piece on its own)."""
        order = _visual(list(range(len(units))), [unit.plain for unit in units], self.level)
        out: list[str] = []
        for before, index in zip([None, *order], order):
            if before is not None:
                glued = ((index == before + 1 and units[index].glued) or
                         (before == index + 1 and units[before].glued))
                out.append("\u200a" if glued else " ")
            out.append(units[index].markup(self.style))
        return "".join(out)

    def _runs(self, word: Word) -> list[Word]:
        """`word` cut where its font, weight or slant changes: each piece must be shaped alone
        (ReportLab shapes a word with its first font's glyph numbers)."""
        runs: list[Word] = []
        fonts: list[object] = []
        for char in word.chars:
            font = _drawn(char[1], self.style, *(sum(name == tag for name, _ in char[2])
                                                  for tag in "bi"))
            if runs and fonts[-1] == font:
                runs[-1].chars.append(char)
            else:
                runs.append(Word([char], word.glued if not runs else True))
                fonts.append(font)
        return runs

    def _pieces(self, run: Word, width: float, style) -> list[Word]:
        """A run of one font cut into pieces that fit `width` when it is longer: drawn piece
        after piece as the lines go (ReportLab would cut the shaped, already reversed word)."""
        font = (self.font_name if run.chars[0][1] is None else
                _BY_FONT[run.chars[0][1]].style(*self.style))
        limit = width * 0.9  # the shaped width is not the sum of the letters' widths
        pieces: list[Word] = []
        piece, used = Word([], run.glued), 0.0
        for char in run.chars:
            bold = any(name == "b" for name, _ in char[2])
            wide = _width(char[0], font, style.fontSize) * (1.1 if bold else 1.0)
            if piece.chars and used + wide > limit:
                pieces.append(piece)
                piece, used = Word([], True), 0.0
            piece.chars.append(char)
            used += wide
        pieces.append(piece)
        return pieces


def _width(char: str, font: str, size: float) -> float:
    from reportlab.pdfbase.pdfmetrics import stringWidth
    return stringWidth(char, font, size)


def _line_counts(words: list[str], width: float, style) -> list[int] | None:
    """How many of `words` (markup, in logical order) each line holds when ReportLab wraps them
    at `width` with `style`; None when its lines do not hold whole words."""
    if not words:
        return [0]
    from reportlab.platypus import Paragraph

    paragraph = Paragraph(" ".join(words), style)
    paragraph.wrap(width, 1e9)
    lines = paragraph.blPara.lines
    counts = [line.wordCount if hasattr(line, "wordCount") else len(line[1]) for line in lines]
    return counts if sum(counts) == len(words) and all(counts) else None


def _bidi(items: list[str], faces: list[str | None], style: tuple[bool, bool],
          direction: str, font_name: str) -> Bidi:
    lines: list[list[Word]] = [[]]
    stack: list[tuple[str, str]] = []  # the open tags: (name, as written)
    word: list[tuple[str, str | None, Tags]] = []
    chars = iter(faces)

    def end_word():
        if word:
            lines[-1].append(Word(list(word)))
        word.clear()

    for item in items:
        if _is_tag(item):
            if item.replace(" ", "") in ("<br/>", "<br>"):
                end_word()
                lines.append([])
            elif (close := _CLOSE.fullmatch(item)) and stack and stack[-1][0] == close[1]:
                stack.pop()
            elif opened := _OPEN.fullmatch(item):
                stack.append((opened[1], item))
            continue
        face = next(chars)
        if _BREAK.match(item):
            end_word()
            continue
        word.append((item, face, tuple(stack)))
    end_word()
    plain = " ".join(w.plain for line in lines for w in line)
    level = {"rtl": 1, "ltr": 0}.get(direction, get_base_level(plain) if plain else 0)
    return Bidi(lines, level, font_name, style)


def _visual(items: list, words: list[str], base: int) -> list:
    """`items` (one per word of `words`) in the visual order of their words (left to right):
    the Unicode bidi algorithm at word granularity. RTL words take level 1; LTR words level 2 in an RTL paragraph, 0 in an LTR one; numbers
    like LTR words, or 2 after Arabic; neutral words the level of their neighbours when both
    agree, else the paragraph's."""
    levels: list[int | None] = []
    last = ""
    for word in words:
        kind = _strong(word)
        if kind in ("R", "AL"):
            levels.append(1)
        elif kind == "L":
            levels.append(2 if base else 0)
        elif kind == "N":  # numbers: after Arabic letters they are Arabic numbers (rule W2)
            levels.append(2 if base or last == "AL" else 0)
        else:
            levels.append(None)
        last = kind if kind in ("R", "AL", "L") else last
    for i, lev in enumerate(levels):
        if lev is None:
            before = next((x for x in reversed(levels[:i]) if x is not None), base)
            after = next((x for x in levels[i + 1:] if x is not None), base)
            levels[i] = before if before == after else base
    order = list(range(len(words)))
    for k in range(max(levels, default=0), 0, -1):  # rule L2: reverse each run at level >= k
        i = 0
        while i < len(order):
            if levels[order[i]] >= k:
                j = i
                while j < len(order) and levels[order[j]] >= k:
                    j += 1
                order[i:j] = reversed(order[i:j])
                i = j
            else:
                i += 1
    return [items[i] for i in order]


def _strong(word: str) -> str:
    """R (Hebrew) or AL (Arabic) for a word with right-to-left letters, L with left-to-right
    ones, N for numbers, else "" (neutral: punctuation, symbols)."""
    for char in word:
        kind = unicodedata.bidirectional(char)
        if kind in ("R", "AL"):
            return kind
        if kind == "L":
            return "L"
    return "N" if any(c.isdigit() for c in word) else ""


def use_for_graphics(family: Family) -> None:
    """Makes `family` the font ReportLab's graphics (QR codes, barcodes: Drawings) start each
    drawing with. Their default is Helvetica, set even when no text is drawn, so it would be
    listed in the PDF and never embedded. Process-wide, as ReportLab's default is; a render
    process renders one document at a time and each render sets it."""
    from reportlab.graphics import shapes
    shapes.STATE_DEFAULTS["fontName"] = family.regular


def choose(choice: str | None, texts: list[str]) -> Family:
    """The family a document names, once every character of `texts` has a font (MissingGlyph
    otherwise): what a caller outside the renderer needs to draw the same document, such as
    the bench's raw-ReportLab yardstick, which must embed the same fonts to be fair."""
    check(texts)
    return family(choice)


def check(texts: list[str]) -> None:
    """MissingGlyph naming the first character (in reading order) that no font here draws:
    checked before layout, so the render fails with the character named, not half drawn."""
    base = register(FAMILIES["sans"])
    joined = "".join(texts)
    marks = []
    for char in dict.fromkeys(joined):
        _face_for(char, base)
        if unicodedata.category(char) in ("Mn", "Me"):
            marks.append(char)
    # uharfbuzz stacks combining marks above one another: 1,000 fathas on one letter reached
    # 1,246 pt above the page. Searched only with the marks the text has (one class of them).
    if marks and (stacked := re.search(f".[{re.escape(''.join(marks))}]{{{MAX_MARKS + 1},}}",
                                       joined, re.DOTALL)):
        raise MissingGlyph(f"{len(stacked[0]) - 1:,} combining marks on one character "
                           f"({_name(stacked[0][0])}); at most {MAX_MARKS} (Unicode's "
                           "stream-safe limit): they would stack off the page")


MAX_MARKS = 30


def _name(char: str) -> str:
    return f"{char!r} (U+{ord(char):04X} {unicodedata.name(char, 'unnamed')})"
