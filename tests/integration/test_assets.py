"""Images and fonts uploaded with a template and used by its layouts; never fetched from anywhere
else."""

from __future__ import annotations

import io
import struct
import zlib

import httpx
import pdfplumber
import pytest
import pypdf
from PIL import Image

from craftkit.demo import sample
from tests.integration.conftest import new_api


def png(width: int, height: int, colour=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="PNG")
    return out.getvalue()


# A sample template without images of its own (the invoice shows the demo logo, logo.png).
SLUG = "receipt"


def put(api, name: str, data: bytes) -> httpx.Response:
    return api.http.put(f"/v1/templates/{SLUG}/assets/{name}", content=data,
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
    listed = api.http.get(f"/v1/templates/{SLUG}/assets").json()["assets"]
    assert [a["name"] for a in listed] == ["logo.png"]


def test_an_asset_reads_back_as_uploaded_and_only_in_its_project(api, stack):
    logo = image("JPEG", 30, 20)
    assert put(api, "logo.jpg", logo).status_code == 201
    got = api.http.get(f"/v1/templates/{SLUG}/assets/logo.jpg")
    assert (got.status_code, got.content, got.headers["content-type"]) == (
        200, logo, "image/jpeg")
    assert got.headers["content-disposition"] == "attachment"
    missing = api.http.get(f"/v1/templates/{SLUG}/assets/nothing.png")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    stranger = new_api(stack)
    try:
        theirs = stranger.http.get(f"/v1/templates/{SLUG}/assets/logo.jpg")
        assert theirs.status_code == 404, theirs.text  # their own receipt has no logo.jpg
        other = stranger.http.get("/v1/templates/no-such-template/assets/logo.jpg")
        assert other.json()["error"]["code"] == "template_not_found"
    finally:
        stranger.close()


def test_bad_uploads_are_refused(api):
    for data in (b"not an image", b"\x89PNG\r\n\x1a\n broken"):
        response = put(api, "x.png", data)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid_asset"
        assert "PNG or JPEG" in response.json()["error"]["message"]
    assert put(api, "../etc.png", png(2, 2)).status_code in (400, 404)
    big = put(api, "big.png", b"\x00" * (5 * 1024 * 1024 + 1))
    assert big.status_code == 413 and big.json()["error"]["code"] == "payload_too_large"
    assert api.http.get(f"/v1/templates/{SLUG}/assets").json()["assets"] == []


def test_a_layout_shows_an_uploaded_image_and_lint_refuses_unknown_ones(api):
    spec = sample("invoice")
    image_block = {"type": "image", "asset": "logo.png", "width": 120, "align": "right"}
    layout = {**spec["layout"], "body": [image_block, *spec["layout"]["body"]]}
    refused = api.http.post(f"/v1/templates/{SLUG}/versions",
                            json={"manifest": spec["manifest"], "layout": layout})
    assert refused.status_code == 400
    assert "layout.body.0.asset" in refused.json()["error"]["issues"]["fieldErrors"]

    assert put(api, "logo.png", png(300, 100)).status_code == 201
    added = api.http.post(f"/v1/templates/{SLUG}/versions",
                          json={"manifest": spec["manifest"], "layout": layout})
    assert added.status_code == 201
    api.http.post(f"/v1/templates/{SLUG}/versions/{added.json()['number']}/publish")
    rendered = api.render(spec["example"], slug=SLUG, sync=True).json()
    assert rendered["status"] == "succeeded", rendered["errorMessage"]
    page = pypdf.PdfReader(io.BytesIO(httpx.get(rendered["downloadUrl"]).content)).pages[0]
    assert {shown.image.size for shown in page.images} == {(300, 100)}
    assert "Acme Corp" in page.extract_text()


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def crafted_png(width: int, height: int, rows: int = 2, idat: bytes | None = None) -> bytes:
    """A grey PNG whose header says width x height, cheap at any size: its data stream holds
    only `rows` rows (or `idat`), which is all a header check reads."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data = zlib.compress(b"\x00" * (width + 1) * rows) if idat is None else idat
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data)
            + chunk(b"IEND", b""))


def image(fmt: str, width: int = 300, height: int = 200) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (20, 90, 160)).save(out, format=fmt)
    return out.getvalue()


@pytest.mark.parametrize("data, message", [
    (crafted_png(50_000, 50_000), "image has 2500 MP, a decompression bomb; at most 40 MP"),
    (crafted_png(12_000, 12_000), "image is 12000x12000 = 144 MP; at most 40 MP"),
    (crafted_png(6_400, 6_400), "image is 6400x6400 = 41 MP; at most 40 MP"),
    (crafted_png(10_001, 10), "image is 10001x10 pixels; at most 10000 on either side"),
    (crafted_png(300, 200, idat=b"not zlib" * 20), "PNG image cannot be decoded"),
    (image("PNG")[:-200], "PNG image cannot be decoded: it is truncated"),
    (image("JPEG")[:-100], "JPEG image cannot be decoded: it is truncated"),
    (image("GIF"), "must be a PNG or JPEG image"),
], ids=["50000x50000", "12000x12000", "6400x6400", "10001-wide", "corrupt-png", "truncated-png",
        "truncated-jpeg", "gif"])
def test_images_that_cannot_render_are_refused_at_upload_saying_why(api, data, message):
    response = put(api, "x.png", data)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_asset" and message in error["message"], error
    assert api.http.get(f"/v1/templates/{SLUG}/assets").json()["assets"] == []


def test_a_large_image_within_the_limits_is_accepted(api):
    response = put(api, "photo.jpg", image("JPEG", 6_000, 6_000))  # 36 MP, decoded once
    assert response.status_code == 201
    assert (response.json()["width"], response.json()["height"]) == (6_000, 6_000)


@pytest.mark.parametrize("name", ["logo.png%0A", "logo.png%00", "x" * 101])
def test_asset_names_are_whole_strings(api, name):
    response = put(api, name, png(2, 2))  # refused by the gateway or the status service
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_request"
    assert api.http.get(f"/v1/templates/{SLUG}/assets").json()["assets"] == []


# ------------------------------------------------------------------------------------ fonts

def font_file(name: str) -> bytes:
    from craftkit.layout import fonts
    return {"lato-bold": fonts.FAMILIES["sans"].files[1], "dejavu": fonts.DEJAVU.files[0]}[
        name].read_bytes()


def put_font(api, name: str, data: bytes) -> httpx.Response:
    return api.http.put(f"/v1/templates/invoice/assets/{name}", content=data,
                        headers={"content-type": "font/ttf"})


def with_brand_font(spec: dict) -> dict:
    return {**spec["layout"], "fonts": {"Brand": {"regular": "brand.ttf"}}, "font": "Brand"}


def test_an_uploaded_font_draws_the_documents_text(api):
    brand = font_file("dejavu")
    created = put_font(api, "brand.ttf", brand)
    assert created.status_code == 201, created.text
    assert (created.json()["contentType"], created.json()["size"]) == ("font/ttf", len(brand))
    spec = sample("invoice")
    added = api.http.post("/v1/templates/invoice/versions",
                          json={"manifest": spec["manifest"], "layout": with_brand_font(spec)})
    assert added.status_code == 201, added.text
    api.http.post(f"/v1/templates/invoice/versions/{added.json()['number']}/publish")
    rendered = api.render(spec["example"], sync=True).json()
    assert rendered["status"] == "succeeded", rendered["errorMessage"]
    pdf = httpx.get(rendered["downloadUrl"]).content
    chars = pdfplumber.open(io.BytesIO(pdf)).pages[0].chars
    names = {c["fontname"].split("+", 1)[1] for c in chars if c["text"] == "A"}
    assert any(n.startswith("u") and n.endswith("-regular") for n in names), names


@pytest.mark.parametrize("data, message", [
    (lambda: font_file("dejavu")[:40_000], "truncated or corrupt"),
    (lambda: b"\x00\x01\x00\x00" + b"\xff" * 4000, "font"),
    (lambda: b"\x00\x01\x00\x00" + b"\x00" * (4 * 2**20 + 1), "at most 4 MiB"),
    (lambda: b"OTTO" + font_file("dejavu")[4:], "convert it to TrueType outlines"),
], ids=["truncated", "garbage", "oversized", "cff"])
def test_fonts_the_renderer_cannot_embed_are_refused_at_upload_saying_why(api, data, message):
    response = put_font(api, "brand.ttf", data())
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_asset" and message in error["message"], error
    listed = api.http.get("/v1/templates/invoice/assets").json()["assets"]
    assert [a["name"] for a in listed] == ["logo.png"]  # the demo's logo only


def test_another_project_cannot_use_a_projects_font(api, stack):
    assert put_font(api, "brand.ttf", font_file("lato-bold")).status_code == 201
    other = new_api(stack)
    try:
        spec = sample("invoice")
        refused = other.http.post("/v1/templates/invoice/versions",
                                  json={"manifest": spec["manifest"],
                                        "layout": with_brand_font(spec)})
        assert refused.status_code == 400
        issues = refused.json()["error"]["issues"]["fieldErrors"]
        assert "not an asset of this template" in issues["layout.fonts.Brand.regular"][0]
    finally:
        other.close()
