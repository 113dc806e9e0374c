"""`make chaos`: 1,000 renders under process kills, then one line that says what was lost.

Starts its own supervised stack (persistent S3, short leases like the integration tests'),
registers a webhook receiver (a real HTTP server on loopback that checks signatures and records
deliveries by x-craftkit-delivery-id), posts renders with unique data at a steady rate (open
loop, bounded in flight) and meanwhile kills with SIGKILL, one at a time, each only after the
previous one is back: a render worker, the status service, the enqueue service, the webhooks
service, the broker and the S3 server. The supervisor restarts each. Once every accepted render
is terminal and delivered (or the recovery wait is over) it prints

    chaos: accepted A succeeded S failed F stuck K lost-renders L duplicate-pdfs D lost-webhooks W duplicate-deliveries X 5xx E

(the definitions are in the README's "Chaos" section), details on stderr, and exits 1 when any of
F K L D W X is not 0 (or a succeeded render has no PDF, or a delivery was badly signed).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import shutil
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
import httpx

from craftkit import demo
from craftkit.devstack import (BUCKET, ROOT, Infra, Stack, Supervisor, _http_ok, health,
                               port_open, s3_client, s3_ready, wait_for)
from craftkit.v1 import render_pb2 as R
from craftkit.v1 import status_pb2, status_pb2_grpc

# The integration tests' short leases and sweeps (tests/integration/conftest.py FAST_RECOVERY),
# so that a render or event whose process died is taken up again in seconds, not minutes; webhook
# retries capped at 5 s and lost completion events re-published after 5 s for the same reason.
# The environment can override any of them.
SETTINGS = {"RENDER_LEASE_SECONDS": "3", "REDELIVER_AFTER_SECONDS": "2",
            "SWEEP_INTERVAL_SECONDS": "1", "OUTBOX_RELAY_AFTER_SECONDS": "1",
            "RATE_LIMIT_PER_SECOND": "0", "WORKER_SHUTDOWN_GRACE_SECONDS": "10",
            "WEBHOOK_RETRY_BASE_SECONDS": "0.3", "WEBHOOK_RETRY_CAP_SECONDS": "5",
            "WEBHOOK_TIMEOUT_SECONDS": "2", "EVENT_REDELIVER_AFTER_SECONDS": "5"}
VICTIMS = ("render_worker", "status", "enqueue", "webhooks", "kafka", "s3")
TERMINAL = {R.RENDER_STATUS_SUCCEEDED: "render.succeeded", R.RENDER_STATUS_FAILED: "render.failed"}


def say(line: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {line}", file=sys.stderr, flush=True)


@dataclass
class Delivery:
    delivery_id: str
    event: str
    render_id: str
    signed: bool
    answered: int


@dataclass
class Receiver:
    """A webhook receiver on loopback: checks both signatures, answers 200 (400 when a signature
    is wrong), records every request."""

    secret: str = ""
    deliveries: list[Delivery] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the stdlib's name
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                answered = 200 if receiver.signed(self.headers, body) else 400
                self.send_response(answered)
                self.send_header("content-length", "0")
                self.end_headers()
                try:
                    render_id = json.loads(body).get("renderId", "")
                except ValueError:
                    render_id = ""
                with receiver.lock:
                    receiver.deliveries.append(Delivery(
                        self.headers.get("x-craftkit-delivery-id", ""),
                        self.headers.get("x-craftkit-event", ""), render_id,
                        answered == 200, answered))

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/chaos"

    def signed(self, headers, body: bytes) -> bool:
        def valid(header: str, message: bytes) -> bool:
            expected = hmac.new(self.secret.encode(), message, hashlib.sha256).hexdigest()
            return hmac.compare_digest(expected, headers.get(header, ""))
        stamped = f"{headers.get('x-craftkit-timestamp', '')}.".encode() + body
        return valid("x-craftkit-signature", body) and valid("x-craftkit-signature-v2", stamped)

    def snapshot(self) -> list[Delivery]:
        with self.lock:
            return list(self.deliveries)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Answer:
    started: float
    finished: float
    status: int  # 0: no HTTP answer (connection error, timeout)
    render_id: str = ""


@dataclass
class Outage:
    victim: str
    pid: int
    killed: float
    back: float = 0.0


class Chaos:
    """Kills the victims one at a time, each once the previous one is back."""

    def __init__(self, stack: Stack) -> None:
        self.stack, self.infra = stack, stack.infra
        self.outages: list[Outage] = []

    async def run(self, first_after: float, every: float) -> None:
        begin = time.monotonic()
        for n, victim in enumerate(VICTIMS):
            await asyncio.sleep(max(0.0, begin + first_after + n * every - time.monotonic()))
            outage = Outage(victim, self.supervisor(victim).kill(victim), time.monotonic())
            self.outages.append(outage)
            say(f"killed {victim} (pid {outage.pid}) with SIGKILL")
            await asyncio.to_thread(wait_for, lambda: self.back(victim, outage.pid), 120,
                                    f"{victim} back", 0.1)
            outage.back = time.monotonic()
            say(f"{victim} back after {outage.back - outage.killed:.1f}s")

    def supervisor(self, victim: str) -> Supervisor:
        return self.infra.supervisor if victim in ("kafka", "s3") else self.stack.supervisor

    def back(self, victim: str, killed_pid: int) -> bool:
        """Restarted (a new pid) and answering again."""
        process = self.supervisor(victim).process(victim)
        if process is None or process.pid == killed_pid:
            return False
        if victim == "kafka":
            return port_open(self.infra.kafka_port)
        if victim == "s3":
            return s3_ready(self.infra.s3_endpoint)
        if victim == "gateway":
            return _http_ok(f"{self.stack.base_url}/readyz")
        return health(self.stack.address(victim)) == "SERVING"


async def post_renders(client: httpx.AsyncClient, run: str, count: int, rate: float,
                       in_flight: int) -> list[Answer]:
    """`count` POSTs at `rate` a second (open loop: a slow answer does not delay the next POST,
    but at most `in_flight` wait at once)."""
    answers: list[Answer] = []
    slots = asyncio.Semaphore(in_flight)
    begin = time.monotonic()

    async def post(n: int) -> None:
        data = {"customer": {"name": f"Chaos {run} #{n}"},
                "items": [{"name": f"Widget {n}", "qty": 1 + n % 7, "price": 9.99}],
                "total": round(9.99 * (1 + n % 7), 2)}
        started = time.monotonic()
        try:
            response = await client.post("/v1/templates/invoice/render", json={"data": data})
            render_id = response.json().get("id", "") if response.status_code in (200, 202) else ""
            answers.append(Answer(started, time.monotonic(), response.status_code, render_id))
        except httpx.HTTPError:
            answers.append(Answer(started, time.monotonic(), 0))
        finally:
            slots.release()

    tasks = []
    for n in range(count):
        await asyncio.sleep(max(0.0, begin + n / rate - time.monotonic()))
        await slots.acquire()
        tasks.append(asyncio.create_task(post(n)))
        if n % 100 == 99:
            say(f"posted {n + 1}")
    await asyncio.gather(*tasks)
    return answers


def get_render(stub, project_id: str, render_id: str):
    """The render with its transitions; None when unknown; "unavailable" when not answered."""
    try:
        return stub.GetRender(status_pb2.GetRenderRequest(
            project_id=project_id, render_id=render_id, include_transitions=True), timeout=10)
    except grpc.RpcError as exc:
        return None if exc.code() == grpc.StatusCode.NOT_FOUND else "unavailable"


def delivered(deliveries: list[Delivery]) -> set[tuple[str, str]]:
    return {(d.render_id, d.event) for d in deliveries if 200 <= d.answered < 300}


def recover(stack: Stack, receiver: Receiver, project_id: str, ids: list[str],
            deadline: float) -> dict:
    """Polls until every render is terminal and delivered, or the deadline. Returns the renders
    as last seen (None: unknown)."""
    renders: dict = {}
    with stack.channel("status") as channel, \
            ThreadPoolExecutor(16) as pool:
        stub = status_pb2_grpc.StatusServiceStub(channel)
        pending = list(ids)
        while True:
            answers = pool.map(lambda i: get_render(stub, project_id, i), pending)
            for render_id, render in zip(pending, answers, strict=True):
                if not isinstance(render, str):  # "unavailable": ask again
                    renders[render_id] = render
            # Unknown (None) is final: the render was never written.
            pending = [i for i in ids if i not in renders
                       or (renders[i] is not None and renders[i].status not in TERMINAL)]
            undelivered = lost_webhooks(renders, receiver.snapshot())
            say(f"recovery: {len(pending)} not terminal, {len(undelivered)} terminal without "
                "their webhook")
            if (not pending and not undelivered) or time.monotonic() > deadline:
                return renders
            time.sleep(2)


def expected_503(answer: Answer, outages: list[Outage], answers: list[Answer]) -> bool:
    """A 503 while the enqueue service was down: from its kill until the first render accepted
    by a POST sent after it was back (the gateway's channel reconnects on its own schedule)."""
    for outage in (o for o in outages if o.victim == "enqueue"):
        end = min((a.finished for a in answers if a.status in (200, 202)
                   and a.started >= (outage.back or float("inf"))), default=float("inf"))
        if outage.killed <= answer.finished <= end:
            return True
    return False


def finished(render) -> bool:
    return render is not None and render.status in TERMINAL


def duplicate_pdfs(renders: dict, objects: dict[str, int]) -> list[str]:
    """Renders that finished twice (two succeeded, or any two finishes, in their transitions) or
    hold more than one object in S3."""
    found = []
    for render_id, render in renders.items():
        finishes = [t.status for t in render.transitions if t.status in TERMINAL] if render else []
        if (finishes.count(R.RENDER_STATUS_SUCCEEDED) > 1 or len(finishes) > 1
                or objects.get(render_id, 0) > 1):
            found.append(render_id)
    return found


def lost_webhooks(renders: dict, deliveries: list[Delivery]) -> list[str]:
    got = delivered(deliveries)
    return [i for i, r in renders.items() if finished(r) and (i, TERMINAL[r.status]) not in got]


def duplicate_deliveries(deliveries: list[Delivery]) -> int:
    """Delivery ids answered 2xx more than once, plus (render, event) pairs that came with more
    than one delivery id."""
    successes = Counter(d.delivery_id for d in deliveries if 200 <= d.answered < 300)
    ids_per_event = defaultdict(set)
    for d in deliveries:
        ids_per_event[(d.render_id, d.event)].add(d.delivery_id)
    return (sum(1 for n in successes.values() if n > 1)
            + sum(1 for ids in ids_per_event.values() if len(ids) > 1))


def summarize(answers: list[Answer], outages: list[Outage], renders: dict,
              deliveries: list[Delivery], objects: dict[str, int],
              unknown: list[str]) -> tuple[str, bool, list[str]]:
    """The summary line, whether anything was lost or doubled, and the details."""
    accepted = [a.render_id for a in answers if a.status in (200, 202)]
    statuses = Counter(r.status for r in renders.values() if r is not None)
    failed = statuses[R.RENDER_STATUS_FAILED]
    stuck = [i for i in accepted if i not in renders  # never answered by the status service
             or (renders[i] is not None and not finished(renders[i]))]
    doubled = duplicate_pdfs(renders, objects)
    undelivered = lost_webhooks(renders, deliveries)
    duplicates = duplicate_deliveries(deliveries)
    missing_pdfs = [i for i, r in renders.items() if r is not None
                    and r.status == R.RENDER_STATUS_SUCCEEDED and not objects.get(i)]
    fivexx = [a for a in answers if a.status >= 500]
    expected = [a.status == 503 and expected_503(a, outages, answers) for a in fivexx]
    others = Counter(a.status for a, ok in zip(fivexx, expected, strict=True) if not ok)
    line = (f"chaos: accepted {len(accepted)} succeeded {statuses[R.RENDER_STATUS_SUCCEEDED]} "
            f"failed {failed} stuck {len(stuck)} lost-renders {len(unknown)} "
            f"duplicate-pdfs {len(doubled)} lost-webhooks {len(undelivered)} "
            f"duplicate-deliveries {duplicates} 5xx {sum(others.values())}")
    bad_signatures = [d for d in deliveries if not d.signed]
    failures = Counter(r.error_message for r in renders.values()
                       if r is not None and r.status == R.RENDER_STATUS_FAILED)
    details = [
        f"answers: {dict(Counter(a.status for a in answers))} (0 = no HTTP answer)",
        f"503 while the enqueue service was down (expected, not in 5xx): {sum(expected)}",
        f"other 5xx: {dict(others)}",
        "outages: " + ", ".join(f"{o.victim} {o.back - o.killed:.1f}s" for o in outages),
        f"succeeded renders without a PDF in S3: {len(missing_pdfs)} {missing_pdfs[:5]}",
        f"deliveries received: {len(deliveries)}, badly signed: {len(bad_signatures)}",
        f"stuck (sample): {stuck[:5]}", f"lost webhooks (sample): {undelivered[:5]}",
        f"duplicate pdfs (sample): {doubled[:5]}",
        "failure messages: " + "; ".join(f"{n}x {m[:120]}" for m, n in failures.most_common(5))]
    bad = any((failed, stuck, unknown, doubled, undelivered, duplicates, missing_pdfs,
               bad_signatures))
    return line, bad, details


def count_objects(endpoint: str, ids: list[str]) -> dict[str, int]:
    client = s3_client(endpoint)
    with ThreadPoolExecutor(8) as pool:
        counts = pool.map(lambda i: sum(1 for _ in client.list_objects(
            BUCKET, prefix=f"renders/{i}/", recursive=True)), ids)
        return dict(zip(ids, counts, strict=True))


def unknown_to_get(client: httpx.Client, ids: list[str]) -> list[str]:
    return [i for i in ids if client.get(f"/v1/renders/{i}").status_code == 404]


async def chaos_run(stack: Stack, key: str, receiver: Receiver, args) -> tuple[list[Answer], Chaos]:
    chaos = Chaos(stack)
    limits = httpx.Limits(max_connections=args.in_flight)
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30, limits=limits,
                                 headers={"authorization": f"Bearer {key}"}) as client:
        killer = asyncio.create_task(chaos.run(first_after=3, every=args.kill_every))
        answers = await post_renders(client, uuid.uuid4().hex[:8], args.renders, args.rate,
                                     args.in_flight)
        await killer
    return answers, chaos


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=25, help="POSTs a second")
    parser.add_argument("--in-flight", type=int, default=200, help="most POSTs awaiting an answer")
    parser.add_argument("--kill-every", type=float, default=6, help="seconds between kills")
    parser.add_argument("--recovery", type=float, default=300, help="most seconds to wait after")
    args = parser.parse_args()

    workdir = ROOT / ".craftkit" / "chaos"
    shutil.rmtree(workdir, ignore_errors=True)  # the last run's data and logs (~150 MB)
    say(f"starting a stack in {workdir} (its logs stay there until the next run)")
    infra = Infra(workdir).start()
    stack = Stack(infra, env_overrides={**SETTINGS, **{k: os.environ[k] for k in SETTINGS
                                                         if k in os.environ}})
    receiver = Receiver().start()
    try:
        stack.start()
        with stack.channel("status") as channel:
            project_id, key = demo.create_project(channel, "chaos")
        with httpx.Client(base_url=stack.base_url, timeout=30,
                          headers={"authorization": f"Bearer {key}"}) as client:
            hook = client.post("/v1/webhooks", json={"url": receiver.url})
            hook.raise_for_status()
            receiver.secret = hook.json()["secret"]
            say(f"posting {args.renders} renders at {args.rate:g}/s; killing "
                f"{', '.join(VICTIMS)} one at a time")
            answers, chaos = asyncio.run(chaos_run(stack, key, receiver, args))
            ids = [a.render_id for a in answers if a.status in (200, 202)]
            renders = recover(stack, receiver, project_id, ids, time.monotonic() + args.recovery)
            lost = unknown_to_get(client, ids)
        line, bad, details = summarize(answers, chaos.outages, renders, receiver.snapshot(),
                                       count_objects(infra.s3_endpoint, ids), lost)
    finally:
        receiver.stop()
        stack.stop()
        infra.stop()
    for detail in details:
        say(detail)
    say(f"logs: {workdir}")
    print(line, flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
