from types import SimpleNamespace

from aiokafka.structs import TopicPartition

from services.render_worker.worker import Offsets


def message(partition: int, offset: int):
    return SimpleNamespace(topic="render.jobs", partition=partition, offset=offset)


def test_commits_never_pass_a_job_still_in_hand():
    offsets = Offsets()
    jobs = [message(0, n) for n in range(5)] + [message(1, 7)]
    for job in jobs:
        offsets.started(job)
    assert offsets.committable() == {}  # nothing finished: the first in hand is the start
    for n in (1, 2, 4):
        offsets.finished(jobs[n])
    p0, p1 = TopicPartition("render.jobs", 0), TopicPartition("render.jobs", 1)
    # offset 0 still in hand: partition 0 stays at 0 (already the starting point, not new)
    assert offsets.committable() == {}
    offsets.finished(jobs[0])
    assert offsets.committable() == {p0: 3}  # 3 is still in hand
    offsets.finished(jobs[3])
    offsets.finished(jobs[5])
    assert offsets.committable() == {p0: 5, p1: 8}
    assert offsets.committable() == {}  # nothing new
