"""Images uploaded with a template and shown by its layouts; never fetched from anywhere else."""

from __future__ import annotations

import io

import httpx
import pypdf
from PIL import Image

from craftkit.demo import sample


def png(width: int, height: int, colour=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="PNG")
    return out.getvalue()


def put(api, name: str, data: bytes) -> httpx.Response:
    return api.http.put(f"/v1/templates/invoice/assets/{name}", content=data,
                        headers={"content-type": "image/png"})


def test_upload_list_and_write_once(api):
    logo = png(40, 20)
    created = put(api, "logo.png", logo)
    assert created.status_code == 201
    body = created.json()
    assert (body["name"], body["contentType"], body["width"], body["height"], body["size"]) == \
        ("logo.png", "image/png", 40, 20, len(logo))
    assert put(api, "logo.png", logo).status_code == 201  # the same bytes again: fine
    again = put(api, "logo.png", png(40, 20, (0, 0, 0)))
    assert again.status_code == 409 and again.json()["error"]["code"] == "asset_exists"
    listed = api.http.get("/v1/templates/invoice/assets").json()["assets"]
    assert [a["name"] for a in listed] == ["logo.png"]


def test_bad_uploads_are_refused(api):
    for data in (b"not an image", b"\x89PNG\r\n\x1a\n broken"):
        response = put(api, "x.png", data)
        assert response.status_code == 400
        assert "PNG or JPEG" in response.json()["error"]["message"]
    assert put(api, "../etc.png", png(2, 2)).status_code in (400, 404)
    big = put(api, "big.png", b"\x00" * (5 * 1024 * 1024 + 1))
    assert big.status_code == 413 and big.json()["error"]["code"] == "payload_too_large"
    assert api.http.get("/v1/templates/invoice/assets").json()["assets"] == []


def test_a_layout_shows_an_uploaded_image_and_lint_refuses_unknown_ones(api):
    spec = sample("invoice")
    image_block = {"type": "image", "asset": "logo.png", "width": 120, "align": "right"}
    layout = {**spec["layout"], "body": [image_block, *spec["layout"]["body"]]}
    refused = api.http.post("/v1/templates/invoice/versions",
                            json={"manifest": spec["manifest"], "layout": layout})
    assert refused.status_code == 400
    assert "layout.body.0.asset" in refused.json()["error"]["issues"]["fieldErrors"]

    assert put(api, "logo.png", png(300, 100)).status_code == 201
    added = api.http.post("/v1/templates/invoice/versions",
                          json={"manifest": spec["manifest"], "layout": layout})
    assert added.status_code == 201
    api.http.post(f"/v1/templates/invoice/versions/{added.json()['number']}/publish")
    rendered = api.render(spec["example"], sync=True).json()
    assert rendered["status"] == "succeeded", rendered["errorMessage"]
    page = pypdf.PdfReader(io.BytesIO(httpx.get(rendered["downloadUrl"]).content)).pages[0]
    [shown] = page.images
    assert shown.image.size == (300, 100)
    assert "Bill to: Acme Corp" in page.extract_text()
