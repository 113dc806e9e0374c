"""What the API answers, as frozen dataclasses: each field is the REST JSON's camelCase key in
snake_case (`pollUrl` -> `poll_url`), timestamps are timezone-aware datetimes, and `raw` keeps
the JSON object exactly as it came (fields this version of the client does not know included),
so a newer server never loses information on its way through an older client.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
"""Render states that never change again."""


def parse_time(value: str | None) -> datetime | None:
    """An ISO-8601 timestamp of the API (`2026-06-05T10:00:00.000Z`) as an aware datetime."""
    if value is None:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _json(convert: Callable[[Any], Any] | None = None, default: Any = None, *,
          secret: bool = False) -> Any:
    """A model field filled from the JSON key of its camelCase name, through `convert`. A
    `secret` one (a key, a webhook secret, a share link's URL) stays out of repr(), so logging
    a model never writes a credential."""
    return field(default=default, metadata={"convert": convert}, repr=not secret)


def _raw() -> Any:
    return field(default_factory=dict, repr=False, compare=False)


M = TypeVar("M", bound="Model")


class Model:
    """Builds a dataclass from an API JSON object (missing keys are None)."""

    raw: dict

    @classmethod
    def from_json(cls: type[M], obj: dict) -> M:
        """TypeError when `obj` or a field's value is not of the type the field declares, so a
        model never holds, say, a list where its status should be (the client may be pointed at
        anything; the core turns this into UnexpectedAnswer)."""
        if not isinstance(obj, dict):
            raise TypeError(f"{cls.__name__} is a JSON object, not {type(obj).__name__}")
        hints = _hints(cls)
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if f.name == "raw":
                continue
            key = _camel(f.name)
            value = obj.get(key)
            if value is not None and not _fits(value, hints[f.name]):
                expected = getattr(hints[f.name], "__name__", str(hints[f.name]))
                raise TypeError(f"{cls.__name__}.{key} is a JSON {type(value).__name__}, "
                                f"not {expected.replace('datetime.datetime', 'datetime')}")
            convert = f.metadata.get("convert")
            values[f.name] = convert(value) if convert and value is not None else value
        return cls(**values, raw=obj)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


JSON_OF = {datetime: str, dict: dict, str: str, bool: bool, int: int}
"""The JSON value each field type is read from (a datetime arrives as an ISO-8601 string)."""


def _fits(value: Any, hint: Any) -> bool:
    """Whether a JSON value can fill a field annotated `hint` (None is checked by the caller)."""
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    for option in options:
        if typing.get_origin(option) is tuple:  # tuple[X, ...]: a JSON array of X
            item = typing.get_args(option)[0]
            if isinstance(value, list) and all(_fits(v, item) for v in value):
                return True
        elif isinstance(option, type) and issubclass(option, Model):
            if isinstance(value, dict):
                return True
        elif option in JSON_OF and isinstance(value, JSON_OF[option]):
            if not (option is int and isinstance(value, bool)):
                return True
    return False


def _many(model: type[Model]) -> Callable[[list], tuple]:
    return lambda items: tuple(model.from_json(item) for item in items)


@dataclass(frozen=True)
class Render(Model):
    """A render (GET /v1/renders/{id}); the 202 of a create lacks the completion fields."""

    id: str = _json()
    status: str = _json()
    poll_url: str = _json()
    download_url: str | None = _json()
    error_message: str | None = _json()
    created_at: datetime | None = _json(parse_time)
    completed_at: datetime | None = _json(parse_time)
    duration_ms: int | None = _json()
    template_slug: str | None = _json()
    expired_at: datetime | None = _json(parse_time)
    raw: dict = _raw()

    @property
    def terminal(self) -> bool:
        """True once the status can no longer change (succeeded, failed, cancelled)."""
        return self.status in TERMINAL


@dataclass(frozen=True)
class Version(Model):
    number: int = _json()
    published: bool = _json()
    created_at: datetime | None = _json(parse_time)
    published_at: datetime | None = _json(parse_time)
    manifest: dict | None = _json()
    layout: dict | None = _json()
    raw: dict = _raw()


@dataclass(frozen=True)
class Template(Model):
    """A template; `versions` is empty in lists (GET /v1/templates leaves them out)."""

    id: str = _json()
    slug: str = _json()
    name: str = _json()
    default_filename: str = _json()
    published_version: int | None = _json()
    created_at: datetime | None = _json(parse_time)
    versions: tuple[Version, ...] = _json(_many(Version), default=())
    raw: dict = _raw()


@dataclass(frozen=True)
class VersionSchema(Model):
    """The JSON Schema of a version's `data`, an example that validates, a cURL line."""

    number: int = _json()
    schema: dict = _json()
    example: dict = _json()
    curl: str = _json()
    raw: dict = _raw()


@dataclass(frozen=True)
class Asset(Model):
    name: str = _json()
    content_type: str = _json()
    size: int = _json()
    sha256: str = _json()
    width: int = _json()
    height: int = _json()
    created_at: datetime | None = _json(parse_time)
    raw: dict = _raw()


@dataclass(frozen=True)
class Webhook(Model):
    """A webhook endpoint; `secret` only in the answers of create and rotate_secret."""

    id: str = _json()
    url: str = _json()
    events: tuple[str, ...] = _json(tuple, default=())
    enabled: bool = _json()
    created_at: datetime | None = _json(parse_time)
    paused_until: datetime | None = _json(parse_time)
    secret: str | None = _json(secret=True)
    raw: dict = _raw()


@dataclass(frozen=True)
class DeliveryAttempt(Model):
    number: int = _json()
    status_code: int | None = _json()
    error: str | None = _json()
    duration_ms: int = _json()
    at: datetime | None = _json(parse_time)
    raw: dict = _raw()


@dataclass(frozen=True)
class Delivery(Model):
    id: str = _json()
    event: str = _json()
    render_id: str = _json()
    status: str = _json()
    created_at: datetime | None = _json(parse_time)
    next_attempt_at: datetime | None = _json(parse_time)
    attempts: tuple[DeliveryAttempt, ...] = _json(_many(DeliveryAttempt), default=())
    raw: dict = _raw()


@dataclass(frozen=True)
class ApiKey(Model):
    """An API key; `key` (the secret itself) only in the answer of create."""

    id: str = _json()
    name: str = _json()
    prefix: str = _json()
    scopes: tuple[str, ...] = _json(tuple, default=())
    created_at: datetime | None = _json(parse_time)
    last_used_at: datetime | None = _json(parse_time)
    revoked_at: datetime | None = _json(parse_time)
    key: str | None = _json(secret=True)
    raw: dict = _raw()


@dataclass(frozen=True)
class ShareLink(Model):
    """A share link; `url` only in the answer of create (the token is stored hashed)."""

    id: str = _json()
    url: str | None = _json(secret=True)
    expires_at: datetime | None = _json(parse_time)
    max_downloads: int | None = _json()
    downloads: int = _json()
    created_at: datetime | None = _json(parse_time)
    revoked_at: datetime | None = _json(parse_time)
    raw: dict = _raw()


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list; pass `next_cursor` as `cursor` for the next (None on the last)."""

    data: list[T]
    next_cursor: str | None = None

    def __iter__(self) -> Iterator[T]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)
