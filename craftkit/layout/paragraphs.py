"""Long paragraphs in time linear in their lines.

ReportLab splits a paragraph page by page, and each split lays out the whole rest of it again: a
text block or a table cell holding a long data value (a 1 MiB body of text) took quadratic time
(4,000 lines: 7 s; 8,000 lines: 37 s). `line_range` makes a paragraph of some of the lines of a
paragraph already laid out, in time linear in those lines, so a long paragraph is cut once into
pieces of at most CHUNK lines that the pages then split one at a time.
"""

from __future__ import annotations

from reportlab.platypus.paragraph import FragLine, Paragraph

CHUNK = 40  # lines: fewer than a page holds at the sizes text blocks take, so a page splits one


def line_count(paragraph: Paragraph) -> int:
    """The lines of a paragraph that has been wrapped."""
    return len(paragraph.blPara.lines)


def line_range(paragraph: Paragraph, start: int, stop: int) -> Paragraph:
    """A paragraph of lines [start, stop) of `paragraph` (wrapped), with its style and class; a
    part that stops before the end (of the paragraph, or of the part `paragraph` itself is)
    keeps its last line justified, as ReportLab's split does."""
    lines = paragraph.blPara.lines
    frags = paragraph._get_split_blParaFunc()(paragraph.blPara, start, stop)
    if start and getattr(lines[start - 1], "lineBreak", False) and frags and _breaks(frags[0]):
        # ReportLab's slice starts at the line break that ended the line before: drawn, it is
        # an empty first line (a blank line on top of every page a paragraph continues on).
        frags = frags[1:]
    part = paragraph.__class__(None, paragraph.style, frags=frags)
    if stop < len(lines):
        last = lines[stop - 1]
        part._JustifyLast = not (isinstance(last, FragLine) and getattr(last, "lineBreak", False))
    elif getattr(paragraph, "_JustifyLast", False):  # the end of a part that was cut
        part._JustifyLast = True
    return part


def chunks(paragraph: Paragraph, start: int) -> list[Paragraph]:
    """Lines from `start` to the end of `paragraph` (wrapped) as paragraphs of at most CHUNK
    lines; none of one line only (a widow), unless the whole rest is one line."""
    total = line_count(paragraph)
    cuts = list(range(start, total, CHUNK))
    if len(cuts) > 1 and total - cuts[-1] < 2:
        cuts.pop()
    return [line_range(paragraph, a, b) for a, b in zip(cuts, [*cuts[1:], total])]


def _breaks(frag) -> bool:
    """Whether a fragment of a paragraph is a line break (`<br/>`), in either of ReportLab's
    forms: a ParaFrag, or [width, (ParaFrag, text)] once processed."""
    if isinstance(frag, list) and len(frag) == 2 and isinstance(frag[1], tuple):
        frag = frag[1][0]
    return bool(getattr(frag, "lineBreak", False)) and not getattr(frag, "text", "")
