"""The dashboard at /dashboard: static HTML, CSS and JavaScript modules in static/ (no build
step, nothing from another origin), served by the gateway with no API key. Everything the
dashboard shows or changes goes through the public REST v1 API with the key the user signs in
with (kept in the tab's sessionStorage), so it can do nothing a REST client cannot.

Every answer carries a strict Content-Security-Policy: scripts and styles only from this origin
(no inline script, no eval), requests only to this origin, images from it or `blob:` (the PNG
preview), no framing (clickjacking), no referrer (a share link's URL never leaks)."""

from __future__ import annotations

from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC = Path(__file__).parent / "static"

SECURITY_HEADERS = {
    "content-security-policy": "; ".join([
        "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' blob:",
        "connect-src 'self'", "base-uri 'none'", "form-action 'none'",
        "frame-ancestors 'none'"]),
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "cache-control": "no-cache",
}
"""On every dashboard file. `no-cache` revalidates (ETag) so a deploy's new modules are loaded
together, never a mix of old and new."""


class DashboardFiles(StaticFiles):
    """StaticFiles (index.html for the directory) with SECURITY_HEADERS on every answer, its
    404 and 405 too (the gateway's error handler answers them with the exception's headers)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        try:
            response = await super().get_response(path, scope)
        except HTTPException as error:
            raise HTTPException(error.status_code, error.detail,
                                headers={**(error.headers or {}), **SECURITY_HEADERS}) from None
        response.headers.update(SECURITY_HEADERS)
        return response


async def to_index(request) -> RedirectResponse:
    return RedirectResponse("/dashboard/", status_code=308, headers=SECURITY_HEADERS)


ROUTES: list[BaseRoute] = [Route("/dashboard", to_index, methods=["GET", "HEAD"]),
                           Mount("/dashboard", app=DashboardFiles(directory=STATIC, html=True))]
"""Public routes (no API key): the pages hold no data until the user signs in."""
