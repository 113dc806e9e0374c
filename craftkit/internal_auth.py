"""Who may call which internal gRPC method: per-caller bearer tokens, one table of methods, and the
project id every tenant call must carry.

    caller sends    authorization: Bearer <the first line of INTERNAL_TOKEN_FILE>
    server accepts  any line of INTERNAL_TOKENS_DIR/<identity> (gateway, render-worker, admin):
                    `sha256:<64 hex digits>`, the token's digest, or the token itself

Servers only verify, so they need only digests (`python -m craftkit.admin token-digest FILE`
prints them): a server that leaks its files then hands out no caller's token. Raw tokens are
still accepted for simple setups, mixed with digests if need be.

No or an unknown token is UNAUTHENTICATED; a known caller calling a method ALLOWED does not give
it is PERMISSION_DENIED; grpc.health.v1 needs no token (probes have none). Files are re-read
when they change, so rotating a token needs no restart:
  1. add the new token's digest as a second line of the caller's file on the servers (both
     accepted);
  2. once every server has it, replace the caller's own file with the new token (callers send it
     from then on);
  3. once every caller sends the new one, remove the old digest.
Kubernetes updates a mounted Secret within about a minute; the files are checked for changes at
most once every RECHECK_SECONDS.

A request for tenant data with an empty or malformed project_id is INVALID_ARGUMENT before its
servicer runs: UNSCOPED lists the few methods that take none (and why).
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

import grpc
from google.protobuf.message import DecodeError

from craftkit import errors, inputs
from craftkit.config import ConfigError, env_str

log = logging.getLogger(__name__)

GATEWAY, RENDER_WORKER, ADMIN = "gateway", "render-worker", "admin"
IDENTITIES = (GATEWAY, RENDER_WORKER, ADMIN)
RECHECK_SECONDS = 1.0
MIN_TOKEN_CHARS = 16
DIGEST_PREFIX = "sha256:"
_DIGEST_LINE = re.compile(r"sha256:[0-9a-fA-F]{64}")
HEALTH_PREFIX = "/grpc.health.v1.Health/"
T = TypeVar("T")

_REST = frozenset({GATEWAY, ADMIN})
_WORKER = frozenset({RENDER_WORKER, ADMIN})
_ADMIN = frozenset({ADMIN})
_EVERYONE = frozenset(IDENTITIES)

ALLOWED: dict[str, frozenset[str]] = {
    # What the REST gateway calls (services/gateway/).
    "/craftkit.v1.StatusService/GetRender": _REST,
    "/craftkit.v1.StatusService/WaitRender": _REST,
    "/craftkit.v1.StatusService/CancelRender": _REST,
    "/craftkit.v1.StatusService/ListRenders": _REST,
    "/craftkit.v1.EnqueueService/EnqueueRender": _REST,
    "/craftkit.v1.ProjectService/Authenticate": _REST,
    "/craftkit.v1.TemplateService/CreateTemplate": _REST,
    "/craftkit.v1.TemplateService/GetTemplate": _REST,
    "/craftkit.v1.TemplateService/ListTemplates": _REST,
    "/craftkit.v1.TemplateService/AddVersion": _REST,
    "/craftkit.v1.TemplateService/PublishVersion": _REST,
    "/craftkit.v1.TemplateService/GetVersionSchema": _REST,
    "/craftkit.v1.TemplateService/PutAsset": _REST,
    "/craftkit.v1.TemplateService/ListAssets": _REST,
    "/craftkit.v1.TemplateService/PrepareVersionPreview": _REST,
    "/craftkit.v1.InboundHookService/CreateInboundHook": _REST,
    "/craftkit.v1.InboundHookService/ListInboundHooks": _REST,
    "/craftkit.v1.InboundHookService/RevokeInboundHook": _REST,
    "/craftkit.v1.InboundHookService/ResolveInboundHook": _REST,
    "/craftkit.v1.WebhookService/CreateEndpoint": _REST,
    "/craftkit.v1.WebhookService/ListEndpoints": _REST,
    "/craftkit.v1.WebhookService/UpdateEndpoint": _REST,
    "/craftkit.v1.WebhookService/DeleteEndpoint": _REST,
    "/craftkit.v1.WebhookService/RotateSecret": _REST,
    "/craftkit.v1.WebhookService/ListDeliveries": _REST,
    "/craftkit.v1.WebhookService/Redeliver": _REST,
    "/craftkit.v1.ProjectService/CreateApiKey": _REST,  # POST /v1/keys and the console
    "/craftkit.v1.ProjectService/ListApiKeys": _REST,
    "/craftkit.v1.ProjectService/RevokeApiKey": _REST,
    "/craftkit.v1.IdempotencyService/Begin": _REST,
    "/craftkit.v1.IdempotencyService/Finish": _REST,
    "/craftkit.v1.IdempotencyService/Abandon": _REST,
    "/craftkit.v1.DownloadService/GetDownload": _REST,
    "/craftkit.v1.DownloadService/CreateShareLink": _REST,
    "/craftkit.v1.DownloadService/ListShareLinks": _REST,
    "/craftkit.v1.DownloadService/RevokeShareLink": _REST,
    "/craftkit.v1.DownloadService/OpenShareLink": _REST,
    # What a render worker calls (services/render_worker/worker.py).
    "/craftkit.v1.StatusService/StartRender": _WORKER,
    "/craftkit.v1.StatusService/RenewLease": _WORKER,
    "/craftkit.v1.StatusService/ReleaseRender": _WORKER,
    "/craftkit.v1.StatusService/FinishRender": _WORKER,
    # Workers for renders, the gateway for previews.
    "/craftkit.v1.TemplateService/GetAssetData": _EVERYONE,
    # Only an operator (the `craftkit` console) makes projects.
    "/craftkit.v1.ProjectService/CreateProject": _ADMIN,
}
"""Method -> the identities that may call it. A method missing here is refused to everyone."""

UNSCOPED = frozenset({
    "/craftkit.v1.ProjectService/CreateProject",  # makes the project
    "/craftkit.v1.ProjectService/Authenticate",  # finds the project of an API key
    "/craftkit.v1.InboundHookService/ResolveInboundHook",  # finds the project of a hook URL
    "/craftkit.v1.DownloadService/OpenShareLink",  # finds the render of a share link URL
})
"""Methods whose request carries no project_id; every other one requires it."""


@dataclass(frozen=True)
class ServerSecurity:
    """How a gRPC server checks its callers (status, enqueue and webhooks)."""

    tokens_dir: str
    """INTERNAL_TOKENS_DIR: a directory with one file per caller identity (gateway,
    render-worker, admin), each holding that caller's accepted tokens, one per line (two during
    a rotation): `sha256:<hex>` digests (what production mounts: a server only verifies) or raw
    tokens. A missing file accepts nobody as that caller. Re-read when it changes. Required."""
    tls_cert_file: str
    """GRPC_TLS_CERT_FILE: PEM certificate chain; with GRPC_TLS_KEY_FILE, the server speaks TLS
    only. Empty: plaintext (tokens still required)."""
    tls_key_file: str
    """GRPC_TLS_KEY_FILE: PEM private key of GRPC_TLS_CERT_FILE."""
    health_listen: str
    """GRPC_HEALTH_LISTEN: host:port of a plaintext server of grpc.health.v1 alone, for kubelet
    probes (which cannot speak TLS). Empty: none."""

    def __post_init__(self) -> None:
        if bool(self.tls_cert_file) != bool(self.tls_key_file):
            raise ConfigError("set both GRPC_TLS_CERT_FILE and GRPC_TLS_KEY_FILE, or neither")

    @classmethod
    def from_env(cls) -> ServerSecurity:
        return cls(tokens_dir=env_str("INTERNAL_TOKENS_DIR"),
                   tls_cert_file=os.environ.get("GRPC_TLS_CERT_FILE", ""),
                   tls_key_file=os.environ.get("GRPC_TLS_KEY_FILE", ""),
                   health_listen=os.environ.get("GRPC_HEALTH_LISTEN", ""))


@dataclass(frozen=True)
class ClientSecurity:
    """How a caller (gateway, render worker, admin console) presents itself."""

    token_file: str
    """INTERNAL_TOKEN_FILE: this caller's token file; its first line is the token sent.
    Re-read when it changes. Required."""
    tls_ca_file: str
    """GRPC_TLS_CA_FILE: PEM CA that signed the servers' certificates; set = connect with TLS.
    Empty: plaintext."""

    @classmethod
    def from_env(cls) -> ClientSecurity:
        return cls(token_file=env_str("INTERNAL_TOKEN_FILE"),
                   tls_ca_file=os.environ.get("GRPC_TLS_CA_FILE", ""))


def file_stamp(paths: list[Path]) -> tuple:
    """What changes when any of `paths` is rewritten or replaced (a Secret update swaps a
    symlink: the inode changes even when size and mtime do not)."""
    stamp = []
    for path in paths:
        try:
            info = path.stat()
        except FileNotFoundError:
            stamp.append(None)
        else:
            stamp.append((info.st_ino, info.st_mtime_ns, info.st_size))
    return tuple(stamp)


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def digest_line(token: str) -> str:
    """The line a server's file holds for `token`: `sha256:` and its digest in hex."""
    return DIGEST_PREFIX + _digest(token).hex()


def _lines(text: str) -> list[tuple[int, str]]:
    """(line number, text) of every non-blank line, stripped."""
    return [(number, line.strip()) for number, line in enumerate(text.splitlines(), 1)
            if line.strip()]


def _check_token(source, number: int, token: str) -> str:
    if len(token) < MIN_TOKEN_CHARS or not token.isascii() or not token.isprintable():
        raise ConfigError(f"{source} line {number}: a token must be at least "
                          f"{MIN_TOKEN_CHARS} printable ASCII characters")
    return token


def tokens_in(text: str, source) -> list[str]:
    """The raw tokens of a caller's token file's `text`, in order; ConfigError, naming `source`
    and the line, when one is too short to be a secret or is a digest (a caller must send the
    token itself). An empty text holds none."""
    tokens = []
    for number, line in _lines(text):
        if line.startswith(DIGEST_PREFIX):
            raise ConfigError(f"{source} line {number} is a digest ({DIGEST_PREFIX}...): a "
                              "caller's file must hold its token itself; digests are for "
                              "the servers' INTERNAL_TOKENS_DIR")
        tokens.append(_check_token(source, number, line))
    return tokens


def read_tokens(path: Path) -> list[str]:
    """The raw tokens of a caller's token file (tokens_in)."""
    return tokens_in(path.read_text(), path)


def read_accepted(path: Path) -> list[bytes]:
    """The SHA-256 digests a server accepts from one caller's file, in order: a `sha256:<hex>`
    line is taken as it is, any other line is a raw token and hashed here. ConfigError names
    the file and line of a malformed digest or a token too short to be a secret."""
    digests = []
    for number, line in _lines(path.read_text()):
        if line.startswith(DIGEST_PREFIX):
            if not _DIGEST_LINE.fullmatch(line):
                raise ConfigError(f"{path} line {number}: a digest line is {DIGEST_PREFIX} and "
                                  "64 hex digits (python -m craftkit.admin token-digest FILE "
                                  "prints it for a token file)")
            digests.append(bytes.fromhex(line.removeprefix(DIGEST_PREFIX)))
        else:
            digests.append(_digest(_check_token(path, number, line)))
    return digests


class Reloaded(Generic[T]):
    """What `load()` makes of some files, made again when one of them changes (a rotated Secret),
    which is checked at most once every RECHECK_SECONDS. At start a ConfigError or OSError from
    `load` stops the process; later the value read before is kept and the error logged, once
    per change of the files (a half-written rotation is read again when it is complete)."""

    def __init__(self, paths: list[Path], load: Callable[[], T], what: str) -> None:
        self.paths, self.load, self.what = paths, load, what
        self.stamp = file_stamp(paths)
        self.value = load()
        self.checked_at = 0.0

    def get(self) -> T:
        now = time.monotonic()
        if now - self.checked_at >= RECHECK_SECONDS:
            self.checked_at = now
            stamp = file_stamp(self.paths)
            if stamp != self.stamp:
                self.stamp = stamp
                try:
                    self.value = self.load()
                except (OSError, ConfigError) as exc:
                    log.error("keeping the %s read before: %s", self.what, exc)
                else:
                    log.info("%s re-read", self.what)
        return self.value


class TokenDirectory:
    """The accepted token digests of each caller identity, from INTERNAL_TOKENS_DIR."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.accepted = Reloaded([self.directory / identity for identity in IDENTITIES],
                                 self._load, f"internal tokens of {self.directory}")
        if not self.accepted.value:
            raise ConfigError(f"INTERNAL_TOKENS_DIR {self.directory} holds no token: write one "
                              "digest (or token) per line into files named "
                              f"{', '.join(IDENTITIES)}")

    def _load(self) -> list[tuple[bytes, str]]:
        """(digest, identity) of every accepted token."""
        if not self.directory.is_dir():
            raise ConfigError(f"INTERNAL_TOKENS_DIR {self.directory} is not a directory")
        digests, owners = [], {}
        for identity in IDENTITIES:
            path = self.directory / identity
            if path.exists():
                for digest in read_accepted(path):
                    if owners.setdefault(digest, identity) != identity:
                        raise ConfigError(
                            f"INTERNAL_TOKENS_DIR {self.directory}: the same token is in "
                            f"{owners[digest]!r} and {identity!r}; each caller needs its own "
                            "(a shared one would make one caller the other)")
                    digests.append((digest, identity))
        return digests

    def identify(self, token: str) -> str | None:
        """The identity whose file holds `token`, or None. Compares with every accepted token in
        constant time, so timing tells nothing about how close a guess was."""
        presented, found = _digest(token), None
        for digest, identity in self.accepted.get():
            if hmac.compare_digest(presented, digest) and found is None:
                found = identity
        return found


class TokenFile:
    """A caller's own token: the first line of INTERNAL_TOKEN_FILE, re-read when it changes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.current = Reloaded([self.path], self._read, f"internal token of {self.path}")

    def _read(self) -> str:
        try:
            tokens = read_tokens(self.path)
        except OSError as exc:
            raise ConfigError(f"INTERNAL_TOKEN_FILE {self.path}: {exc.strerror}") from None
        if not tokens:
            raise ConfigError(f"INTERNAL_TOKEN_FILE {self.path} is empty: its first line must "
                              "be this caller's token")
        return tokens[0]

    def token(self) -> str:
        return self.current.get()


def authorizations(metadata) -> list:
    """The values of every `authorization` metadata entry."""
    return [value for key, value in metadata or () if key == "authorization"]


def bearer(metadata) -> str | None:
    """The token of the one `authorization: Bearer <token>` metadata entry, or None (also when
    there are several: which of them counts would depend on who reads them)."""
    values = authorizations(metadata)
    if len(values) != 1 or not isinstance(values[0], str):
        return None
    scheme, _, token = values[0].partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def check_project_id(method: str, request) -> None:
    """Raises InvalidRequest unless `request` names its project (UNSCOPED methods excepted)."""
    if method in UNSCOPED:
        return
    project_id = getattr(request, "project_id", "")
    if not project_id:
        raise errors.InvalidRequest(
            "project_id is required: every call on tenant data names the project it acts for",
            field_errors={"project_id": ["Required"]})
    if not inputs.is_uuid(project_id):
        raise errors.InvalidRequest(
            f"project_id {errors.shorten(project_id)} is not a project id (a UUID)",
            field_errors={"project_id": ["Invalid project id"]})


def _refusal(error: errors.ApiError) -> grpc.RpcMethodHandler:
    """A handler that answers `error` at once, without reading the request: a caller refused
    for its metadata neither holds the call open by sending no message nor makes the server
    parse one (up to 16 MiB). Registered as stream-unary for any method: on the wire a refusal
    is a status alone, which a client of every kind reads as the call's outcome."""
    async def refuse(requests, context):
        await context.abort_with_status(errors.to_status(error))

    return grpc.stream_unary_rpc_method_handler(refuse)


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Checks the caller's token and its right to the method, then parses the request and checks
    its project id, before any servicer runs. Health is open to all."""

    def __init__(self, tokens: TokenDirectory) -> None:
        self.tokens = tokens

    async def intercept_service(self, continuation, details):
        handler = await continuation(details)
        method = details.method
        if handler is None or method.startswith(HEALTH_PREFIX):
            return handler
        if len(authorizations(details.invocation_metadata)) > 1:
            return _refusal(errors.InternalUnauthenticated(
                f"{method}: send one 'authorization' metadata entry, not several"))
        token = bearer(details.invocation_metadata)
        if token is None:
            return _refusal(errors.InternalUnauthenticated(
                f"{method} needs credentials: send metadata 'authorization: Bearer <token>' "
                "with the first line of this caller's INTERNAL_TOKEN_FILE"))
        identity = self.tokens.identify(token)
        if identity is None:
            log.warning("%s: refused a call with an unknown token", method)
            return _refusal(errors.InternalUnauthenticated(
                f"{method}: the bearer token is not one of INTERNAL_TOKENS_DIR's; check the "
                "caller's INTERNAL_TOKEN_FILE"))
        if identity not in ALLOWED.get(method, ()):
            log.warning("%s: refused to caller %s", method, identity)
            return _refusal(errors.PermissionDenied(
                f"caller {identity!r} may not call {method}"))
        if handler.unary_unary is None:
            return handler
        return _checked(method, handler)


def _checked(method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    """`handler` behind two checks of the request: it parses (bytes that are not the method's
    message are INVALID_ARGUMENT, not an UNKNOWN naming a protobuf exception) and names its
    project (check_project_id)."""
    inner, parse = handler.unary_unary, handler.request_deserializer

    async def call(body: bytes, context):
        try:
            request = _parse(method, parse, body)
            check_project_id(method, request)
        except errors.ApiError as exc:
            await context.abort_with_status(errors.to_status(exc))
        return await inner(request, context)

    return grpc.unary_unary_rpc_method_handler(
        call, request_deserializer=None, response_serializer=handler.response_serializer)


def _parse(method: str, parse, body: bytes):
    if parse is None:
        return body
    try:
        return parse(body)
    except DecodeError:
        raise errors.InvalidRequest(
            f"the request is not a {method} request: its bytes are not that protobuf "
            "message (check the caller's generated code against protos/)") from None


_Details = collections.namedtuple(
    "_Details", ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression"))


class _SyncDetails(_Details, grpc.ClientCallDetails):
    pass


def _with_token(metadata, token: str) -> list[tuple[str, str]]:
    return [*(metadata or ()), ("authorization", f"Bearer {token}")]


class BearerToken(grpc.aio.UnaryUnaryClientInterceptor):
    """Adds the caller's token to every call of an asyncio channel."""

    def __init__(self, token: TokenFile) -> None:
        self.file = token

    async def intercept_unary_unary(self, continuation, details, request):
        return await continuation(grpc.aio.ClientCallDetails(
            details.method, details.timeout, _with_token(details.metadata, self.file.token()),
            details.credentials, details.wait_for_ready), request)


class SyncBearerToken(grpc.UnaryUnaryClientInterceptor):
    """Adds the caller's token to every call of a blocking channel (admin console, dev tools)."""

    def __init__(self, token: TokenFile) -> None:
        self.file = token

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(_SyncDetails(
            details.method, details.timeout, _with_token(details.metadata, self.file.token()),
            details.credentials, getattr(details, "wait_for_ready", None),
            getattr(details, "compression", None)), request)
