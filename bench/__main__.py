"""`make bench`: measures the renderer, then starts the whole stack on embedded servers and
measures the render pipeline.

Renderer: the 1-page seed invoice, and invoices of 50 to 20,000 rows, against ReportLab's own
Table (repeatRows=1) on the same rows where that finishes in reasonable time.

The 1-page seed invoice against the yardstick: the same document written directly in ReportLab
(same page, table and fonts: the floor any render service pays), time and PDF size of each.

Pipeline, for the 1-page seed invoice:
  - sustained renders/s, POST -> succeeded, at several concurrency levels (sync mode: each client
    posts the next render as soon as the previous one is terminal),
  - p50/p99 POST -> succeeded latency at a steady 50 renders/s (open loop),
  - GET /v1/renders/{id} requests/s,
  - GET /v1/renders/{id}/download requests/s and MiB/s (the PDF streamed from S3),
  - GET /v1/renders (one page of 20) requests/s.

Webhooks: deliveries/s to a local receiver, and the delay from a render's terminal state to its
delivery (p50/p99).

Observability: renders/s (concurrency 32) with metrics and tracing off, then on (every /metrics
scraped each second, spans exported to a local OTLP sink); see bench/overhead.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import uvloop

from bench import overhead
from bench.http import Connection
from craftkit import demo
from craftkit.devstack import Infra, Stack
from craftkit.layout import Limits, render_pdf


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def invoice(n: int) -> dict:
    return {"customer": {"name": f"Bench {uuid.uuid4().hex[:6]} {n}"},
            "items": [{"name": "Widget", "qty": 5, "price": 9.99}], "total": 49.95}


def rows_invoice(rows: int) -> dict:
    return {"customer": {"name": "Bench Ltd"}, "total": 1.0,
            "items": [{"name": f"Item {i}", "qty": i, "price": 1.5} for i in range(rows)]}


def reportlab_table(rows: int) -> float:
    """The same invoice table as ReportLab's own Table splits it (the quadratic baseline)."""
    import io

    from reportlab.platypus import SimpleDocTemplate, Table

    data = [["Item", "Qty", "Price"], *([f"Item {i}", str(i), "1.5"] for i in range(rows))]
    start = time.perf_counter()
    SimpleDocTemplate(io.BytesIO(), invariant=1).build(
        [Table(data, colWidths=[None, 60, 90], repeatRows=1)])
    return time.perf_counter() - start


def timed(function, *args, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def renderer() -> list[str]:
    layout, assets = demo.sample("invoice")["layout"], demo.sample_assets("invoice")
    render_pdf(layout, rows_invoice(1), assets=assets)
    lines = []
    per_row = {}
    for rows, repeat in ((1, 200), (50, 50), (500, 10), (5000, 3), (20000, 1)):
        ours = timed(lambda data: render_pdf(layout, data, assets=assets), rows_invoice(rows),
                     repeat=repeat)
        per_row[rows] = ours / rows
        line = f"  {rows:>6} rows: {ours * 1000:8.1f} ms  ({ours / rows * 1e6:6.1f} us/row)"
        if rows == 5000:
            line += f"  {len(render_pdf(layout, rows_invoice(rows), assets=assets)) / 1024:.0f} KiB"
        if 1 < rows <= 5000:
            baseline = timed(reportlab_table, rows, repeat=max(1, repeat // 3))
            line += (f"   ReportLab's Table, the table alone: {baseline * 1000:7.1f} ms "
                     f"(= {baseline / ours:3.1f}x our whole invoice)")
        lines.append(line)
    lines.append(f"  per-row cost at 20,000 rows / at 500 rows: {per_row[20000] / per_row[500]:.2f}")
    return lines


def base_fonts(layout: dict, data: dict) -> tuple[str, str]:
    """The regular and bold font the renderer gives this document (registered), so the yardstick
    draws, measures and embeds the same fonts."""
    from craftkit.layout import fonts, resolve

    resolver = resolve.Resolver(layout.get("locale", "en_US"), Limits())
    resolver.blocks(layout["body"], data)
    family = fonts.choose(layout.get("font"), resolver.texts)
    return family.regular, family.bold


def reportlab_invoice(layout: dict, data: dict, fonts: tuple[str, str]) -> bytes:
    """The 1-page invoice written directly in ReportLab, the yardstick: the same page, margins,
    fonts, title, bill-to line in two columns, table (header fill, the same column widths and
    alignment), total, and a "Page X of Y" footer drawn once the page count is known."""
    import io

    from reportlab.lib import colors
    from reportlab.lib.enums import TA_CENTER, TA_RIGHT
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfgen.canvas import Canvas
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Table, TableStyle

    regular, bold = fonts
    page = layout["page"]
    side = page["margin"] if isinstance(page["margin"], (int, float)) else page["margin"]["left"]

    class Numbered(Canvas):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.pages = []

        def showPage(self):
            self.pages.append(dict(self.__dict__))
            self._startPage()

        def save(self):
            for number, state in enumerate(self.pages, 1):
                self.__dict__.update(state)
                self.setFont(regular, 8)
                self.drawRightString(PAGE_WIDTH - side, 30,
                                     f"Page {number} of {len(self.pages)}")
                Canvas.showPage(self)
            Canvas.save(self)

    title = ParagraphStyle("t", fontName=bold, fontSize=20, leading=25, alignment=TA_CENTER)
    body = ParagraphStyle("b", fontName=regular, fontSize=12, leading=15)
    total = ParagraphStyle("s", fontName=bold, fontSize=12, leading=15, alignment=TA_RIGHT)
    rows = [["Item", "Qty", "Price"],
            *([i["name"], str(i["qty"]), str(i["price"])] for i in data["items"])]
    width = PAGE_WIDTH - 2 * side
    table = Table(rows, colWidths=[width - 150, 60, 90], repeatRows=1, style=TableStyle([
        ("FONT", (0, 0), (-1, 0), bold, 9), ("FONT", (0, 1), (-1, -1), regular, 9),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#EEEEEE")),
        ("ALIGN", (1, 0), (-1, -1), "RIGHT")]))
    out = io.BytesIO()
    margin = side
    SimpleDocTemplate(out, pagesize=(PAGE_WIDTH, PAGE_HEIGHT), leftMargin=margin,
                      rightMargin=margin, topMargin=margin, bottomMargin=margin,
                      title=f"Invoice {data.get('number', '')}".strip(), invariant=1).build(
        [Paragraph("Invoice", title),
         Table([[[Paragraph(f"Bill to: {data['customer']['name']}", body)], []]],
               colWidths=[width / 2, width / 2]), table,
         Paragraph(f"Total: {data['total']}", total)], canvasmaker=Numbered)
    return out.getvalue()


PAGE_WIDTH, PAGE_HEIGHT = 595.2756, 841.8898  # A4, the sample invoice's page

# The document the yardstick draws, as a layout: the seeds' invoice as the demo laid it out until
# issue 10 (title, bill-to, table, total, "Page X of Y"). The demo's invoice is a fuller document
# now (logo, sender, addresses, tax lines, terms): it is timed on its own line.
YARDSTICK_LAYOUT = {'page': {'size': 'A4', 'margin': 48},
 'metadata': {'title': 'Invoice {{number}}',
              'subject': 'Invoice for {{customer.name}}'},
 'footer': [{'type': 'text',
             'text': 'Page {{page}} of {{pages}}',
             'size': 8,
             'align': 'right',
             'color': '#666666'}],
 'body': [{'type': 'title', 'text': 'Invoice'},
          {'type': 'columns',
           'columns': [{'blocks': [{'type': 'text',
                                    'text': 'Bill to: {{customer.name}}',
                                    'size': 12}]},
                       {'blocks': [{'type': 'if',
                                    'test': 'number',
                                    'then': [{'type': 'text',
                                              'text': 'No. {{number}}',
                                              'align': 'right'}]},
                                   {'type': 'if',
                                    'test': 'issued',
                                    'then': [{'type': 'text',
                                              'text': 'Issued {{issued | '
                                                      'date:long}}',
                                              'align': 'right'}]}]}]},
          {'type': 'table',
           'source': 'items',
           'as': 'item',
           'columns': [{'header': 'Item', 'text': '{{item.name}}'},
                       {'header': 'Qty',
                        'text': '{{item.qty}}',
                        'align': 'right',
                        'width': 60},
                       {'header': 'Price',
                        'text': '{{item.price}}',
                        'align': 'right',
                        'width': 90}]},
          {'type': 'text',
           'text': 'Total: {{total}}',
           'align': 'right',
           'bold': True,
           'size': 12}]}


def one_page(iterations: int = 300) -> list[str]:
    """The 1-page seed invoice: ours against the yardstick (the same document), time and file
    size; then the demo's full invoice."""
    layout, data = YARDSTICK_LAYOUT, invoice(0)
    fonts = base_fonts(layout, data)
    ours_pdf = render_pdf(layout, data)
    raw_pdf = reportlab_invoice(layout, data, fonts)
    ours = timed(lambda: render_pdf(layout, data), repeat=iterations)
    raw = timed(reportlab_invoice, layout, data, fonts, repeat=iterations)
    sample, assets = demo.sample("invoice")["layout"], demo.sample_assets("invoice")
    full_pdf = render_pdf(sample, data, assets=assets)
    full = timed(lambda: render_pdf(sample, data, assets=assets), repeat=iterations // 3)
    return [f"  renderer: {ours * 1000:.2f} ms, {len(ours_pdf) / 1024:.1f} KiB   raw ReportLab "
            f"(the yardstick, fonts {fonts[0]}/{fonts[1]}): {raw * 1000:.2f} ms, "
            f"{len(raw_pdf) / 1024:.1f} KiB   ratio {ours / raw:.2f}x "
            f"(= {1 / raw:.0f} raw renders/s on one core)",
            f"  the demo's full invoice (logo, addresses, tax lines, terms; the seeds' body): "
            f"{full * 1000:.2f} ms, {len(full_pdf) / 1024:.1f} KiB"]


async def closed_loop(port: int, key: str, concurrency: int, seconds: float) -> tuple[int, list[float]]:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    counter = iter(range(10**9))

    async def client() -> None:
        conn = Connection("127.0.0.1", port, {"authorization": f"Bearer {key}"})
        try:
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                status, body = await conn.json("POST", "/v1/templates/invoice/render",
                                               {"data": invoice(next(counter)), "options": {"sync": True}})
                if status != 200 or body["status"] != "succeeded":
                    raise RuntimeError(f"render did not succeed: {status} {body}")
                latencies.append(time.perf_counter() - start)
        finally:
            conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return len(latencies) / (time.perf_counter() - started), latencies


async def open_loop(port: int, key: str, rate: float, seconds: float) -> list[float]:
    """Starts a render every 1/rate seconds whatever the previous ones are doing."""
    latencies: list[float] = []
    idle: list[Connection] = []

    async def one(n: int) -> None:
        conn = idle.pop() if idle else Connection("127.0.0.1", port, {"authorization": f"Bearer {key}"})
        start = time.perf_counter()
        status, body = await conn.json("POST", "/v1/templates/invoice/render",
                                       {"data": invoice(n), "options": {"sync": True}})
        latencies.append(time.perf_counter() - start)
        idle.append(conn)
        if status != 200:
            raise RuntimeError(f"render did not succeed: {status} {body}")

    tasks = []
    begin = time.perf_counter()
    for n in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, begin + n / rate - time.perf_counter()))
        tasks.append(asyncio.create_task(one(n)))
    await asyncio.gather(*tasks)
    for conn in idle:
        conn.close()
    return latencies


async def get_load(port: int, key: str, path: str, concurrency: int,
                   seconds: float) -> tuple[float, float]:
    """GETs of `path` by `concurrency` keep-alive clients: (requests/s, body bytes/s)."""
    count = size = 0
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        nonlocal count, size
        conn = Connection("127.0.0.1", port, {"authorization": f"Bearer {key}"})
        try:
            while time.perf_counter() < deadline:
                status, body = await conn.request("GET", path)
                if status != 200:
                    raise RuntimeError(f"GET {path} answered {status}")
                count, size = count + 1, size + len(body)
        finally:
            conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return count / elapsed, size / elapsed


async def pipeline(stack: Stack, key: str, seconds: float, levels: list[int]) -> list[str]:
    port = stack.ports["gateway"]
    lines = []
    await closed_loop(port, key, 8, 2)  # warm-up: imports, fonts, connections, JIT-free caches
    ms = lambda s: f"{s * 1000:.1f} ms"  # noqa: E731
    for concurrency in levels:
        rate, lat = await closed_loop(port, key, concurrency, seconds)
        lines.append(f"  concurrency {concurrency:>3}: {rate:7.1f} renders/s   "
                     f"p50 {ms(percentile(lat, 50))}   p99 {ms(percentile(lat, 99))}")
    lat = await open_loop(port, key, 50, seconds)
    lines.append(f"  steady 50 renders/s ({len(lat)} renders): p50 {ms(percentile(lat, 50))}   "
                 f"p99 {ms(percentile(lat, 99))}")
    conn = Connection("127.0.0.1", port, {"authorization": f"Bearer {key}"})
    _, body = await conn.json("POST", "/v1/templates/invoice/render",
                              {"data": invoice(-1), "options": {"sync": True}})
    conn.close()
    render = f"/v1/renders/{body['id']}"
    for concurrency in (16, 64):
        rps, _ = await get_load(port, key, render, concurrency, seconds)
        lines.append(f"  GET /v1/renders/{{id}}, {concurrency} clients: {rps:7.0f} req/s "
                     "(a finished render, served from the gateway's cache)")
    with stack.extra("gateway", {"RENDER_CACHE_SIZE": "0"}) as address:
        rps, _ = await get_load(int(address.rsplit(":", 1)[1]), key, render, 64, seconds)
    lines.append(f"  GET /v1/renders/{{id}}, 64 clients: {rps:7.0f} req/s "
                 "(cache off: every GET asks the status service and PostgreSQL)")
    rps, rate = await get_load(port, key, f"{render}/download", 16, seconds)
    lines.append(f"  GET /v1/renders/{{id}}/download, 16 clients: {rps:7.0f} req/s "
                 f"({rate / 2**20:.1f} MiB/s of PDF streamed from S3 through the gateway)")
    rps, _ = await get_load(port, key, "/v1/renders?limit=20&status=succeeded", 16, seconds)
    lines.append(f"  GET /v1/renders?limit=20&status=succeeded, 16 clients: {rps:7.0f} req/s "
                 "(a page of the project's renders, newest first)")
    return lines


class Receiver:
    """A lean HTTP receiver on loopback that answers 200 and notes when each delivery came."""

    def __init__(self, expected: int) -> None:
        from datetime import datetime

        self.arrivals: list[tuple[float, float]] = []  # (arrival, completedAt), epoch seconds
        self.expected = expected
        self.done = asyncio.Event()
        self._parse = lambda iso: datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length")))
                body = json.loads(await reader.readexactly(length))
                self.arrivals.append((time.time(), self._parse(body["completedAt"])))
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                if len(self.arrivals) >= self.expected:
                    self.done.set()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            writer.close()


async def webhooks(stack: Stack, key: str, renders: int, endpoints: int, rate: float) -> str:
    """`renders` at `rate` a second, each delivered to `endpoints` endpoints. With a rate, the
    delay from terminal state to delivery; without one, the deliveries are held back (endpoints
    disabled) until every render is done, then released at once: deliveries/s alone."""
    receiver = Receiver(renders * endpoints)
    server = await asyncio.start_server(receiver.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    conn = Connection("127.0.0.1", stack.ports["gateway"], {"authorization": f"Bearer {key}"})
    ids = []
    for n in range(endpoints):
        status, body = await conn.json("POST", "/v1/webhooks",
                                       {"url": f"http://127.0.0.1:{port}/hook/{n}"})
        assert status == 201, body
        ids.append(body["id"])
        if not rate:
            await conn.json("PATCH", f"/v1/webhooks/{body['id']}", {"enabled": False})
    counter = iter(range(renders))
    begin = time.perf_counter()

    async def client() -> None:
        poster = Connection("127.0.0.1", stack.ports["gateway"], {"authorization": f"Bearer {key}"})
        for n in counter:
            if rate:
                await asyncio.sleep(max(0.0, begin + n / rate - time.perf_counter()))
            await poster.json("POST", "/v1/templates/invoice/render",
                              {"data": invoice(-1000 * endpoints - n),
                               "options": {"sync": not rate}})
        poster.close()

    await asyncio.gather(*(client() for _ in range(8)))
    released = time.time()
    if not rate:
        for endpoint_id in ids:
            await conn.json("PATCH", f"/v1/webhooks/{endpoint_id}", {"enabled": True})
    conn.close()
    try:
        await asyncio.wait_for(receiver.done.wait(), 120)
    finally:
        server.close()
    count = len(receiver.arrivals)
    if rate:
        delays = [a - c for a, c in receiver.arrivals]
        return (f"  {renders} renders at {rate:g}/s, 1 endpoint: terminal state -> delivered "
                f"p50 {percentile(delays, 50) * 1000:.1f} ms, p99 {percentile(delays, 99) * 1000:.1f} ms")
    last = max(a for a, _ in receiver.arrivals)
    return (f"  {count} deliveries held back, then released to {endpoints} endpoints: "
            f"{count / (last - released):.0f} deliveries/s")


OVERHEAD_CONCURRENCY = 32


def sections(stack: Stack, key: str, args) -> None:
    """The pipeline's and the webhooks' figures."""
    print(f"pipeline (POST -> succeeded, sync mode, {args.seconds:.0f} s each):", flush=True)
    for line in uvloop.run(pipeline(stack, key, args.seconds,
                                    [int(x) for x in args.levels.split(",")])):
        print(line, flush=True)
    print("webhooks (a local receiver):", flush=True)
    print(uvloop.run(webhooks(stack, key, renders=300, endpoints=1, rate=30)), flush=True)
    with stack.channel("status") as channel:
        _, fanout = demo.create_project(channel, "bench-fanout")
    print(uvloop.run(webhooks(stack, fanout, renders=200, endpoints=10, rate=0)), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10, help="length of each measurement")
    parser.add_argument("--levels", default="1,8,32,64", help="concurrency levels to measure")
    parser.add_argument("--overhead-only", action="store_true",
                        help="measure only the overhead of metrics and tracing")
    parser.add_argument("--overhead-rounds", type=int, default=1,
                        help="rounds of off, on, on, off for the overhead (each restarts twice)")
    args = parser.parse_args()

    if not args.overhead_only:
        print("renderer, the whole invoice document, median of repeats:", flush=True)
        for line in renderer():
            print(line, flush=True)
        print("1-page invoice, median of 300 (time, PDF size):", flush=True)
        for line in one_page():
            print(line, flush=True)
    with tempfile.TemporaryDirectory(prefix="craftkit-bench-") as workdir:
        infra = Infra(Path(workdir)).start()
        stack = Stack(infra, env_overrides={"RATE_LIMIT_PER_SECOND": "0"})
        try:
            stack.start()
            with stack.channel("status") as channel:
                _, key = demo.create_project(channel, "bench")
            if not args.overhead_only:
                sections(stack, key, args)

            async def rate(seconds: float | None) -> tuple[float, int]:
                rate, latencies = await closed_loop(stack.ports["gateway"], key,
                                                    OVERHEAD_CONCURRENCY, seconds or args.seconds)
                return rate, len(latencies)

            print(f"metrics and tracing (POST -> succeeded, concurrency {OVERHEAD_CONCURRENCY}, "
                  f"{args.seconds:.0f} s each):", flush=True)
            print(overhead.overhead(stack, uvloop.run, rate, args.overhead_rounds), flush=True)
        finally:
            stack.stop()
            infra.stop()


if __name__ == "__main__":
    sys.exit(main())
