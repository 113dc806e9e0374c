"""One tenant's hostile renders cannot stop another's: renders run in killable processes under a
time and a memory limit, and no project holds more than its share of a worker.

A stack of its own, with short limits: 3 s per render, 128 MB per render, 4 render processes of
which one project may hold 2, and at most 4 jobs of a project waiting in hand."""

from __future__ import annotations

import io
import json

import psycopg
import pytest
import uuid6
from PIL import Image

from craftkit.devstack import Infra, Stack
from craftkit.v1 import render_pb2 as S
from tests.integration.conftest import FAST_RECOVERY, eventually, invoice, new_api
from tests.integration.scraped import Scrape

LIMITS = {"RENDER_TIME_LIMIT_SECONDS": "3", "RENDER_MEMORY_LIMIT_MB": "128",
          "WORKER_CONCURRENCY": "4", "WORKER_PROJECT_CONCURRENCY": "2",
          "WORKER_PROJECT_BACKLOG": "4"}
TIME_LIMIT = "longer than 3 s (RENDER_TIME_LIMIT_SECONDS)"
MEMORY_LIMIT = "more than 128 MB of memory (RENDER_MEMORY_LIMIT_MB)"

# Three nested loops over 300 rows: 27 million text blocks.
NESTED = {"manifest": {"fields": {"rows": {"type": "array", "of": "integer"}}},
          "layout": {"body": [{"type": "each", "source": "rows", "as": "a", "blocks": [
              {"type": "each", "source": "rows", "as": "b", "blocks": [
                  {"type": "each", "source": "rows", "as": "c", "blocks": [
                      {"type": "text", "text": "{{a}} {{b}} {{c}}"}]}]}]}]}}
BARCODE = {"manifest": {"fields": {"code": {"type": "string"}}},
           "layout": {"body": [{"type": "barcode", "value": "{{code}}"}]}}
IMAGE = {"manifest": {"fields": {"title": {"type": "string"}}},
         "layout": {"body": [{"type": "title", "text": "{{title}}"},
                             {"type": "image", "asset": "big.png", "width": 200}]}}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    infra = Infra(tmp_path_factory.mktemp("isolation")).start()
    stack = Stack(infra, env_overrides={**FAST_RECOVERY, **LIMITS}).start()
    try:
        yield stack
    finally:
        stack.stop()
        infra.stop()


@pytest.fixture(scope="module")
def hostile(stack):
    api = new_api(stack)
    big = io.BytesIO()
    # 39.9 MP (under MAX_ASSET_PIXELS) in a small PNG: its 160 MB decode buffer is refused at
    # once, before any decoding time, so the memory limit is met before the time limit on a
    # loaded machine too (30 MP fit the buffer and failed only after 2 s of decoding).
    Image.new("RGB", (7000, 5700), (200, 30, 30)).save(big, format="PNG")
    for slug, spec in (("nested", NESTED), ("barcode", BARCODE), ("image", IMAGE)):
        created = api.http.post("/v1/templates", json={"slug": slug, "name": slug})
        assert created.status_code == 201, created.text
        if slug == "image":
            uploaded = api.http.put("/v1/templates/image/assets/big.png", content=big.getvalue(),
                                    headers={"content-type": "image/png"})
            assert uploaded.status_code == 201, uploaded.text
        version = api.http.post(f"/v1/templates/{slug}/versions", json=spec)
        assert version.status_code == 201, version.text
        assert api.http.post(f"/v1/templates/{slug}/versions/1/publish").status_code == 200
    yield api
    api.close()


@pytest.fixture(scope="module")
def victim(stack):
    api = new_api(stack)
    yield api
    api.close()


def named_limit(message: str) -> bool:
    """Loop expansion and huge barcodes take time and memory: whichever limit a machine's speed
    makes them reach first."""
    return TIME_LIMIT in message or MEMORY_LIMIT in message


def post(api, slug: str, data: dict) -> str:
    response = api.render(data, slug=slug)
    assert response.status_code == 202, response.text
    return response.json()["id"]


def test_a_victim_renders_while_a_hostile_project_fills_its_share(hostile, victim):
    # 8 renders of minutes each: 2 render, 4 wait in hand, the rest are left for the sweeper.
    slow = [post(hostile, "nested", {"rows": list(range(300 + n))}) for n in range(8)]
    eventually(lambda: any(hostile.grpc_render(r).status == S.RENDER_STATUS_RENDERING
                           for r in slow), what="the hostile renders starting")

    for _ in range(5):
        done = victim.render(invoice(), sync=True)
        assert done.status_code == 200 and done.json()["status"] == "succeeded", done.text
    # The victim was served while the hostile project still had renders to go.
    unfinished = [r for r in slow if hostile.grpc_render(r).status not in
                  (S.RENDER_STATUS_SUCCEEDED, S.RENDER_STATUS_FAILED)]
    assert unfinished

    for render_id in slow:
        render = hostile.wait(render_id, timeout=120)
        assert render.status == S.RENDER_STATUS_FAILED
        assert named_limit(render.error_message), render.error_message
    after = victim.render(invoice(), sync=True)
    assert after.json()["status"] == "succeeded", after.text


def test_a_huge_barcode_is_stopped_at_a_limit(hostile, victim):
    render_id = post(hostile, "barcode", {"code": "A" * 200_000})
    render = hostile.wait(render_id, timeout=60)
    assert render.status == S.RENDER_STATUS_FAILED and named_limit(render.error_message)
    assert victim.render(invoice(), sync=True).json()["status"] == "succeeded"


def test_an_image_whose_decoding_needs_more_than_the_memory_limit_fails_naming_it(hostile,
                                                                                victim):
    render_id = post(hostile, "image", {"title": "big"})
    render = hostile.wait(render_id, timeout=60)
    assert render.status == S.RENDER_STATUS_FAILED and MEMORY_LIMIT in render.error_message
    assert victim.render(invoice(), sync=True).json()["status"] == "succeeded"


def test_renders_that_cannot_be_stored_fail_and_the_worker_keeps_going(stack, hostile, victim):
    """32 renders whose object key S3 refuses used to wedge the worker (a filename ending in a
    newline did it with moto; SeaweedFS refuses keys over 1,024 bytes). The API refuses such
    filenames now, so they are written straight into PostgreSQL, as an older version accepted
    them; the sweeper hands their jobs out."""
    with psycopg.connect(stack.infra.database_url, autocommit=True) as conn:
        template_id, version = conn.execute(
            "SELECT id, published_version FROM templates WHERE project_id = %s AND slug = 'invoice'",
            (hostile.project_id,)).fetchone()
        ids = [str(uuid6.uuid7()) for _ in range(32)]
        for render_id in ids:
            conn.execute("INSERT INTO renders (id, project_id, template_id, version_number, data, "
                         "filename) VALUES (%s, %s, %s, %s, %s, %s)",
                         (render_id, hostile.project_id, template_id, version,
                          json.dumps(invoice()), "y" * 1100 + ".pdf"))
    for render_id in ids:
        render = hostile.wait(render_id, timeout=90)
        assert render.status == S.RENDER_STATUS_FAILED
        assert "storing the PDF failed: S3 answered 4" in render.error_message
    assert victim.render(invoice(), sync=True).json()["status"] == "succeeded"


REGEX_BOMB = {"manifest": {"fields": {"code": {"type": "string", "pattern": "^(a+)+$",
                                                "example": "aaaa"}}},
              "layout": {"body": [{"type": "text", "text": "{{code}}"}]}}


def huge_png(width: int, height: int) -> bytes:
    """A PNG of huge dimensions in a few hundred bytes: a decompression bomb."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    rows = zlib.compress(b"\x00" * (width + 1) * 16)  # the start of the picture is enough
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", rows) + chunk(b"IEND", b""))


@pytest.mark.timeout(120)
def test_what_a_hostile_project_sends_is_refused_at_once_while_the_victims_webhooks_arrive(
        hostile, victim, receiver):
    hook = victim.http.post("/v1/webhooks", json={"url": f"{receiver.base}/victim"})
    assert hook.status_code == 201, hook.text
    rendered = [post(victim, "invoice", invoice()) for _ in range(3)]

    # A pattern that backtracks for hours under Python's re: refused data comes back at once.
    assert hostile.http.post("/v1/templates", json={"slug": "bomb"}).status_code == 201
    version = hostile.http.post("/v1/templates/bomb/versions", json=REGEX_BOMB)
    assert version.status_code == 201, version.text
    assert hostile.http.post("/v1/templates/bomb/versions/1/publish").status_code == 200
    bomb = hostile.render({"code": "a" * 40 + "!"}, slug="bomb")
    assert bomb.status_code == 400 and bomb.json()["error"]["code"] == "invalid_input_data"

    bad_name = hostile.render(invoice(), filename="x\n")
    assert bad_name.status_code == 400 and "filename" in bad_name.json()["error"]["message"]

    bad_hook = hostile.http.post("/v1/webhooks", json={"url": "http://example.com/\u0001"})
    assert bad_hook.status_code == 400, bad_hook.text
    assert "url" in bad_hook.json()["error"]["issues"]["fieldErrors"]

    bomb_image = hostile.http.put("/v1/templates/image/assets/bomb.png",
                                  content=huge_png(50_000, 50_000),
                                  headers={"content-type": "image/png"})
    assert bomb_image.status_code == 400, bomb_image.text
    assert bomb_image.json()["error"]["code"] == "invalid_asset"

    for render_id in rendered:
        assert victim.wait(render_id).status == S.RENDER_STATUS_SUCCEEDED
    # Earlier victim renders whose events are recorded after the endpoint exists come too.
    eventually(lambda: set(rendered) <= {json.loads(r.body)["renderId"]
                                         for r in receiver.at("/victim")}, timeout=60,
               what="the victim's three webhooks")


def test_a_render_killed_at_the_memory_limit_shows_on_the_workers_metrics(stack, hostile):
    """What an operator sees: the render counted killed under its template, the limit that
    killed it, and its render process replaced."""
    before = Scrape(stack.metrics_url("render_worker"))
    # A title of its own: the same data as an earlier render would be that render again.
    render = hostile.wait(post(hostile, "image", {"title": f"big {uuid6.uuid7()}"}), timeout=60)
    assert render.status == S.RENDER_STATUS_FAILED and MEMORY_LIMIT in render.error_message

    after = Scrape(stack.metrics_url("render_worker"))
    killed = "craftkit_renders_killed_total"
    assert after.value(killed, limit="memory") == before.value(killed, limit="memory") + 1
    duration = "craftkit_render_duration_seconds_count"
    assert (after.value(duration, template="image", outcome="killed")
            == before.value(duration, template="image", outcome="killed") + 1)
    restarts = "craftkit_render_pool_restarts_total"
    assert after.value(restarts) >= before.value(restarts) + 1
