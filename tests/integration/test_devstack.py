"""`make run` itself (python -m craftkit.devstack) on free ports: a service killed mid-run is
restarted and serving again, the craftkit console works from its dev.env, Ctrl-C leaves no process
behind, and the PDFs of one run are still downloadable in the next (one test: each start of make
run costs several seconds)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from craftkit.devstack import ROOT, SERVICES, free_port, health, port_open
from tests.integration.conftest import FAST_RECOVERY, eventually, invoice

CONSOLE = Path(sys.executable).parent / "craftkit"
PORTS = ("GATEWAY_PORT", "STATUS_PORT", "ENQUEUE_PORT", "WORKER_HEALTH_PORT", "WEBHOOKS_PORT",
         "KAFKA_PORT", "S3_PORT")


def free_ports_from(count: int) -> int:
    """The first of `count` consecutive free ports (the five metrics ports of make run)."""
    while True:
        base = free_port()
        if base + count < 65536 and not any(port_open(base + i) for i in range(count)):
            return base


def children() -> dict[int, list[int]]:
    """Every live process's children, from /proc."""
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if stat[0] != "Z":
                tree.setdefault(int(stat[1]), []).append(int(entry.name))
    return tree


def descendants(pid: int) -> set[int]:
    tree, found, todo = children(), set(), [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@dataclass
class MakeRun:
    """One `make run` (python -m craftkit.devstack) in a work directory, on free ports."""

    workdir: Path
    ports: dict[str, int]
    out: Path
    process: subprocess.Popen | None = None

    def start(self) -> MakeRun:
        env = {**os.environ, **{name: str(port) for name, port in self.ports.items()},
               **FAST_RECOVERY}
        with open(self.out, "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "craftkit.devstack", "--workdir", str(self.workdir)],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)  # its own process group, as in a terminal
        eventually(self.running, timeout=120, what="make run printing 'Craftkit is running'")
        return self

    def running(self) -> bool:
        assert self.process.poll() is None, self.output()
        return "Craftkit is running." in self.output()

    def output(self) -> str:
        return self.out.read_text()

    @property
    def client(self) -> httpx.Client:
        values = dict(line.split("=", 1) for line in
                      (self.workdir / "dev.env").read_text().splitlines())
        return httpx.Client(base_url=values["CRAFTKIT_API_URL"], timeout=30,
                            headers={"authorization": f"Bearer {values['CRAFTKIT_API_KEY']}"})

    def service_pid(self, module: str) -> int | None:
        pids = [pid for pid in descendants(self.process.pid)
                if cmdline(pid).endswith(f"-m services.{module} ")]
        return pids[0] if pids else None

    def interrupt(self) -> set[int]:
        """Ctrl-C, as a terminal sends it (to the foreground process group, twice: make passes
        it on too); returns the processes that were running under make run."""
        running = descendants(self.process.pid)
        os.killpg(self.process.pid, signal.SIGINT)
        os.killpg(self.process.pid, signal.SIGINT)
        assert self.process.wait(90) == 0, self.output()
        return running


@pytest.fixture
def make_run(tmp_path):
    runs: list[MakeRun] = []
    ports = {name: free_port() for name in PORTS} | {"METRICS_PORT_BASE": free_ports_from(5)}

    def start() -> MakeRun:
        runs.append(MakeRun(tmp_path / "craftkit", ports, tmp_path / f"make-run-{len(runs)}.out"))
        runs[-1].start()
        return runs[-1]

    yield start
    for run in runs:
        if run.process.poll() is None:
            run.interrupt()


def console_in_a_new_shell(run: MakeRun, command: str) -> dict:
    """The README's "Try it": a shell with none of the stack's settings sources dev.env and
    runs the craftkit console."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("STATUS_ADDRESS", "INTERNAL_TOKEN_FILE", "GRPC_TLS_CA_FILE")}
    done = subprocess.run(
        ["bash", "-c", f"set -a; . {run.workdir}/dev.env; set +a; {CONSOLE} {command}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def works(run: MakeRun, key: str) -> bool:
    with run.client as client:
        return client.get("/v1/templates", headers={"authorization": f"Bearer {key}"}) \
            .status_code == 200


def alive(pid: int) -> bool:
    """True while pid exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_make_run_restarts_a_killed_service_stops_clean_and_keeps_pdfs(make_run):
    run = make_run()
    # Each service's Prometheus endpoint is printed, and answers.
    printed = re.findall(r"^  (\w+): +(http://127\.0\.0\.1:\d+/metrics)$", run.output(), re.M)
    assert sorted(name for name, _ in printed) == sorted(SERVICES)
    for _, url in printed:
        assert "process_resident_memory_bytes" in httpx.get(url).text
    # dev.env holds the demo project's full key: for this user only, like the tokens beside it.
    assert stat.S_IMODE((run.workdir / "dev.env").stat().st_mode) == 0o600
    address = f"127.0.0.1:{run.ports['ENQUEUE_PORT']}"
    killed = run.service_pid("enqueue")
    os.kill(killed, signal.SIGKILL)

    eventually(lambda: run.service_pid("enqueue") not in (None, killed), timeout=30,
               what="a new enqueue process")
    eventually(lambda: health(address) == "SERVING", timeout=60, what="enqueue SERVING again")
    with run.client as client:  # the gateway reconnects on its own schedule: wait until it has
        eventually(lambda: client.get("/readyz").json()["backends"]["enqueue"] == "SERVING",
                   timeout=30, what="the gateway reaching enqueue again")
    log = (run.workdir / "supervisor.log").read_text()
    assert "enqueue exited with exit code -9 (SIGKILL)" in log
    assert f"its log: {run.workdir / 'enqueue.log'}" in log
    with run.client as client:
        response = client.post("/v1/templates/invoice/render",
                               json={"data": invoice(), "options": {"sync": True}})
    assert response.status_code == 200, response.text
    render = response.json()
    assert render["status"] == "succeeded"
    pdf = httpx.get(render["downloadUrl"]).content  # anonymous, as a browser
    assert pdf.startswith(b"%PDF")
    assert works(run, console_in_a_new_shell(run, "projects create demo --json")["apiKey"])

    postmaster = int((run.workdir / "pgdata" / "postmaster.pid").read_text().split()[0])
    running = run.interrupt()
    assert len(running) >= 7  # the five services, the broker, S3
    eventually(lambda: not [pid for pid in running | {postmaster} if alive(pid)], timeout=10,
               what="every process of make run gone")
    assert not [name for name, port in run.ports.items() if port_open(port)]

    again = make_run()
    with again.client as client:
        assert client.get(f"/v1/renders/{render['id']}").json()["downloadUrl"] == \
            render["downloadUrl"]
    downloaded = httpx.get(render["downloadUrl"])
    assert downloaded.status_code == 200
    assert downloaded.content == pdf


@pytest.mark.parametrize("name, setting", [
    ("status", "STATUS_LISTEN"), ("enqueue", "ENQUEUE_LISTEN"),
    ("webhooks", "WEBHOOKS_LISTEN"), ("render_worker", "WORKER_HEALTH_LISTEN")])
def test_a_service_whose_port_is_taken_exits_at_once_saying_so(stack, name, setting):
    """Bound before anything else starts: a port in use ends the process (for its supervisor or
    Kubernetes to start it again) instead of leaving it running and never ready. Its database,
    broker and S3 are up, so nothing else stands in the way."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        process = subprocess.run(
            [sys.executable, "-m", f"services.{name}"], cwd=ROOT, capture_output=True,
            env={**stack.env(name), setting: address, "METRICS_LISTEN": f"127.0.0.1:{free_port()}"},
            timeout=60, text=True)
    assert process.returncode != 0
    assert f"cannot listen on {address}" in process.stderr, process.stderr[-2000:]


def test_a_service_whose_metrics_port_is_taken_exits_at_once_saying_so(stack):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        process = subprocess.run(
            [sys.executable, "-m", "services.status"], cwd=ROOT, capture_output=True,
            env={**stack.env("status"), "STATUS_LISTEN": f"127.0.0.1:{free_port()}",
                 "METRICS_LISTEN": address}, timeout=60, text=True)
    assert process.returncode != 0
    assert f"METRICS_LISTEN {address}: cannot listen" in process.stderr, process.stderr[-2000:]
