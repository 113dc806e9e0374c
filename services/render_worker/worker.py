"""The render worker: one member of a Kafka consumer group on render.jobs.

For each job: claim it through the status service (queued -> rendering; a terminal or
elsewhere-claimed render is skipped, so a redelivered job does nothing), render the template
version with ReportLab, store renders/<id>/<filename>, record the outcome (rendering -> succeeded
| failed, quoting the claim's attempt number). Up to WORKER_CONCURRENCY jobs are in hand at once,
each finishing in its own time; a partition's offset is committed only up to its first job whose
outcome is not recorded yet. A crash redelivers the jobs past the commit, and the claims make the
redelivery harmless.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict

import grpc
from aiokafka.errors import CommitFailedError, KafkaError
from aiokafka.structs import TopicPartition

from craftkit import errors, kafka, messages
from craftkit.layout import RenderError, render_pdf
from craftkit.retry import RetryPolicy
from craftkit.v1 import status_pb2, status_pb2_grpc, templates_pb2, templates_pb2_grpc
from services.render_worker.settings import Settings
from services.render_worker.storage import PdfStore, object_key

log = logging.getLogger(__name__)

RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
             grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.INTERNAL}
# Outcomes of a claim that mean "nothing to do": terminal, unknown, or someone else has it.
SKIP = {"conflict", "not_found", "busy"}
RPC_TIMEOUT = 10
STATUS_RPC = RetryPolicy(initial=0.1, maximum=5.0, retriable=lambda exc: (
    isinstance(exc, grpc.aio.AioRpcError) and exc.code() in RETRYABLE))
STORAGE = RetryPolicy(initial=0.1, maximum=5.0)
ASSET_CACHE_ENTRIES = 256


class Offsets:
    """What may be committed: per partition, the offset of the first job still in hand (or one
    past the last job finished). Jobs finish in any order; commits never pass an unfinished one."""

    def __init__(self) -> None:
        self.in_hand: dict[TopicPartition, set[int]] = {}
        self.next: dict[TopicPartition, int] = {}  # one past the highest offset taken
        self.committed: dict[TopicPartition, int] = {}

    def started(self, message) -> None:
        tp = TopicPartition(message.topic, message.partition)
        self.in_hand.setdefault(tp, set()).add(message.offset)
        self.next[tp] = max(self.next.get(tp, 0), message.offset + 1)
        self.committed.setdefault(tp, message.offset)  # where this member started reading

    def finished(self, message) -> None:
        self.in_hand[TopicPartition(message.topic, message.partition)].discard(message.offset)

    def committable(self) -> dict[TopicPartition, int]:
        ready = {}
        for tp, upto in self.next.items():
            offset = min(self.in_hand.get(tp) or {upto})
            if offset > self.committed.get(tp, -1):
                ready[tp] = self.committed[tp] = offset
        return ready


class Worker:
    def __init__(self, settings: Settings, status: status_pb2_grpc.StatusServiceStub,
                 templates: templates_pb2_grpc.TemplateServiceStub, store: PdfStore) -> None:
        self.settings = settings
        self.status = status
        self.templates = templates
        self.assets: OrderedDict[str, bytes] = OrderedDict()  # sha256 -> bytes, newest last
        self.store = store
        self.consumer = kafka.consumer(settings.kafka, settings.kafka.jobs_topic, settings.group,
                                       max_poll_records=settings.concurrency)
        self.rendered = 0
        self.stopping = asyncio.Event()
        self.jobs: set[asyncio.Task] = set()

    def stop(self) -> None:
        """Finish the batch in hand, commit it, then leave the group."""
        self.stopping.set()

    async def run(self) -> None:
        await STORAGE.call(self._ensure_bucket, "object storage")
        await kafka.prepare_topics(self.settings.kafka)
        await kafka.BROKER.call(self.consumer.start, "kafka consumer")
        log.info("worker %s consuming %s", self.settings.worker_id, self.settings.kafka.jobs_topic)
        offsets = Offsets()
        try:
            while not self.stopping.is_set():
                if len(self.jobs) >= self.settings.concurrency:  # full: wait for a job to end
                    await asyncio.wait(self.jobs, return_when=asyncio.FIRST_COMPLETED)
                room = self.settings.concurrency - len(self.jobs)
                batches = await self.consumer.getmany(timeout_ms=200, max_records=room)
                for message in (m for batch in batches.values() for m in batch):
                    offsets.started(message)
                    self._spawn(self._job(message, offsets))
                await self._commit(offsets)
            await asyncio.gather(*self.jobs)  # stopping: finish the jobs in hand
            await self._commit(offsets)
        finally:
            await self.consumer.stop()

    async def _job(self, message, offsets: Offsets) -> None:
        try:
            await self.handle(message.value)
        except Exception:  # noqa: BLE001 - a bug here must not stall the partition's commits;
            # the render stays unfinished and the enqueue sweeper hands it out again
            log.exception("job at %s:%d failed", message.partition, message.offset)
        offsets.finished(message)

    def _spawn(self, coroutine) -> None:
        task = asyncio.create_task(coroutine)
        self.jobs.add(task)
        task.add_done_callback(self.jobs.discard)

    async def _commit(self, offsets: Offsets) -> None:
        """Commits, per partition, up to the first job whose outcome is not recorded yet."""
        ready = offsets.committable()
        if not ready:
            return
        try:
            await self.consumer.commit(ready)
        except (CommitFailedError, KafkaError) as exc:
            # A rebalance took the partitions: the new owner sees these jobs again and skips
            # them, since their outcomes are recorded.
            log.warning("offset commit failed: %s", exc)

    async def _ensure_bucket(self) -> None:
        try:
            await asyncio.to_thread(self.store.ensure_bucket)
        except Exception as exc:  # noqa: BLE001 - minio and urllib3 errors alike
            raise OSError(f"bucket {self.store.settings.bucket!r}: {exc}") from exc

    async def handle(self, raw: bytes) -> None:
        try:
            render_id = messages.RenderJob.parse(raw).render_id
        except messages.MalformedMessage as exc:
            log.error("skipping a malformed job message: %s", exc)
            return
        claim = await self._call(self.status.StartRender, status_pb2.StartRenderRequest(
            render_id=render_id, worker_id=self.settings.worker_id))
        if claim is None:
            return
        render = claim.render
        started = time.perf_counter()
        request = status_pb2.FinishRenderRequest(render_id=render_id, attempt=claim.attempt)
        try:
            assets = {ref.name: await self._asset(render.template_id, ref) for ref in claim.assets}
            pdf = await asyncio.to_thread(
                render_pdf, json.loads(claim.layout_json), json.loads(claim.data_json),
                limits=self.settings.limits, assets=assets)
        except RenderError as exc:
            request.succeeded, request.error_message = False, str(exc)
        except Exception as exc:  # noqa: BLE001 - a renderer bug must fail the render, not loop
            log.exception("render %s crashed the renderer", render_id)
            request.succeeded = False
            request.error_message = f"the renderer failed: {type(exc).__name__}: {exc}"
        else:
            key = object_key(render_id, render.filename)
            await self._store(key, pdf)
            request.succeeded, request.object_key = True, key
            request.download_url = self.store.download_url(key)
        finished = await self._call(self.status.FinishRender, request)
        if finished is not None:
            self.rendered += 1
            log.info("render %s %s in %.1f ms", render_id,
                     "succeeded" if request.succeeded else "failed",
                     (time.perf_counter() - started) * 1000)

    async def _asset(self, template_id: str, ref) -> bytes:
        """An image by content hash: from the cache, else from the template service."""
        data = self.assets.get(ref.sha256)
        if data is None:
            reply = await self._call(self.templates.GetAssetData, templates_pb2.GetAssetDataRequest(
                template_id=template_id, name=ref.name))
            if reply is None:
                raise RenderError(f"asset {ref.name!r} is missing")
            data = reply.data
            self.assets[ref.sha256] = data
            while len(self.assets) > ASSET_CACHE_ENTRIES:
                self.assets.popitem(last=False)
        self.assets.move_to_end(ref.sha256)
        return data

    async def _store(self, key: str, pdf: bytes) -> None:
        # S3 errors: keep trying; the lease fences us.
        await STORAGE.call(lambda: asyncio.to_thread(self.store.put, key, pdf), f"storing {key}")

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
