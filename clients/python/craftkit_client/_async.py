"""The asynchronous client: `_client.py` with httpx.AsyncClient, asyncio.sleep and `await`, over
the same core (`_core`, `_calls`); tests/unit/test_sdk_core.py fails when their methods or
signatures differ."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import IO, Any

import httpx

from craftkit_client import _calls as calls
from craftkit_client._core import (Call, RetryPolicy, Sink, Waiting, default_headers, error_from,
                                   network_error, next_cursor, outcome, parsed,
                                   resolve)
from craftkit_client.models import (ApiKey, Asset, Delivery, Page, Render, ShareLink, Template,
                                    Version, VersionSchema, Webhook)

OnPoll = Callable[[Render], object]


class AsyncClient:
    """The Craftkit REST v1 API. `base_url` and `api_key` default to CRAFTKIT_API_URL and
    CRAFTKIT_API_KEY, from the environment or ./.craftkit/dev.env. `timeout` bounds each
    network step of each request; `retry` says which failures are tried again (see
    RetryPolicy). Use it as `async with AsyncClient() as c:`, or await close().
    `on_poll` callbacks are plain functions, called between polls."""

    def __init__(self, base_url: str | None = None, api_key: str | None = None, *,
                 timeout: float = 30.0, retry: RetryPolicy | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        url, key = resolve(base_url, api_key)
        self.base_url = url
        self.retry = retry or RetryPolicy()
        self._http = httpx.AsyncClient(base_url=url, headers=default_headers(key),
                                       timeout=timeout, transport=transport)
        self.renders = Renders(self)
        self.templates = Templates(self)
        self.webhooks = Webhooks(self)
        self.keys = Keys(self)
        self.share_links = ShareLinks(self)

    async def render(self, slug: str, data: Any, *, version: int | None = None, wait: bool = True,
               sync: bool = False, filename: str | None = None, timeout: float = 30.0,
               on_poll: OnPoll | None = None) -> Render:
        """Renders `data` with the template: with `wait`, polls at the seeds' cadence until the
        render is terminal or `timeout` seconds have passed (WaitTimeout); with `sync`, the
        server holds the request until the render is done (then polls if it was not). Raises
        RenderFailed when the render ends failed or cancelled."""
        waiting = Waiting(timeout)
        render = await self.renders.create(slug, data, version=version, sync=sync,
                                           filename=filename)
        if wait:
            render = await self.renders._wait(render, waiting, on_poll)
        return outcome(render) if render.terminal else render

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _send(self, call: Call) -> Any:
        response = await self._open(call)
        return parsed(call, response)

    async def _open(self, call: Call, *, stream: bool = False) -> httpx.Response:
        """The answer to `call`, retried as the policy allows (a retried POST carries the same
        Idempotency-Key and the same bytes)."""
        attempts = self.retry.start()
        while True:
            try:
                response = await self._http.send(call.request(self._http), stream=stream)
            except httpx.TransportError as exc:
                wait = attempts.after_error(exc, call)
                if wait is None:
                    raise network_error(exc, call) from exc
            else:
                wait = attempts.after_response(response, call)
                if wait is None:
                    return response
                await response.aclose()
            await asyncio.sleep(wait)


class Renders:
    def __init__(self, client: AsyncClient) -> None:
        self._c = client

    async def create(self, slug: str, data: Any, *, version: int | None = None, sync: bool = False,
               filename: str | None = None, idempotency_key: str | None = None) -> Render:
        return await self._c._send(calls.create_render(slug, data, version=version, sync=sync,
                                                 filename=filename,
                                                 idempotency_key=idempotency_key))

    async def get(self, id: str) -> Render:
        return await self._c._send(calls.get_render(id))

    async def wait(self, id: str, *, timeout: float = 30.0,
                   on_poll: OnPoll | None = None) -> Render:
        """The render once terminal, whatever its status (WaitTimeout after `timeout` s)."""
        waiting = Waiting(timeout)
        render = await self.get(id)
        if on_poll:
            on_poll(render)
        return await self._wait(render, waiting, on_poll)

    async def _wait(self, render: Render, waiting: Waiting, on_poll: OnPoll | None) -> Render:
        while (delay := waiting.next_delay(render)) is not None:
            await asyncio.sleep(delay)
            render = await self.get(render.id)
            if on_poll:
                on_poll(render)
        return render

    async def list(self, *, status: str | None = None, template: str | None = None,
             created_after: datetime | str | None = None,
             created_before: datetime | str | None = None, limit: int | None = None,
             cursor: str | None = None) -> Page[Render]:
        return await self._c._send(calls.list_renders(
            status=status, template=template, created_after=created_after,
            created_before=created_before, limit=limit, cursor=cursor))

    async def iter(self, *, status: str | None = None, template: str | None = None,
             created_after: datetime | str | None = None,
             created_before: datetime | str | None = None, limit: int | None = None,
             cursor: str | None = None) -> AsyncIterator[Render]:
        """Every render the filters select, page after page (newest first)."""
        seen: set[str] = set()
        while True:
            page = await self.list(status=status, template=template, created_after=created_after,
                             created_before=created_before, limit=limit, cursor=cursor)
            for render in page.data:
                yield render
            cursor = next_cursor(page, seen)
            if cursor is None:
                return

    async def cancel(self, id: str) -> Render:
        return await self._c._send(calls.cancel_render(id))

    async def download(self, id: str, dest: str | os.PathLike | IO[bytes]) -> int:
        """Streams the PDF to `dest` (a path, written atomically, or a binary file object) and
        answers the bytes written; the PDF is never held in memory whole. The file is written
        with plain (blocking) writes of one chunk at a time, as a local disk takes them."""
        call = calls.download(id)
        response = await self._c._open(call, stream=True)
        try:
            if not response.is_success:
                await response.aread()
                raise error_from(response)
            with Sink(dest) as sink:
                async for chunk in response.aiter_bytes():
                    sink.write(chunk)
            return sink.written
        except httpx.TransportError as exc:
            raise network_error(exc, call) from exc
        finally:
            await response.aclose()


class Templates:
    def __init__(self, client: AsyncClient) -> None:
        self._c = client

    async def list(self, *, limit: int | None = None, cursor: str | None = None) -> Page[Template]:
        return await self._c._send(calls.list_templates(limit=limit, cursor=cursor))

    async def get(self, slug: str) -> Template:
        return await self._c._send(calls.get_template(slug))

    async def create(self, slug: str, *, name: str | None = None,
                     default_filename: str | None = None,
               idempotency_key: str | None = None) -> Template:
        return await self._c._send(calls.create_template(slug, name=name,
                                                   default_filename=default_filename,
                                                   idempotency_key=idempotency_key))

    async def add_version(self, slug: str, manifest: dict, layout: dict, *,
                    idempotency_key: str | None = None) -> Version:
        return await self._c._send(calls.add_version(slug, manifest, layout,
                                               idempotency_key=idempotency_key))

    async def publish(self, slug: str, number: int) -> Version:
        return await self._c._send(calls.publish(slug, number))

    async def schema(self, slug: str, number: int) -> VersionSchema:
        return await self._c._send(calls.version_schema(slug, number))

    async def preview(self, slug: str, number: int, data: Any, *, format: str = "pdf") -> bytes:
        return await self._c._send(calls.preview(slug, number, data, format=format))

    async def put_asset(self, slug: str, name: str, content: bytes, content_type: str) -> Asset:
        return await self._c._send(calls.put_asset(slug, name, content, content_type))

    async def get_asset(self, slug: str, name: str) -> bytes:
        return await self._c._send(calls.get_asset(slug, name))

    async def list_assets(self, slug: str) -> list[Asset]:
        return await self._c._send(calls.list_assets(slug))


class Webhooks:
    def __init__(self, client: AsyncClient) -> None:
        self._c = client

    async def create(self, url: str, *, events: list[str] | None = None,
               idempotency_key: str | None = None) -> Webhook:
        return await self._c._send(calls.create_webhook(url, events=events,
                                                  idempotency_key=idempotency_key))

    async def list(self, *, limit: int | None = None, cursor: str | None = None) -> Page[Webhook]:
        return await self._c._send(calls.list_webhooks(limit=limit, cursor=cursor))

    async def update(self, id: str, *, url: str | None = None, events: list[str] | None = None,
               enabled: bool | None = None) -> Webhook:
        return await self._c._send(calls.update_webhook(id, url=url, events=events,
                                                        enabled=enabled))

    async def delete(self, id: str) -> Webhook:
        return await self._c._send(calls.delete_webhook(id))

    async def rotate_secret(self, id: str, *, overlap_seconds: int | None = None,
                      idempotency_key: str | None = None) -> Webhook:
        return await self._c._send(calls.rotate_secret(id, overlap_seconds=overlap_seconds,
                                                 idempotency_key=idempotency_key))

    async def deliveries(self, id: str, *, limit: int | None = None,
                   cursor: str | None = None) -> Page[Delivery]:
        return await self._c._send(calls.deliveries(id, limit=limit, cursor=cursor))

    async def redeliver(self, id: str, delivery_id: str, *,
                  idempotency_key: str | None = None) -> Delivery:
        return await self._c._send(calls.redeliver(id, delivery_id,
                                                   idempotency_key=idempotency_key))


class Keys:
    def __init__(self, client: AsyncClient) -> None:
        self._c = client

    async def create(self, name: str, scopes: list[str] | None = None, *,
               idempotency_key: str | None = None) -> ApiKey:
        return await self._c._send(calls.create_key(name, scopes, idempotency_key=idempotency_key))

    async def list(self, *, limit: int | None = None, cursor: str | None = None) -> Page[ApiKey]:
        return await self._c._send(calls.list_keys(limit=limit, cursor=cursor))

    async def revoke(self, id: str) -> ApiKey:
        return await self._c._send(calls.revoke_key(id))


class ShareLinks:
    def __init__(self, client: AsyncClient) -> None:
        self._c = client

    async def create(self, render_id: str, *, expires_in: int | None = None,
               max_downloads: int | None = None, idempotency_key: str | None = None) -> ShareLink:
        return await self._c._send(calls.create_share_link(render_id, expires_in=expires_in,
                                                     max_downloads=max_downloads,
                                                     idempotency_key=idempotency_key))

    async def list(self, render_id: str) -> list[ShareLink]:
        return await self._c._send(calls.list_share_links(render_id))

    async def revoke(self, render_id: str, link_id: str) -> ShareLink:
        return await self._c._send(calls.revoke_share_link(render_id, link_id))
