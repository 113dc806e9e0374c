"""One retry policy for every loop that waits for something to come back (the shape of temporalio's
RetryPolicy): how long the first wait is, how it grows, its cap, its jitter, how many tries at most,
and which errors are worth another try.

    BROKER.call(producer.start, "kafka producer")    # until it works (or the task is cancelled)
    policy.delay(attempt)                             # for loops that keep their own count
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


def _always(exc: BaseException) -> bool:
    return True


@dataclass(frozen=True)
class RetryPolicy:
    initial: float = 0.1
    """Seconds to wait after the first failed try."""
    multiplier: float = 2.0
    """Each next wait is this many times the previous one..."""
    maximum: float = 5.0
    """...up to this many seconds."""
    jitter: float = 0.2
    """Each wait is spread by +-this fraction, so many clients do not retry in step."""
    max_attempts: int = 0
    """Tries in all, the first included; 0 means until it works."""
    retriable: Callable[[BaseException], bool] = _always
    """Whether an error is worth another try; any other is raised at once."""

    def delay(self, attempt: int) -> float:
        """The wait after `attempt` failed tries (1 for the first)."""
        wait = min(self.maximum, self.initial * self.multiplier ** max(attempt - 1, 0))
        return wait * random.uniform(1 - self.jitter, 1 + self.jitter)

    def gives_up(self, attempt: int) -> bool:
        """True when `attempt` failed tries are all this policy allows."""
        return 0 < self.max_attempts <= attempt

    async def call(self, action: Callable[[], Awaitable[T]], what: str) -> T:
        """`await action()` until it succeeds; raises its error when that error is not retriable
        or the attempts are used up."""
        attempt = 0
        while True:
            try:
                return await action()
            except Exception as exc:  # noqa: BLE001 - `retriable` decides
                attempt += 1
                if not self.retriable(exc) or self.gives_up(attempt):
                    raise
                wait = self.delay(attempt)
                log.warning("%s: %s; try %d failed, next in %.1fs", what,
                            str(exc) or type(exc).__name__, attempt, wait)
                await asyncio.sleep(wait)


async def drain_forever(step: Callable[[], Awaitable[object]], interval: float,
                        policy: RetryPolicy, what: str) -> None:
    """Forever: `step()` back to back while it answers something true (more to do), then a pause of
    `interval`. A failure is logged and waits as `policy` says, longer while failures repeat
    (the outbox relay, retention)."""
    failures = 0
    while True:
        wait = interval
        try:
            while await step():
                pass
            failures = 0
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure: report, back off, try again
            failures += 1
            wait = policy.delay(failures)
            log.warning("%s: %s; retrying in %.1fs", what, exc, wait)
        await asyncio.sleep(wait)


def errors_of(*types: type[BaseException]) -> Callable[[BaseException], bool]:
    """A `retriable` that accepts errors of these types."""
    return lambda exc: isinstance(exc, types)
