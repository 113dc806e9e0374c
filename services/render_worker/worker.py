"""The render worker: one member of a Kafka consumer group on render.jobs.

For each job: admit it under its project's share (see slots.py; over it, the job is left queued
for the sweeper), claim it through the status service (queued -> rendering; a terminal or
elsewhere-claimed render is skipped, so a redelivered job does nothing), render it in a child
process (see craftkit/render_pool.py), store renders/<id>/<filename>, record the outcome (rendering -> succeeded |
failed, quoting the claim's attempt number). While a job is in hand its lease is renewed every
third of the lease; told the attempt is superseded, the worker kills its render and drops it.
An attempt that cannot finish for a reason that may pass (its render process died, S3 kept
failing) is given back (ReleaseRender), and the status service fails the render at its last
allowed attempt.

Up to WORKER_JOBS_IN_HAND jobs are in hand at once, each finishing in its own time; a partition's
offset is committed only up to its first job whose outcome is not recorded yet. A crash
redelivers the jobs past the commit, and the claims make the redelivery harmless.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import dataclass

import grpc
from aiokafka import ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, KafkaError
from aiokafka.structs import TopicPartition
from opentelemetry.trace import SpanKind

from craftkit import errors, kafka, logs, messages, renders, tracing
from craftkit.layout import RenderError
from craftkit.retry import RetryPolicy
from craftkit.v1 import status_pb2, status_pb2_grpc, templates_pb2, templates_pb2_grpc
from craftkit.render_pool import RenderCrashed, RenderFailed, RenderPool
from services.render_worker import metrics
from services.render_worker.settings import Settings
from services.render_worker.slots import Slots, Ticket
from services.render_worker.storage import PdfStore, StoreError

log = logging.getLogger(__name__)

RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
             grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.INTERNAL}
# Outcomes of a claim that mean "nothing to do": terminal, unknown, or someone else has it.
SKIP = {"conflict", "not_found", "busy"}
# Outcomes of a lease renewal that mean "this attempt is over": stop working on it.
SUPERSEDED = {"conflict", "not_found"}
RPC_TIMEOUT = 10
STATUS_RPC = RetryPolicy(initial=0.1, maximum=5.0, retriable=lambda exc: (
    isinstance(exc, grpc.aio.AioRpcError) and exc.code() in RETRYABLE))
# Storing a PDF: a few tries over about 3 s, then the attempt is given back (or failed at once
# when S3 says the request can never work).
STORE = RetryPolicy(initial=0.2, maximum=2.0, max_attempts=4,
                    retriable=lambda exc: isinstance(exc, StoreError) and not exc.permanent)
BUCKET = RetryPolicy(initial=0.1, maximum=5.0)
ASSET_CACHE_ENTRIES = 256
REWIND_INTERVAL = 5.0
COMMIT_TIMEOUT = 5.0
DEFAULT_LEASE_MS = 30_000  # a status service that does not say its lease (older versions)


@dataclass(frozen=True)
class Token:
    """Where a job came from, as Offsets knows it (epoch: bookkeeping resets of its partition)."""
    tp: TopicPartition
    offset: int
    epoch: int


class Offsets:
    """What may be committed: per partition, the offset of the first job still in hand (or one
    past the last job finished). Jobs finish in any order; commits never pass an unfinished one.
    `forget` drops a partition's bookkeeping (revoked, or rewound after the broker lost its log);
    jobs taken before that finish without effect on it."""

    def __init__(self) -> None:
        self.in_hand: dict[TopicPartition, set[int]] = {}
        self.next: dict[TopicPartition, int] = {}  # one past the highest offset taken
        self.committed: dict[TopicPartition, int] = {}
        self.epochs: dict[TopicPartition, int] = {}

    def started(self, message) -> Token:
        tp = TopicPartition(message.topic, message.partition)
        self.in_hand.setdefault(tp, set()).add(message.offset)
        self.next[tp] = max(self.next.get(tp, 0), message.offset + 1)
        self.committed.setdefault(tp, message.offset)  # where this member started reading
        return Token(tp, message.offset, self.epochs.get(tp, 0))

    def finished(self, token: Token) -> None:
        if token.epoch == self.epochs.get(token.tp, 0) and token.tp in self.in_hand:
            self.in_hand[token.tp].discard(token.offset)

    def forget(self, partitions) -> None:
        for tp in partitions:
            self.epochs[tp] = self.epochs.get(tp, 0) + 1
            for table in (self.in_hand, self.next, self.committed):
                table.pop(tp, None)

    def committable(self, partitions=None) -> dict[TopicPartition, int]:
        ready = {}
        for tp, upto in self.next.items():
            if partitions is not None and tp not in partitions:
                continue
            offset = min(self.in_hand.get(tp) or {upto})
            if offset > self.committed.get(tp, -1):
                ready[tp] = self.committed[tp] = offset
        return ready


class Rebalance(ConsumerRebalanceListener):
    """Commits what it can before partitions go; on assignment forgets every partition's
    bookkeeping (positions restart from the committed offsets) and rewinds partitions whose
    committed offset lies past the log's end."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker

    async def on_partitions_revoked(self, revoked) -> None:
        await self.worker.commit(set(revoked))

    async def on_partitions_assigned(self, assigned) -> None:
        offsets = self.worker.offsets
        offsets.forget(set(offsets.next) | set(offsets.in_hand) | set(assigned))
        # Not awaited here: positions are known only once this callback has returned.
        self.worker.spawn_rewind()


class Worker:
    def __init__(self, settings: Settings, status: status_pb2_grpc.StatusServiceStub,
                 templates: templates_pb2_grpc.TemplateServiceStub, store: PdfStore,
                 pool: RenderPool) -> None:
        self.settings = settings
        self.status = status
        self.templates = templates
        self.assets: OrderedDict[str, bytes] = OrderedDict()  # sha256 -> bytes, newest last
        self.store = store
        self.pool = pool
        self.slots = Slots(settings.concurrency, settings.project_concurrency,
                           settings.project_backlog)
        self.consumer = kafka.consumer(settings.kafka, settings.kafka.jobs_topic, settings.group,
                                       max_poll_records=settings.jobs_in_hand)
        self.consumer.subscribe([settings.kafka.jobs_topic], listener=Rebalance(self))
        # A stall: jobs waiting and none taken nor finished for twice the longest render.
        self.progress = kafka.Progress(self.consumer,
                                       stall_after=max(60.0, 2 * settings.limits.seconds))
        self.offsets = Offsets()
        self.rendered = 0
        self.deferred = 0
        self.stopping = asyncio.Event()
        self.jobs: set[asyncio.Task] = set()
        self.background: set[asyncio.Task] = set()
        self.committing: asyncio.Task | None = None

    def stop(self) -> None:
        """Finish the jobs in hand, commit them, then leave the group."""
        self.stopping.set()

    async def run(self) -> None:
        await BUCKET.call(self._ensure_bucket, "object storage")
        await kafka.prepare_topics(self.settings.kafka)
        await kafka.BROKER.call(self.consumer.start, "kafka consumer")
        log.info("worker %s consuming %s", self.settings.worker_id, self.settings.kafka.jobs_topic)
        try:
            while not self.stopping.is_set():
                if len(self.jobs) >= self.settings.jobs_in_hand:  # full: wait for a job to end
                    await asyncio.wait(self.jobs, return_when=asyncio.FIRST_COMPLETED)
                room = self.settings.jobs_in_hand - len(self.jobs)
                batches = await self.consumer.getmany(timeout_ms=200, max_records=room)
                for message in (m for batch in batches.values() for m in batch):
                    self.progress.moved()
                    self._spawn(self._job(message, self.offsets.started(message)))
                self._commit_in_background()
            if self.jobs:
                await asyncio.wait(self.jobs)  # stopping: finish the jobs in hand
            if self.committing is not None:
                await self.committing
            await self.commit()
        finally:
            await self.consumer.stop()

    async def watch_log(self) -> None:
        """Every few seconds, rewinds partitions whose broker lost its log (see kafka.rewind_lost)."""
        while True:
            await asyncio.sleep(REWIND_INTERVAL)
            await self.rewind()

    async def rewind(self) -> None:
        try:
            lost = await kafka.rewind_lost(self.consumer)
        except (KafkaError, OSError, asyncio.TimeoutError) as exc:
            log.warning("checking where the job log ends failed: %s", exc)
            return
        if lost:
            self.offsets.forget(lost)

    def spawn_rewind(self) -> None:
        self._background(self.rewind())

    def _background(self, coroutine) -> asyncio.Task:
        task = asyncio.create_task(coroutine)
        self.background.add(task)
        task.add_done_callback(self.background.discard)
        return task

    def _commit_in_background(self) -> None:
        """One commit at a time, beside the loop that takes jobs (a slow commit never holds it)."""
        if self.committing is None or self.committing.done():
            self.committing = self._background(self.commit())

    async def commit(self, partitions=None) -> None:
        """Commits, per partition (those given, else those assigned), up to the first job whose
        outcome is not recorded yet. Never waits long: aiokafka retries some commit errors
        without end (a partition the broker no longer knows), and the loop must go on."""
        ready = self.offsets.committable(
            self.consumer.assignment() if partitions is None else partitions)
        if not ready:
            return
        try:
            await asyncio.wait_for(self.consumer.commit(ready), COMMIT_TIMEOUT)
        except (CommitFailedError, KafkaError, asyncio.TimeoutError) as exc:
            # A rebalance took the partitions, or the broker lost them: whoever reads these jobs
            # again skips them, since their outcomes are recorded.
            log.warning("offset commit failed: %s", str(exc) or type(exc).__name__)

    def _spawn(self, coroutine) -> None:
        task = asyncio.create_task(coroutine)
        self.jobs.add(task)
        task.add_done_callback(self.jobs.discard)

    async def _job(self, message, token: Token) -> None:
        try:
            # One "render" span per job, continuing the trace of the request that enqueued it
            # (the job's traceparent header); the claim, store and finish calls are its children.
            with tracing.tracer.start_as_current_span(
                    "render", context=tracing.extract(message.headers), kind=SpanKind.CONSUMER):
                await self.handle(message.value)
        except Exception:  # noqa: BLE001 - a bug here must not stall the partition's commits;
            # the render stays unfinished and the enqueue sweeper hands it out again
            log.exception("job at %s:%d failed", message.partition, message.offset)
        finally:
            self.offsets.finished(token)
            self.progress.moved()

    async def _ensure_bucket(self) -> None:
        try:
            await asyncio.to_thread(self.store.ensure_bucket)
        except Exception as exc:  # noqa: BLE001 - minio and urllib3 errors alike
            raise OSError(f"bucket {self.store.settings.bucket!r}: {exc}") from exc

    async def handle(self, raw: bytes) -> None:
        try:
            job = messages.RenderJob.parse(raw)
        except messages.MalformedMessage as exc:
            log.error("skipping a malformed job message: %s", exc)
            return
        tracing.annotate("craftkit.render.id", job.render_id)
        with logs.bound(render_id=job.render_id, project_id=job.project_id):
            await self._handle(job)

    async def _handle(self, job: messages.RenderJob) -> None:
        """A job's claim, render, store and finish, every line logged meanwhile naming it."""
        ticket = self.slots.admit(job.project_id)
        if ticket is None:
            # Over the project's share: left queued; the sweeper hands it out again later.
            self.deferred += 1
            log.info("render %s: project %s has %d jobs waiting here; left for later",
                     job.render_id, job.project_id, self.settings.project_backlog)
            return
        try:
            claim = await self._call(self.status.StartRender, status_pb2.StartRenderRequest(
                render_id=job.render_id, project_id=job.project_id,
                worker_id=self.settings.worker_id))
            if claim is not None:
                tracing.annotate("craftkit.render.template", claim.render.template_slug)
                tracing.annotate("craftkit.render.attempt", claim.attempt)
                await self._leased(claim, self._attempt(claim, ticket))
        finally:
            ticket.done()

    async def _leased(self, claim, work) -> None:
        """Runs `work` while renewing the claim's lease; cancels it (killing its render process)
        when the status service says the attempt was superseded."""
        task = asyncio.create_task(work)
        every = (claim.lease_ms or DEFAULT_LEASE_MS) / 1000 / 3
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=every)
                if done:
                    return task.result()
                if not await self._renew(claim) and not task.done():
                    log.warning("render %s attempt %d was superseded; stopping it",
                                claim.render.id, claim.attempt)
                    return
        finally:
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    async def _renew(self, claim) -> bool:
        """False when the attempt is over; True otherwise (also when the status service cannot
        be reached: the lease may run out, and then our FinishRender is refused)."""
        render_id = claim.render.id
        try:
            await self.status.RenewLease(status_pb2.RenewLeaseRequest(
                render_id=render_id, project_id=claim.render.project_id, attempt=claim.attempt),
                timeout=RPC_TIMEOUT)
        except grpc.aio.AioRpcError as exc:
            if errors.from_rpc_error(exc).code in SUPERSEDED:
                return False
            log.warning("renewing the lease of render %s: %s", render_id, exc.details())
        return True

    @metrics.in_flight
    async def _attempt(self, claim, ticket: Ticket) -> None:
        render, render_id = claim.render, claim.render.id
        measured = metrics.Attempt(render.template_slug)
        request = status_pb2.FinishRenderRequest(render_id=render_id, attempt=claim.attempt,
                                                 project_id=render.project_id)
        try:
            assets = {ref.name: await self._asset(render, ref) for ref in claim.assets}
            async with ticket.slot():
                rendered = await self.pool.document(claim.layout_json, claim.data_json, assets)
            pdf = rendered.pdf
            key = renders.object_key(render_id, render.filename)
            await self._store(key, pdf)
        except (RenderFailed, RenderError) as exc:
            measured.failed(exc.limit)
            if exc.limit:
                tracing.annotate("craftkit.render.limit", exc.limit)
            request.succeeded, request.error_message = False, str(exc)
        except StoreError as exc:
            message = f"storing the PDF failed: {exc}"
            if not exc.permanent:
                return await self._release(claim, message)
            request.succeeded, request.error_message = False, message
        except RenderCrashed as exc:
            measured.killed("process_died")
            return await self._release(claim, str(exc))
        else:
            measured.succeeded(pdf, rendered.pages)
            request.succeeded, request.object_key = True, key
            request.download_url = self.store.download_url(key)
            tracing.annotate("craftkit.render.bytes", len(pdf))
            tracing.annotate("craftkit.render.pages", rendered.pages)
        tracing.annotate("craftkit.render.outcome", "succeeded" if request.succeeded else "failed")
        finished = await self._call(self.status.FinishRender, request)
        if finished is not None:
            self.rendered += 1
            log.info("render %s %s in %.1f ms", render_id,
                     "succeeded" if request.succeeded else "failed",
                     measured.seconds() * 1000)

    async def _release(self, claim, reason: str) -> None:
        """Gives the attempt back; the status service fails the render at its last attempt."""
        tracing.annotate("craftkit.render.outcome", "released")
        log.warning("render %s attempt %d: %s", claim.render.id, claim.attempt, reason)
        await self._call(self.status.ReleaseRender, status_pb2.ReleaseRenderRequest(
            render_id=claim.render.id, project_id=claim.render.project_id, attempt=claim.attempt,
            reason=reason))

    async def _asset(self, render, ref) -> bytes:
        """An image by content hash: from the cache, else from the template service."""
        data = self.assets.get(ref.sha256)
        if data is None:
            reply = await self._call(self.templates.GetAssetData, templates_pb2.GetAssetDataRequest(
                template_id=render.template_id, project_id=render.project_id, name=ref.name))
            if reply is None:
                raise RenderError(f"asset {ref.name!r} is missing")
            data = reply.data
            self.assets[ref.sha256] = data
            while len(self.assets) > ASSET_CACHE_ENTRIES:
                self.assets.popitem(last=False)
        self.assets.move_to_end(ref.sha256)
        return data

    async def _store(self, key: str, pdf: bytes) -> None:
        with tracing.tracer.start_as_current_span("store", kind=SpanKind.CLIENT):  # retries too
            await STORE.call(lambda: asyncio.to_thread(self.store.put, key, pdf),
                             f"storing the PDF of {key.rsplit('/', 1)[0]}")  # not its filename

    async def _call(self, method, request):
        """The response, or None when the status service says there is nothing to do.
        Retries while the status service is unreachable."""
        try:
            return await STATUS_RPC.call(lambda: method(request, timeout=RPC_TIMEOUT),
                                         f"status service {type(request).__name__}")
        except grpc.aio.AioRpcError as exc:
            error = errors.from_rpc_error(exc)
            if error.code in SKIP:
                log.info("%s: %s", type(request).__name__, error.message)
                return None
            raise
