"""Render processes: each render in a child that the limits (and a superseded attempt) kill."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import time

import psutil
import pypdf
import pytest
from PIL import Image

from craftkit import demo
from craftkit.layout import Limits
from craftkit.render_pool import PoolSettings, RenderCrashed, RenderFailed, RenderPool

NESTED = {"body": [{"type": "each", "source": "rows", "as": "a", "blocks": [
    {"type": "each", "source": "rows", "as": "b", "blocks": [
        {"type": "each", "source": "rows", "as": "c", "blocks": [
            {"type": "text", "text": "{{a}} {{b}} {{c}}"}]}]}]}]}
ROWS = json.dumps({"rows": list(range(300))})  # 27 million text blocks
INVOICE = demo.sample("invoice")


def pool(seconds: float = 60, memory_mb: int = 512, restarts: list | None = None) -> RenderPool:
    """`restarts` collects what the pool reports as replaced processes."""
    return RenderPool(PoolSettings(processes=1, recycle_after=100, limits=Limits(seconds=seconds),
                                   memory_limit_mb=memory_mb),
                      on_restart=(restarts if restarts is not None else []).append)


async def invoice(renderer: RenderPool) -> bytes:
    return await renderer.render(json.dumps(INVOICE["layout"]), json.dumps(INVOICE["example"]),
                                 demo.sample_assets("invoice"))


def children() -> set[int]:
    """The render processes of this test process: spawned by multiprocessing, not its resource
    tracker (nor the servers other tests started)."""
    pids = set()
    for child in psutil.Process().children():
        try:
            command = " ".join(child.cmdline())
        except psutil.Error:
            continue
        if "spawn_main" in command and "resource_tracker" not in command:
            pids.add(child.pid)
    return pids


async def eventually(predicate, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "did not happen in time"
        await asyncio.sleep(0.05)


async def test_a_render_over_the_time_limit_is_killed_and_the_next_one_renders():
    restarts = []
    renderer = pool(seconds=1, restarts=restarts)
    try:
        await invoice(renderer)  # the child is up
        with pytest.raises(RenderFailed, match=r"longer than 1 s \(RENDER_TIME_LIMIT_SECONDS\)") \
                as failed:
            await renderer.render(json.dumps(NESTED), ROWS, {})
        assert failed.value.limit == "time" and restarts == [1]
        assert (await invoice(renderer)).startswith(b"%PDF")
    finally:
        renderer.close()


async def test_a_render_over_the_memory_limit_fails_naming_it():
    out = io.BytesIO()
    Image.new("RGB", (6000, 5000), (200, 30, 30)).save(out, format="PNG")  # 30 MP, 100 KB
    layout = {"body": [{"type": "image", "asset": "big.png", "width": 200}]}
    restarts = []
    renderer = pool(memory_mb=64, restarts=restarts)
    try:
        with pytest.raises(RenderFailed, match=r"more than 64 MB .*RENDER_MEMORY_LIMIT_MB") as failed:
            await renderer.render(json.dumps(layout), "{}", {"big.png": out.getvalue()})
        assert failed.value.limit == "memory" and restarts == [1]
        for _ in range(3):  # what the failed render left behind is gone with its process
            assert (await invoice(renderer)).startswith(b"%PDF")
    finally:
        renderer.close()


async def test_cancelling_a_render_kills_its_process():
    restarts = []
    renderer = pool(restarts=restarts)
    try:
        await invoice(renderer)
        [before] = children()
        render = asyncio.create_task(renderer.render(json.dumps(NESTED), ROWS, {}))
        await eventually(lambda: psutil.Process(before).cpu_percent(0.1) > 10)
        render.cancel()
        await eventually(lambda: restarts == [1])
        await eventually(lambda: not psutil.pid_exists(before) or
                         psutil.Process(before).status() == psutil.STATUS_ZOMBIE)
        assert (await invoice(renderer)).startswith(b"%PDF")
        assert before not in children()
    finally:
        renderer.close()


async def test_a_render_process_that_dies_is_a_crash_not_a_failure():
    renderer = pool()
    try:
        await invoice(renderer)
        [child] = children()
        render = asyncio.create_task(renderer.render(json.dumps(NESTED), ROWS, {}))
        await eventually(lambda: psutil.Process(child).cpu_percent(0.1) > 10)
        os.kill(child, signal.SIGKILL)
        with pytest.raises(RenderCrashed, match="killed by signal 9"):
            await render
        assert (await invoice(renderer)).startswith(b"%PDF")
    finally:
        renderer.close()


async def test_a_render_error_is_a_failure_with_its_message():
    renderer = pool()
    try:
        layout = {"body": [{"type": "barcode", "value": "{{code}}"}]}
        with pytest.raises(RenderFailed, match="not printable ASCII") as failed:
            await renderer.render(json.dumps(layout), json.dumps({"code": "é"}), {})
        assert failed.value.limit is None  # the data's fault, no limit
    finally:
        renderer.close()


@pytest.mark.parametrize("limits, data, message, limit", [
    (Limits(max_pages=2), {"rows": list(range(200))}, "the page limit", "pages"),
    (Limits(max_rows=10), {"rows": list(range(11))}, "the row limit", "rows"),
])
async def test_a_render_stopped_by_the_page_or_row_limit_names_it(limits, data, message, limit):
    layout = {"body": [{"type": "table", "source": "rows", "as": "n",
                        "columns": [{"header": "N", "text": "{{n}}"}]}]}
    restarts = []
    renderer = RenderPool(PoolSettings(processes=1, recycle_after=100, limits=limits,
                                       memory_limit_mb=512), on_restart=restarts.append)
    try:
        with pytest.raises(RenderFailed, match=message) as failed:
            await renderer.render(json.dumps(layout), json.dumps(data), {})
        assert failed.value.limit == limit
        assert restarts == []  # stopped inside the render: its process goes on
    finally:
        renderer.close()


async def test_a_document_comes_with_its_page_count():
    layout = {"body": [{"type": "table", "source": "rows", "as": "n",
                        "columns": [{"header": "N", "text": "{{n}}"}]}]}
    renderer = pool()
    try:
        for rows in (1, 300):
            rendered = await renderer.document(json.dumps(layout),
                                               json.dumps({"rows": list(range(rows))}), {})
            assert len(pypdf.PdfReader(io.BytesIO(rendered.pdf)).pages) == rendered.pages
        assert rendered.pages > 1
    finally:
        renderer.close()
