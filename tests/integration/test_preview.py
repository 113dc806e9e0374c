"""Previews (POST /v1/templates/{slug}/versions/{n}/preview): any version, published or not, is
rendered at once into the response; its data is refused exactly as a render's; nothing is stored;
previews run in the gateway's own killable render processes, under the render limits and a rate
limit of their own."""

from __future__ import annotations

import io
import os
import re
import subprocess
import threading
import uuid
from pathlib import Path

import httpx
import psutil
import psycopg
import pytest
from PIL import Image

from craftkit.demo import sample
from services.gateway.previews import MAX_ASSET_BYTES, page_one_png
from tests.integration.conftest import eventually, invoice, new_api, pdf_text

SPEC = sample("invoice")
LIMITS = {"RENDER_TIME_LIMIT_SECONDS": "3", "RENDER_MEMORY_LIMIT_MB": "128",
          "PREVIEW_PROCESSES": "1"}
NESTED = {"manifest": {"fields": {"rows": {"type": "array", "of": "integer"}}},
          "layout": {"body": [{"type": "each", "source": "rows", "as": "a", "blocks": [
              {"type": "each", "source": "rows", "as": "b", "blocks": [
                  {"type": "each", "source": "rows", "as": "c", "blocks": [
                      {"type": "text", "text": "{{a}} {{b}} {{c}}"}]}]}]}]}}
IMAGE = {"manifest": {"fields": {"title": {"type": "string"}}},
         "layout": {"body": [{"type": "title", "text": "{{title}}"},
                             {"type": "image", "asset": "big.png", "width": 200}]}}


def draft(api, spec: dict = SPEC, slug: str = "invoice") -> int:
    """A new, unpublished version of `slug`; its number."""
    added = api.http.post(f"/v1/templates/{slug}/versions",
                          json={"manifest": spec["manifest"], "layout": spec["layout"]})
    assert added.status_code == 201, added.text
    assert added.json()["published"] is False
    return added.json()["number"]


def template(api, slug: str, spec: dict) -> int:
    assert api.http.post("/v1/templates", json={"slug": slug}).status_code == 201
    return draft(api, spec, slug)


def error_of(response: httpx.Response) -> dict:
    """The error envelope without its requestId (each request has its own)."""
    error = response.json()["error"]
    assert error.pop("requestId") == response.headers["x-request-id"]
    return error


def preview(http: httpx.Client, slug: str, number: int, data: dict) -> httpx.Response:
    return http.post(f"/v1/templates/{slug}/versions/{number}/preview", json={"data": data})


def renders_of(stack, project_id: str) -> int:
    with psycopg.connect(stack.infra.database_url, autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM renders WHERE project_id = %s",
                            (project_id,)).fetchone()[0]


def test_an_unpublished_version_previews_as_a_pdf_and_no_render_is_made(stack, api):
    number = draft(api)
    data = invoice(name=f"Preview Customer {uuid.uuid4().hex[:6]}")
    answer = preview(api.http, "invoice", number, data)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    text, pages = pdf_text(answer.content)
    assert data["customer"]["name"] in text and pages == 1
    assert renders_of(stack, api.project_id) == 0
    published = api.http.get("/v1/templates/invoice").json()["publishedVersion"]
    assert published != number  # previewing published nothing


def test_bad_data_is_refused_with_the_same_errors_as_a_render(api):
    number = draft(api)
    assert api.http.post(f"/v1/templates/invoice/versions/{number}/publish").status_code == 200
    bad = {"customer": {"name": 7}, "items": [{"name": "x", "qty": 1.5, "price": 1}],
           "total": "free", "extra": True}
    rendered = api.render(bad, versionNumber=number)
    previewed = preview(api.http, "invoice", number, bad)
    assert previewed.status_code == rendered.status_code == 400
    assert previewed.json()["error"]["code"] == "invalid_input_data"
    assert error_of(previewed) == error_of(rendered)


@pytest.mark.parametrize("body, code", [({}, "invalid_request"), ({"data": []}, "invalid_request"),
                                        ({"data": {}, "options": {}}, "invalid_request")])
def test_a_body_that_is_not_data_is_refused(api, body, code):
    answer = api.http.post("/v1/templates/invoice/versions/1/preview", json=body)
    assert answer.status_code == 400 and answer.json()["error"]["code"] == code


def test_a_missing_version_or_template_is_404(api):
    missing = preview(api.http, "invoice", 99, invoice())
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "version_not_found"
    nothing = preview(api.http, "nothing", 1, invoice())
    assert nothing.status_code == 404 and nothing.json()["error"]["code"] == "template_not_found"


def test_another_projects_version_is_404(stack, api):
    number = draft(api)
    other = new_api(stack)
    try:
        assert preview(other.http, "invoice", number, invoice()).status_code == 404
    finally:
        other.close()


def test_the_schema_of_an_unpublished_version_says_so_and_its_curl_previews(api, tmp_path):
    number = draft(api)
    schema = api.http.get(f"/v1/templates/invoice/versions/{number}/schema").json()
    assert "not published" in schema["curl"] and "/publish" in schema["curl"]
    assert f"/v1/templates/invoice/versions/{number}/preview" in schema["curl"]
    run = subprocess.run(["bash", "-c", schema["curl"] + " -s -w '%{http_code}'"], cwd=tmp_path,
                         env={**os.environ, "CRAFTKIT_API_KEY": api.key},
                         capture_output=True, text=True, timeout=30)
    assert run.stdout == "200", run.stdout + run.stderr
    text, _ = pdf_text((tmp_path / "preview.pdf").read_bytes())
    assert schema["example"]["customer"]["name"] in text
    published = api.http.get("/v1/templates/invoice/versions/1/schema").json()
    assert published["curl"].startswith("curl -X POST")


def png_preview(http: httpx.Client, slug: str, number: int, data: dict) -> httpx.Response:
    return http.post(f"/v1/templates/{slug}/versions/{number}/preview", json={"data": data},
                     headers={"accept": "image/png"})


def test_accept_image_png_answers_page_one_as_the_picture_of_the_pdf(stack, api):
    number = draft(api)
    data = invoice(rows=60)  # two pages
    as_pdf = preview(api.http, "invoice", number, data)
    as_png = png_preview(api.http, "invoice", number, data)
    assert as_png.status_code == 200, as_png.text
    assert as_png.headers["content-type"] == "image/png"
    assert as_png.headers["vary"] == "Accept" and as_png.headers["cache-control"] == "no-store"
    assert pdf_text(as_pdf.content)[1] == 2
    assert as_png.content == page_one_png(as_pdf.content)  # page 1 of the same PDF, nothing else
    assert Image.open(io.BytesIO(as_png.content)).format == "PNG"
    assert renders_of(stack, api.project_id) == 0


def test_a_preview_is_never_sniffed_as_another_type(api):
    """Like every other file the gateway answers (downloads, share links, assets): a browser
    shown a preview takes it as the PDF or PNG it says it is, never as a page of the origin."""
    number = draft(api)
    for answer in (preview(api.http, "invoice", number, invoice()),
                   png_preview(api.http, "invoice", number, invoice())):
        assert answer.status_code == 200, answer.text
        assert answer.headers["x-content-type-options"] == "nosniff"


def test_a_png_preview_refuses_what_the_pdf_preview_refuses_as_json(api):
    number = draft(api)
    bad = {"customer": {"name": 7}, "items": [], "total": "free"}
    pdf, png = preview(api.http, "invoice", number, bad), png_preview(api.http, "invoice", number, bad)
    assert png.status_code == pdf.status_code == 400
    assert png.headers["content-type"] == "application/json"
    assert error_of(png) == error_of(pdf)
    missing = png_preview(api.http, "invoice", 99, invoice())
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "version_not_found"


# ---------------------------------------------------- limits: a gateway with short ones

@pytest.fixture(scope="module")
def limited(stack):
    """A gateway whose previews have 3 s and 128 MB, one render process."""
    with stack.extra("gateway", LIMITS) as address:
        yield f"http://{address}"


def client(base_url: str, api) -> httpx.Client:
    return httpx.Client(base_url=base_url, timeout=60,
                        headers={"authorization": f"Bearer {api.key}"})


def test_a_preview_over_the_time_limit_fails_naming_it_and_the_gateway_answers_meanwhile(
        limited, api):
    number = template(api, "nested", NESTED)
    answered = {}
    with client(limited, api) as http:
        slow = threading.Thread(target=lambda: answered.update(
            response=preview(http, "nested", number, {"rows": list(range(300))})))
        slow.start()
        try:
            # The one render process is busy with it: another preview waits briefly, then 429.
            busy = eventually(lambda: (r := preview(http, "invoice", 1, invoice()))
                              .status_code == 429 and r, what="the slow preview rendering")
            assert "busy" in busy.json()["error"]["message"] and busy.headers["retry-after"]
            assert slow.is_alive()
            assert http.get("/v1/templates").status_code == 200  # the event loop is free
        finally:
            slow.join(timeout=60)
        response = answered["response"]
        assert response.status_code == 409, response.text
        assert response.json()["error"]["code"] == "render_failed"
        assert "RENDER_TIME_LIMIT_SECONDS" in response.json()["error"]["message"]
        after = preview(http, "invoice", 1, invoice())
        assert after.status_code == 200 and after.content.startswith(b"%PDF")


def test_a_preview_over_the_memory_limit_fails_naming_it(limited, api):
    big = io.BytesIO()
    Image.new("RGB", (6000, 5000), (200, 30, 30)).save(big, format="PNG")  # 30 MP in 100 KB
    assert api.http.post("/v1/templates", json={"slug": "image"}).status_code == 201
    uploaded = api.http.put("/v1/templates/image/assets/big.png", content=big.getvalue())
    assert uploaded.status_code == 201, uploaded.text
    number = draft(api, IMAGE, "image")
    with client(limited, api) as http:
        response = preview(http, "image", number, {"title": "big"})
        assert response.status_code == 409, response.text
        assert response.json()["error"]["code"] == "render_failed"
        assert "RENDER_MEMORY_LIMIT_MB" in response.json()["error"]["message"]
        assert preview(http, "invoice", 1, invoice()).status_code == 200


def test_previews_have_a_rate_limit_of_their_own(stack, api):
    with stack.extra("gateway", {"PREVIEW_RATE_PER_SECOND": "0.01", "PREVIEW_BURST": "2"}) \
            as address, client(f"http://{address}", api) as http:
        assert [preview(http, "invoice", 1, invoice()).status_code for _ in range(2)] == [200, 200]
        limited = preview(http, "invoice", 1, invoice())
        assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limited"
        assert "preview" in limited.json()["error"]["message"]
        assert int(limited.headers["retry-after"]) >= 1
        rendered = http.post("/v1/templates/invoice/render", json={"data": invoice()})
        assert rendered.status_code == 202, rendered.text  # renders are not held back


def test_a_project_past_its_preview_time_waits_while_others_still_preview(stack, api):
    """PREVIEW_SECONDS_*: one project's slow previews cannot keep the process from the rest."""
    number = template(api, "nested", NESTED)
    budget = {**LIMITS, "PREVIEW_SECONDS_PER_SECOND": "0.001", "PREVIEW_SECONDS_BURST": "2"}
    other = new_api(stack)
    with stack.extra("gateway", budget) as address, client(f"http://{address}", api) as http, \
            client(f"http://{address}", other) as other_http:
        slow = preview(http, "nested", number, {"rows": list(range(300))})
        assert slow.status_code == 409, slow.text  # it held the process 3 s: over its 2
        held = preview(http, "invoice", 1, invoice())
        assert held.status_code == 429 and held.json()["error"]["code"] == "rate_limited"
        assert "seconds of preview rendering" in held.json()["error"]["message"]
        fine = preview(other_http, "invoice", 1, invoice())
        assert fine.status_code == 200 and fine.content.startswith(b"%PDF")
    other.close()


def noise_png(side: int) -> bytes:
    """An image that does not compress: its PNG is about as big as its pixels."""
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(out, format="PNG")
    return out.getvalue()


def pod_memory_limit() -> int:
    """The gateway container's memory limit in deploy/k8s (bytes)."""
    manifest = (Path(__file__).parents[2] / "deploy/k8s/base/gateway.yaml").read_text()
    (mebibytes,) = re.findall(r"limits: \{cpu: \"\d+\", memory: (\d+)Mi\}", manifest)
    return int(mebibytes) * 2**20


def config_value(name: str) -> str:
    config = (Path(__file__).parents[2] / "deploy/k8s/base/config.env").read_text()
    (value,) = re.findall(rf"^{name}=(\S+)$", config, flags=re.MULTILINE)
    return value


def test_previews_of_images_at_the_cap_keep_the_gateway_pod_under_its_memory_limit(stack, api):
    """With production's settings, a preview's images (as many as previews.MAX_ASSET_BYTES
    allows) pass through the gateway process: what it keeps afterwards, plus the preview process
    at its memory limit, must fit the pod's limit, or one tenant's previews get the gateway pod
    (every project's requests) OOM-killed."""
    image = noise_png(1200)
    names = [f"n{i}.png" for i in range(MAX_ASSET_BYTES // len(image))]
    assert api.http.post("/v1/templates", json={"slug": "photos"}).status_code == 201
    for name in names:
        uploaded = api.http.put(f"/v1/templates/photos/assets/{name}", content=image)
        assert uploaded.status_code == 201, uploaded.text
    number = draft(api, {"manifest": {"fields": {}}, "layout": {"body": [
        {"type": "image", "asset": name, "width": 300} for name in names]}}, "photos")
    limit_mb = int(config_value("RENDER_MEMORY_LIMIT_MB"))
    with stack.extra("gateway", {"RENDER_MEMORY_LIMIT_MB": str(limit_mb),
                                 "PREVIEW_PROCESSES": "1"}) as address, \
            client(f"http://{address}", api) as http:
        port = int(address.rsplit(":", 1)[1])
        (gateway,) = [psutil.Process(c.pid) for c in psutil.net_connections("tcp")
                      if c.status == psutil.CONN_LISTEN and c.laddr.port == port]
        assert preview(http, "invoice", 1, invoice()).status_code == 200  # starts the process
        idle = sum(p.memory_info().rss for p in gateway.children(recursive=True))
        for _ in range(3):
            shown = preview(http, "photos", number, {})
            assert shown.status_code == 200, shown.text
        kept = gateway.memory_info().rss
    # The preview process may grow to its idle size plus the limit (RLIMIT_AS), never more.
    assert kept + idle + limit_mb * 2**20 < pod_memory_limit(), (
        f"gateway {kept >> 20} MiB + idle children {idle >> 20} MiB + {limit_mb} MiB > "
        f"{pod_memory_limit() >> 20} MiB")
