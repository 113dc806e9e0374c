"""One worker's render slots shared between projects."""

from __future__ import annotations

import asyncio

import pytest

from services.render_worker.slots import Slots


async def hold(slots: Slots, project: str, started: list, release: asyncio.Event) -> None:
    ticket = slots.admit(project)
    try:
        async with ticket.slot():
            started.append(project)
            await release.wait()
    finally:
        ticket.done()


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_project_holds_at_most_its_share_and_others_get_the_rest():
    slots, started, release = Slots(total=4, per_project=2, backlog=10), [], asyncio.Event()
    tasks = [asyncio.create_task(hold(slots, "hostile", started, release)) for _ in range(5)]
    await settle()
    tasks += [asyncio.create_task(hold(slots, "victim", started, release)) for _ in range(3)]
    await settle()
    assert sorted(started) == ["hostile", "hostile", "victim", "victim"]
    release.set()
    await asyncio.gather(*tasks)
    assert started.count("hostile") == 5 and started.count("victim") == 3
    assert slots.busy() == 0 and not slots.waiting


async def test_a_freed_slot_goes_to_the_oldest_job_whose_project_is_under_its_share():
    slots, started = Slots(total=2, per_project=1, backlog=10), []
    first, rest = asyncio.Event(), asyncio.Event()
    a1 = asyncio.create_task(hold(slots, "a", started, first))
    b1 = asyncio.create_task(hold(slots, "b", started, rest))
    await settle()
    waiting = [asyncio.create_task(hold(slots, p, started, rest)) for p in ("b", "a", "c")]
    await settle()
    assert started == ["a", "b"]
    first.set()  # a's slot frees: b is at its share, so the oldest eligible is a
    await a1
    await settle()
    assert started == ["a", "b", "a"]
    rest.set()
    await asyncio.gather(b1, *waiting)
    assert sorted(started) == ["a", "a", "b", "b", "c"]


async def test_jobs_over_a_projects_backlog_are_not_admitted():
    slots = Slots(total=1, per_project=1, backlog=2)
    first, second = slots.admit("p"), slots.admit("p")
    assert slots.admit("p") is None
    assert slots.admit("other") is not None  # other projects are not held up
    first.done()
    assert slots.admit("p") is not None
    second.done()


async def test_a_job_cancelled_while_waiting_leaves_no_trace():
    slots, started, release = Slots(total=1, per_project=1, backlog=5), [], asyncio.Event()
    holder = asyncio.create_task(hold(slots, "p", started, release))
    await settle()
    waiter = asyncio.create_task(hold(slots, "p", started, release))
    await settle()
    waiter.cancel()  # e.g. its attempt was superseded
    with pytest.raises(asyncio.CancelledError):
        await waiter
    release.set()
    await holder
    assert started == ["p"] and slots.busy() == 0 and not slots.queue and not slots.waiting
