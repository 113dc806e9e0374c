"""What the gateway answers before any backend is asked: a path with a trailing slash, the files
under /docs/assets. Strangers choose the Host header and the path; neither may steer a redirect
or reach a page of the gateway's origin that runs script without /docs' CSP."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from services.gateway import app as gateway_app
from services.gateway.settings import Settings


@pytest.fixture
def client(monkeypatch, tmp_path):
    monkeypatch.setenv("INTERNAL_TOKEN_FILE", str(tmp_path / "token"))
    app = gateway_app.create_app(Settings.from_env())  # its lifespan (backends) not started

    class Client:
        def get(self, path: str, **kwargs) -> httpx.Response:
            async def get() -> httpx.Response:
                async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                             base_url="http://evil.example") as http:
                    return await http.get(path, **kwargs)
            return asyncio.run(get())
    return Client()


@pytest.mark.parametrize("path", ["/v1/renders/", "/v1/templates/invoice/assets/logo.png/",
                                  "/healthz/", "/v1/keys/"])
def test_a_trailing_slash_is_not_redirected_to_the_host_the_request_named(client, path):
    answer = client.get(path)  # no key: the redirect came before authentication
    assert "location" not in answer.headers, answer.headers["location"]
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"


def test_docs_serve_only_the_files_the_reference_page_loads(client):
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"):
        served = client.get(f"/docs/assets/{name}")
        assert served.status_code == 200, name
        assert served.headers["x-content-type-options"] == "nosniff"
    # Swagger UI's own pages run inline script (no /docs CSP on them) or fetch an outside
    # document; nothing of the gateway loads them.
    for name in ("oauth2-redirect.html", "swagger-initializer.js", "swagger-editor-bundle.js",
                 "index.css"):
        assert client.get(f"/docs/assets/{name}").status_code == 404, name
