"""Fair shares of one worker between projects.

A worker renders at most `total` documents at once (its processes), and no project more than
`per_project` of them, so one tenant's slow renders always leave room for the others. A job waits
for its render slot in hand (claimed, its lease renewed); a project may have at most `backlog`
jobs in hand that are not rendering yet. A job over that is not taken: it is left `queued` in
PostgreSQL (its offset is committed past like any handled job) and the enqueue sweeper hands it
out again after REDELIVER_AFTER_SECONDS. So a flood from one project cannot fill the jobs in
hand, and the other projects' jobs in the same partitions keep flowing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter, deque


class Slots:
    def __init__(self, total: int, per_project: int, backlog: int) -> None:
        self.total = total
        self.per_project = per_project
        self.backlog = backlog
        self.rendering: Counter[str] = Counter()
        self.waiting: Counter[str] = Counter()  # in hand, not rendering yet
        self.queue: deque[tuple[str, asyncio.Future]] = deque()  # waiting for a slot, in order

    def admit(self, project: str) -> Ticket | None:
        """A ticket for a job of `project`, or None when the project's backlog is full."""
        if self.waiting[project] >= self.backlog:
            return None
        self.waiting[project] += 1
        return Ticket(self, project)

    def busy(self) -> int:
        return sum(self.rendering.values())

    def _may_start(self, project: str) -> bool:
        return self.busy() < self.total and self.rendering[project] < self.per_project

    async def _acquire(self, project: str) -> None:
        # Every change wakes whoever may start, so the queue holds only jobs that may not (their
        # project at its share, or every slot busy): a job that may start need not queue.
        if self._may_start(project):
            self.rendering[project] += 1
            return
        future = asyncio.get_running_loop().create_future()
        entry = (project, future)
        self.queue.append(entry)
        try:
            await future  # _wake counted us in before resolving the future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._release(project)  # woken and cancelled at once: give the slot on
            elif entry in self.queue:
                self.queue.remove(entry)
            raise

    def _release(self, project: str) -> None:
        self.rendering[project] -= 1
        if not self.rendering[project]:
            del self.rendering[project]
        self._wake()

    def _wake(self) -> None:
        """Starts the oldest waiting jobs whose projects are under their share."""
        for entry in list(self.queue):
            if self.busy() >= self.total:
                return
            project, future = entry
            if future.done():  # its task was cancelled: it leaves the queue itself
                self.queue.remove(entry)
            elif self.rendering[project] < self.per_project:
                self.queue.remove(entry)
                self.rendering[project] += 1
                future.set_result(None)


class Ticket:
    """One admitted job: `async with ticket.slot():` around its render; `done()` when it ends."""

    def __init__(self, slots: Slots, project: str) -> None:
        self.slots, self.project = slots, project
        self.waiting = True

    @contextlib.asynccontextmanager
    async def slot(self):
        await self.slots._acquire(self.project)
        self._stop_waiting()
        try:
            yield
        finally:
            self.slots._release(self.project)

    def done(self) -> None:
        self._stop_waiting()

    def _stop_waiting(self) -> None:
        if self.waiting:
            self.waiting = False
            self.slots.waiting[self.project] -= 1
            if not self.slots.waiting[self.project]:
                del self.slots.waiting[self.project]
