"""What the sync and async clients share, so they cannot drift: where the settings come from,
how a request is described (`Call`), when one is retried (`RetryPolicy`), how an answer becomes a
model or an ApiError, the polling cadence, and the atomic file a download writes. The two clients
only add the I/O: `_client.py` with httpx.Client and time.sleep, `_async.py` with
httpx.AsyncClient and asyncio.sleep.
"""

from __future__ import annotations

import json
import os
import random
import shlex
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import httpx

from craftkit_client import errors
from craftkit_client.models import Page, Render

VERSION = "0.1.0"
DEV_ENV = Path(".craftkit") / "dev.env"
"""What `make run` writes: CRAFTKIT_API_URL and CRAFTKIT_API_KEY among other KEY=value lines."""


# --- settings ----------------------------------------------------------------------------------

def read_env_file(path: Path) -> dict[str, str]:
    """KEY=value lines (values may be shell-quoted, as `make run` writes them); {} if absent."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, value = line.removeprefix("export ").split("=", 1)
        parts = shlex.split(value) if value.strip() else [""]
        values[name.strip()] = parts[0] if parts else ""
    return values


def resolve(base_url: str | None, api_key: str | None) -> tuple[str, str]:
    """The URL and key: the arguments, else CRAFTKIT_API_URL / CRAFTKIT_API_KEY from the
    environment, else from ./.craftkit/dev.env; a ValueError naming what is missing otherwise.

    dev.env's URL is taken only with dev.env's key: the file is whatever directory one runs
    from (a repository cloned from a stranger may hold one), and its URL must not receive a
    key from the environment or an argument."""
    file = read_env_file(DEV_ENV) if base_url is None or api_key is None else {}
    key = api_key or os.environ.get("CRAFTKIT_API_KEY")
    url = base_url or os.environ.get("CRAFTKIT_API_URL")
    if not key:
        key = file.get("CRAFTKIT_API_KEY")
        url = url or file.get("CRAFTKIT_API_URL")
    elif not url and file.get("CRAFTKIT_API_URL"):
        raise ValueError(f"no CRAFTKIT_API_URL beside the key given: {DEV_ENV}'s URL is used "
                         "only with its own key (so a key is never sent to a URL found in "
                         "whatever directory this runs from); pass the URL or set it too")
    for name, value in (("CRAFTKIT_API_URL", url), ("CRAFTKIT_API_KEY", key)):
        if not value:
            raise ValueError(f"no {name}: pass it to the client, set the environment variable, "
                             f"or run from a directory holding {DEV_ENV} (`make run` writes it)")
    return checked_url(url), checked_key(key)


def checked_url(url: str) -> str:
    """The base URL without its trailing slash; ValueError unless it is http(s) with a host
    (not echoing it: it may carry a password)."""
    try:
        parsed = httpx.URL(url.strip())
    except (httpx.InvalidURL, TypeError):
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError("CRAFTKIT_API_URL is not an http:// or https:// URL with a host "
                         "(e.g. http://localhost:8080)")
    return url.strip().rstrip("/")


def checked_key(key: str) -> str:
    """The key without surrounding blanks (a line end kept by `$(cat key.txt)` of a CRLF
    file); ValueError, never echoing it, when it holds a character no key has: sent as it is,
    httpx would refuse the header in an error message that prints the whole key."""
    key = key.strip()
    if not (key.isascii() and key.isprintable() and " " not in key):
        raise ValueError("CRAFTKIT_API_KEY holds a space, a control or a non-ASCII character, "
                         "which no key has: check how it was set (it is not shown here)")
    return key


def default_headers(api_key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {api_key}", "accept": "application/json",
            "user-agent": f"craftkit-client/{VERSION} httpx/{httpx.__version__}"}


# --- requests ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Call:
    """One API call: the request (built again, byte for byte, for each attempt) and how its
    answer is read. `resendable` says whether the request may be sent again after it may have
    reached the server: GET, PUT and DELETE, and POSTs carrying an Idempotency-Key (the server
    replays the first answer) or that change nothing (a preview, a publish)."""

    method: str
    path: str
    parse: Callable[[httpx.Response], Any]
    params: Mapping[str, Any] | None = None
    content: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    resendable: bool = True
    timeout: float | None = None

    def request(self, http: httpx.Client | httpx.AsyncClient) -> httpx.Request:
        params = {k: v for k, v in (self.params or {}).items() if v is not None}
        timeout = httpx.USE_CLIENT_DEFAULT if self.timeout is None else self.timeout
        return http.build_request(self.method, self.path, params=params, content=self.content,
                                  headers=self.headers, timeout=timeout)

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("idempotency-key")


def json_body(value: Any) -> bytes:
    """The body's bytes, encoded once: every retry sends the same bytes, which the server's
    Idempotency-Key check compares (a SHA-256 of the body, not a canonical form of the JSON).
    NaN and infinities raise ValueError here: the API refuses them (400 invalid_json)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def post(path: str, body: Any, parse: Callable[[httpx.Response], Any], *, create: bool = False,
         idempotency_key: str | None = None, resendable: bool = False,
         timeout: float | None = None, accept: str | None = None) -> Call:
    """A POST with a JSON body. `create`: it makes something, so it carries an Idempotency-Key
    (a fresh uuid4 unless given), which makes it safe to send again."""
    headers = {"content-type": "application/json"}
    if accept:
        headers["accept"] = accept
    if create:
        headers["idempotency-key"] = idempotency_key or str(uuid.uuid4())
    return Call("POST", path, parse, content=None if body is None else json_body(body),
                headers=headers, resendable=create or resendable, timeout=timeout)


def query_time(value: datetime | str | None) -> str | None:
    """A created_after/created_before bound as the API wants it (ISO 8601 with a time zone)."""
    if value is None or isinstance(value, str):
        return value
    if value.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone: the API compares instants "
                         "(use datetime.now(timezone.utc) or an aware datetime)")
    return value.isoformat()


# --- answers -----------------------------------------------------------------------------------

def error_from(response: httpx.Response) -> errors.ApiError:
    """The ApiError of an error answer; one that is not the API's envelope (a proxy's HTML 502)
    keeps its status and a short excerpt of its body."""
    request_id = response.headers.get("x-request-id")
    try:
        envelope = response.json()["error"]
        code, message = str(envelope["code"]), str(envelope["message"])
        issues = envelope.get("issues")
    except (ValueError, KeyError, TypeError):
        code, issues = f"http_{response.status_code}", None
        excerpt = " ".join(response.text.split())[:200]
        message = f"{response.reason_phrase or 'error'}" + (f": {excerpt}" if excerpt else "")
    kind = errors.error_class(response.status_code)
    extra: dict[str, Any] = {}
    if kind is errors.RateLimited:
        extra["retry_after"] = retry_after(response)
    return kind(response.status_code, code, message, issues, request_id, **extra)


def retry_after(response: httpx.Response) -> float | None:
    """Retry-After in seconds (the gateway sends whole seconds; an HTTP date counts as absent)."""
    try:
        return max(0.0, float(response.headers["retry-after"]))
    except (KeyError, ValueError):
        return None


def checked(response: httpx.Response) -> httpx.Response:
    if response.is_success:
        return response
    raise error_from(response)


def model(kind: Any) -> Callable[[httpx.Response], Any]:
    return lambda response: kind.from_json(checked(response).json())


def models(kind: Any, key: str) -> Callable[[httpx.Response], list]:
    """A list answer that is not paged: its items under `key`."""
    def parse(response: httpx.Response) -> list:
        items = checked(response).json()[key]
        if not isinstance(items, list):
            raise TypeError(f"{key} is a JSON {type(items).__name__}, not a list")
        return [kind.from_json(item) for item in items]
    return parse


def page(kind: Any, key: str) -> Callable[[httpx.Response], Any]:
    """A paged list answer `{<key>: [...], nextCursor}`."""
    def parse(response: httpx.Response) -> Page:
        body = checked(response).json()
        items, cursor = body[key], body.get("nextCursor")
        if not isinstance(items, list) or not isinstance(cursor, (str, type(None))):
            raise TypeError(f"a page is {{{key}: [...], nextCursor: string or null}}")
        return Page([kind.from_json(item) for item in items], cursor)
    return parse


def content(response: httpx.Response) -> bytes:
    return checked(response).content


UNREADABLE = (ValueError, KeyError, IndexError, TypeError, AttributeError, StopIteration,
              RecursionError)
"""What reading a success answer raises when it is not the API's shape (json.loads, a missing
key, a list that is a string, a JSON nested too deep for the parser)."""


def parsed(call: Call, response: httpx.Response) -> Any:
    """`call`'s answer read by its parser; an answer of another shape (the client may be pointed
    at anything: a proxy's login page, another service) is UnexpectedAnswer, not the parser's
    own exception from somewhere inside this package."""
    try:
        return call.parse(response)
    except errors.CraftkitError:
        raise
    except UNREADABLE as exc:
        kind = response.headers.get("content-type", "no content type")
        raise errors.UnexpectedAnswer(
            f"{call.method} {call.path}: the {response.status_code} answer ({kind}) is not the "
            f"API's: {type(exc).__name__}: {str(exc)[:200]}; is the base URL a Craftkit "
            "API?") from None


def next_cursor(page: Page, seen: set[str]) -> str | None:
    """The cursor of the page after `page` (None after the last); UnexpectedAnswer when the
    server hands back a cursor it gave before, which would page in a circle for ever."""
    cursor = page.next_cursor
    if cursor in seen:
        raise errors.UnexpectedAnswer(f"the server gave cursor {cursor[:60]!r} twice: its pages "
                                      "would never end")
    if cursor:
        seen.add(cursor)
    return cursor or None


# --- retries -----------------------------------------------------------------------------------

NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
"""Transport errors raised before any byte of the request left: safe to retry any call."""
RETRY_STATUSES = frozenset({502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """When a call is tried again, one value for the whole client (temporalio's shape).

    Retried: a connection that could not be made (any call: nothing was sent); 502, 503, 504
    and other network errors (only calls that may be resent, see `Call.resendable`); 429 with
    Retry-After (any call: the server did nothing), after at least that wait; 409
    idempotency_key_in_use (the first request with the key still runs). Each wait is the
    backoff (initial_interval x backoff^n, capped, +-20 % jitter) or Retry-After if longer."""

    max_attempts: int = 4
    """Attempts in all, the first included (1: never retry)."""
    initial_interval: float = 0.5
    backoff: float = 2.0
    max_interval: float = 8.0
    max_elapsed: float = 30.0
    """Seconds from the first attempt after which no retry starts (a longer Retry-After too)."""

    def start(self) -> Attempts:
        return Attempts(self)


class Attempts:
    """The retry state of one call: each method answers the seconds to wait before the next
    attempt, or None when the error must be raised now."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy, self.made, self.started = policy, 1, time.monotonic()

    def after_error(self, exc: Exception, call: Call) -> float | None:
        if isinstance(exc, NOT_SENT) or (call.resendable and isinstance(exc, httpx.TransportError)):
            return self._next()
        return None

    def after_response(self, response: httpx.Response, call: Call) -> float | None:
        status = response.status_code
        if status == 429:
            wait = retry_after(response)
            return None if wait is None else self._next(at_least=wait)
        if status in RETRY_STATUSES and call.resendable:
            return self._next(at_least=retry_after(response) or 0.0)
        if status == 409 and call.idempotency_key and _code(response) == "idempotency_key_in_use":
            return self._next()
        return None

    def _next(self, at_least: float = 0.0) -> float | None:
        p = self.policy
        backoff = min(p.initial_interval * p.backoff ** (self.made - 1), p.max_interval)
        wait = max(at_least, backoff * random.uniform(0.8, 1.2))
        elapsed = time.monotonic() - self.started
        if self.made >= p.max_attempts or elapsed + wait > p.max_elapsed:
            return None
        self.made += 1
        return wait


def _code(response: httpx.Response) -> str | None:
    try:
        return response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError, httpx.ResponseNotRead):
        return None


def network_error(exc: httpx.TransportError, call: Call) -> errors.NetworkError:
    return errors.NetworkError(f"{call.method} {call.path}: {type(exc).__name__}: {exc}")


# --- waiting -----------------------------------------------------------------------------------

POLL_FIRST, POLL_BACKOFF, POLL_CAP = 0.2, 1.5, 1.0
"""The seeds' cadence: the first poll 200 ms after the 202, then x1.5 up to 1 s."""


def poll_delays() -> Iterator[float]:
    delay = POLL_FIRST
    while True:
        yield delay
        delay = min(delay * POLL_BACKOFF, POLL_CAP)


class Waiting:
    """One wait on a render: the delay before each poll (cut to the deadline), and what ends it.
    After the deadline one last poll is made, so a render that finished meanwhile is returned."""

    def __init__(self, timeout: float, deadline: float | None = None) -> None:
        self.timeout = timeout
        self.deadline = deadline if deadline is not None else time.monotonic() + timeout
        self.delays = poll_delays()

    def next_delay(self, render: Render) -> float | None:
        """Seconds until the next poll; None when `render` is final (terminal) for this wait;
        raises WaitTimeout when the deadline has passed and it is not terminal."""
        if render.terminal:
            return None
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise errors.WaitTimeout(render, self.timeout)
        return min(next(self.delays), left)


def outcome(render: Render) -> Render:
    """What render(wait=True) returns: the render, or RenderFailed when it produced no PDF."""
    if render.status in ("failed", "cancelled"):
        raise errors.RenderFailed(render)
    return render


# --- downloads ---------------------------------------------------------------------------------

class Sink:
    """Where a download's bytes go: a binary file object as given, or a path written atomically
    (a temporary file beside it, renamed over it once complete, removed on any failure), so a
    cut download never leaves a half PDF under the final name."""

    def __init__(self, dest: str | os.PathLike | IO[bytes]) -> None:
        self.written, self.temp = 0, None
        if isinstance(dest, (str, os.PathLike)):
            self.path = Path(dest)
            # Not mkstemp: its file is 0600 whatever the umask, and the PDF would stay
            # unreadable to the group a web server or a colleague reads it as.
            self.temp = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex[:12]}.part")
            fd = os.open(self.temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666)
            self.file: IO[bytes] = os.fdopen(fd, "wb")
        else:
            self.file = dest

    def write(self, chunk: bytes) -> None:
        self.file.write(chunk)
        self.written += len(chunk)

    def __enter__(self) -> Sink:
        return self

    def __exit__(self, kind: type | None, exc: BaseException | None, tb: Any) -> None:
        if self.temp is None:
            return
        try:
            if kind is None:
                self.file.flush()
                os.fsync(self.file.fileno())
            self.file.close()
            if kind is None:
                os.replace(self.temp, self.path)
        finally:
            self.temp.unlink(missing_ok=True)
