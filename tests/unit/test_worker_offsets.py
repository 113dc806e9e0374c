from types import SimpleNamespace

from aiokafka.structs import TopicPartition

from services.render_worker.worker import Offsets

P0, P1 = TopicPartition("render.jobs", 0), TopicPartition("render.jobs", 1)


def message(partition: int, offset: int):
    return SimpleNamespace(topic="render.jobs", partition=partition, offset=offset)


def test_commits_never_pass_a_job_still_in_hand():
    offsets = Offsets()
    jobs = [offsets.started(message(0, n)) for n in range(5)] + [offsets.started(message(1, 7))]
    assert offsets.committable() == {}  # nothing finished: the first in hand is the start
    for n in (1, 2, 4):
        offsets.finished(jobs[n])
    # offset 0 still in hand: partition 0 stays at 0 (already the starting point, not new)
    assert offsets.committable() == {}
    offsets.finished(jobs[0])
    assert offsets.committable() == {P0: 3}  # 3 is still in hand
    offsets.finished(jobs[3])
    offsets.finished(jobs[5])
    assert offsets.committable() == {P0: 5, P1: 8}
    assert offsets.committable() == {}  # nothing new


def test_only_the_partitions_asked_for_are_committed():
    offsets = Offsets()
    for job in (offsets.started(message(0, 3)), offsets.started(message(1, 9))):
        offsets.finished(job)
    assert offsets.committable({P1}) == {P1: 10}
    assert offsets.committable() == {P0: 4}


def test_after_a_rewind_old_jobs_do_not_move_the_new_log_commits():
    """The broker lost its log: the partition restarts at 0 while a job from offset 41 of the old
    log is still in hand. Its end must not count as the end of the new log's offset 41."""
    offsets = Offsets()
    old = offsets.started(message(0, 41))
    offsets.forget({P0})
    new = [offsets.started(message(0, n)) for n in range(43)]
    for job in new[:41] + new[42:]:
        offsets.finished(job)
    offsets.finished(old)  # same offset as new[41], which is still in hand
    assert offsets.committable() == {P0: 41}
    offsets.finished(new[41])
    assert offsets.committable() == {P0: 43}


def test_a_forgotten_partition_commits_nothing_until_jobs_come_again():
    offsets = Offsets()
    job = offsets.started(message(1, 5))
    offsets.forget({P1})  # revoked
    offsets.finished(job)
    assert offsets.committable() == {}
