"""Renders in separate processes, each killable: the render workers' renders and the gateway's
previews (POST /v1/templates/{slug}/versions/{n}/preview) both go through a RenderPool.

Everything a template's author or caller controls (the layout, its markup, the data) is parsed and
rendered in a child process from a pebble ProcessPool, never in the caller's event loop:

- a render that runs past RENDER_TIME_LIMIT_SECONDS is killed (pebble ends its process and starts
  another) and fails naming the limit;
- each child caps its own address space at what it holds once idle plus RENDER_MEMORY_LIMIT_MB
  (RLIMIT_AS), so an allocation over the limit fails inside the render (MemoryError); the child
  then exits and is replaced, and the render fails naming the limit, instead of the kernel
  killing the pod;
- a child that dies anyway (a crash in C code, the OOM killer) is replaced; the render is not
  failed at once but its attempt given back (RenderCrashed), so RENDER_MAX_ATTEMPTS decides;
- cancelling the awaiting task (a superseded attempt, shutdown) kills the child running it;
- each child is replaced after WORKER_RECYCLE_AFTER renders, so what a render leaves behind
  (fragmented memory, caches) does not accumulate.

A render stopped by a limit fails with RenderFailed naming it in `limit` (time, memory, pages,
rows), and every child replaced for another reason than recycling (killed at the time limit,
out of memory, died, killed with a cancelled render, a broken pool) calls `on_restart`: the render
worker counts both (services/render_worker/metrics.py).

Children are started with `spawn`, never forked from a parent that runs gRPC and Kafka threads.
This module is what a child imports: keep its imports light.
"""

from __future__ import annotations

import asyncio
import json
import logging
import multiprocessing
import os
import resource
from collections.abc import Callable
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

import pebble

from craftkit import logs
from craftkit.layout import Limits, RenderError, Rendered, render_document
from craftkit.layout.render import time_limit_message

log = logging.getLogger(__name__)


OUT_OF_MEMORY = 75  # a render process's exit status after a render over RENDER_MEMORY_LIMIT_MB


class RenderFailed(Exception):
    """The render cannot succeed with this input (a limit, a data problem): record it failed.
    `limit`: the limit that stopped it (time, memory, pages, rows), None for a data problem."""

    def __init__(self, message: str, limit: str | None = None) -> None:
        super().__init__(message)
        self.limit = limit


class RenderCrashed(Exception):
    """The render's process died for a reason that may pass: give the attempt back."""


@dataclass(frozen=True)
class PoolSettings:
    processes: int
    recycle_after: int
    limits: Limits
    memory_limit_mb: int


def memory_message(megabytes: int) -> str:
    return (f"the render needed more than {megabytes} MB of memory (RENDER_MEMORY_LIMIT_MB); "
            "use smaller images or fewer rows")


class RenderPool:
    def __init__(self, settings: PoolSettings,
                 on_restart: Callable[[int], None] = lambda processes: None) -> None:
        """`on_restart(n)`: n render processes were replaced (not counting recycling)."""
        self.settings = settings
        self.on_restart = on_restart
        self.pool = self._new_pool()

    def _new_pool(self) -> pebble.ProcessPool:
        settings = self.settings
        return pebble.ProcessPool(
            max_workers=settings.processes, max_tasks=settings.recycle_after,
            initializer=start_child, initargs=(settings.memory_limit_mb,),
            context=multiprocessing.get_context("spawn"))

    async def render(self, layout_json: str, data_json: str, assets: dict[str, bytes], *,
                     then: Callable[[bytes], bytes] | None = None) -> bytes:
        """The PDF, or what `then` (a module-level function, run in the child under the same
        time and memory limits) makes of it; RenderFailed or RenderCrashed otherwise."""
        return (await self.document(layout_json, data_json, assets, then=then)).pdf

    async def document(self, layout_json: str, data_json: str, assets: dict[str, bytes], *,
                       then: Callable[[bytes], bytes] | None = None) -> Rendered:
        """`render`, with the page count. Callers keep at most `processes` renders in flight
        (see Slots), so the time limit counts from a render's start."""
        limits = self.settings.limits
        try:
            future = self.pool.schedule(_render, (layout_json, data_json, assets, limits, then),
                                        timeout=limits.seconds)
            kind, value = await asyncio.wrap_future(future)
        except FutureTimeout:
            self.on_restart(1)  # pebble ended the process and starts another
            raise RenderFailed(time_limit_message(limits.seconds), "time") from None
        except pebble.ProcessExpired as exc:
            self.on_restart(1)
            if exc.exitcode == OUT_OF_MEMORY:
                raise RenderFailed(memory_message(self.settings.memory_limit_mb),
                                   "memory") from None
            raise RenderCrashed(f"the render process died ({_exit(exc.exitcode)})") from None
        except (BrokenProcessPool, RuntimeError) as exc:
            # Children that die before taking any work (e.g. at start) break a pebble pool for
            # good, and a broken pool refuses new work (RuntimeError): start a fresh one.
            log.error("render processes failed (%s); starting new ones", exc)
            broken, self.pool = self.pool, self._new_pool()
            broken.stop()
            self.on_restart(self.settings.processes)
            raise RenderCrashed(f"the render processes failed: {exc}") from None
        except asyncio.CancelledError:
            # pebble kills the process running a cancelled render (with at most `processes`
            # renders in flight, a scheduled render is running).
            self.on_restart(1)
            raise
        if kind == "pdf":
            return value
        message, limit = value
        raise RenderFailed(message, limit)

    def close(self) -> None:
        """Kills the children at once (renders in flight are given up; their leases expire)."""
        self.pool.stop()
        self.pool.join(timeout=5)


def _exit(code: int | None) -> str:
    if code is not None and code < 0:
        return f"killed by signal {-code}"
    return f"exit code {code}"


# ------------------------------------------------------------------------------------ in a child

def start_child(memory_limit_mb: int) -> None:
    """Runs once in each new child: caps its address space at what it holds now plus the limit."""
    logs.setup_once("render_worker")  # a spawned child: its lines as the worker's own
    if memory_limit_mb > 0:
        cap = _address_space() + memory_limit_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def _address_space() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _render(layout_json: str, data_json: str, assets: dict[str, bytes], limits: Limits,
            then: Callable[[bytes], bytes] | None = None) -> tuple[str, object]:
    """("pdf", Rendered) or ("error", (message, limit)): plain values cross the pipe. Out of
    memory, the process exits with OUT_OF_MEMORY instead: what the failed render leaves behind
    (caches, fragments) would make the next renders in it fail too."""
    try:
        rendered = render_document(json.loads(layout_json), json.loads(data_json),
                                   limits=limits, assets=assets)
        return "pdf", Rendered(then(rendered.pdf), rendered.pages) if then else rendered
    except RenderError as exc:
        return "error", (str(exc), exc.limit)
    except Exception as exc:  # noqa: BLE001 - a renderer bug or a failed allocation deep inside
        if _out_of_memory(exc):
            os._exit(OUT_OF_MEMORY)
        log.exception("the renderer failed")
        return "error", (f"the renderer failed: {type(exc).__name__}: {str(exc)[:200]}", None)


def _out_of_memory(exc: BaseException | None) -> bool:
    """MemoryError, also when a library re-raised it as something else."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, MemoryError):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False
