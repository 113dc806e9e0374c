"""The layout language: a JSON document that says what a template's PDF looks like.

Reference with examples: docs/layout.md. In short, a layout has `page` (size, orientation,
margins), optional `header` and `footer` (blocks drawn on every page, where {{page}} and {{pages}}
exist), `body` (blocks), `watermark`, `metadata`, `locale`, `lang`, `font`, `protect` and
`pdfa`. Blocks: title, heading, text (inline **bold**, *italic*, [links](https://…)), table
(bound to an array; header on every page; zebra; totals), spacer, rule, pagebreak, keep,
columns, if, each, qr, barcode, image (an asset uploaded with the template: nothing is ever
fetched from a URL).
`{{path | filter:arg}}` reads the data and formats it (number, currency, percent, date,
datetime, upper, lower, default).

`lint` refuses a layout that could not render (unknown paths, filters on the wrong type, bad
options); `render_pdf` then fails only on what data can do, with a RenderError a user can act on.
"""

from craftkit.layout.lint import image_assets, lint
from craftkit.layout.errors import RenderError
from craftkit.layout.render import Limits, Rendered, render_document, render_pdf
from craftkit.layout.text import interpolate

__all__ = ["Limits", "RenderError", "Rendered", "image_assets", "interpolate", "lint",
           "render_document", "render_pdf"]
