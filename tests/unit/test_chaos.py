"""make chaos's counting (bench/chaos.py), on made-up runs: each count means what the README's
"Chaos" section says."""

from __future__ import annotations

from bench.chaos import Answer, Delivery, Outage, summarize
from craftkit.v1 import render_pb2 as R

Q, G, S, F = (R.RENDER_STATUS_QUEUED, R.RENDER_STATUS_RENDERING, R.RENDER_STATUS_SUCCEEDED,
              R.RENDER_STATUS_FAILED)


def render(render_id: str, *statuses: int) -> R.Render:
    return R.Render(id=render_id, status=statuses[-1],
                    transitions=[R.Transition(status=s) for s in statuses])


def delivery(delivery_id: str, render_id: str, answered: int = 200) -> Delivery:
    return Delivery(delivery_id, "render.succeeded", render_id, True, answered)


def counts(line: str) -> dict[str, int]:
    words = line.removeprefix("chaos: ").split()
    return dict(zip(words[::2], map(int, words[1::2]), strict=True))


def test_a_clean_run_counts_nothing_lost():
    answers = [Answer(0, 1, 202, "a"), Answer(0, 1, 200, "b")]
    renders = {"a": render("a", Q, G, S), "b": render("b", Q, G, S)}
    line, bad, _ = summarize(answers, [], renders, [delivery("x", "a"), delivery("y", "b")],
                             {"a": 1, "b": 1}, [])
    assert line == ("chaos: accepted 2 succeeded 2 failed 0 stuck 0 lost-renders 0 "
                    "duplicate-pdfs 0 lost-webhooks 0 duplicate-deliveries 0 5xx 0")
    assert not bad


def test_each_kind_of_loss_is_counted_once():
    answers = [Answer(0, 1, 202, i) for i in "abcde"] + [Answer(0, 1, 500)]
    renders = {"a": render("a", Q, G, S),
               "b": render("b", Q, G, S, S),      # succeeded twice
               "c": render("c", Q, G),            # never finished
               "d": None,                         # unknown to the status service
               "e": render("e", Q, G, F)}         # failed, and its webhook never came
    deliveries = [delivery("x", "a"), delivery("x", "a"),  # one delivery id answered 2xx twice
                  delivery("y", "b"), delivery("z", "b"),  # two delivery ids for one event
                  delivery("w", "c", answered=500)]
    line, bad, _ = summarize(answers, [], renders, deliveries, {"a": 1, "b": 1}, ["d"])
    assert counts(line) == {"accepted": 5, "succeeded": 2, "failed": 1, "stuck": 1,
                            "lost-renders": 1, "duplicate-pdfs": 1, "lost-webhooks": 1,
                            "duplicate-deliveries": 2, "5xx": 1}
    assert bad


def test_two_objects_under_one_render_are_a_duplicate_pdf():
    line, bad, _ = summarize([Answer(0, 1, 202, "a")], [], {"a": render("a", Q, G, S)},
                             [delivery("x", "a")], {"a": 2}, [])
    assert counts(line)["duplicate-pdfs"] == 1 and bad


def test_503s_while_enqueue_is_down_are_expected_and_others_are_not():
    outage = Outage("enqueue", pid=1, killed=10.0, back=12.0)
    answers = [Answer(10.5, 11.0, 503),          # enqueue down
               Answer(12.1, 12.3, 503),          # back, but the gateway not yet reconnected
               Answer(12.2, 12.4, 202, "a"),     # the first accepted after it is back
               Answer(13.0, 13.1, 503),          # after that: not expected
               Answer(5.0, 5.1, 502)]
    line, _, details = summarize(answers, [outage], {"a": render("a", Q, G, S)},
                                 [delivery("x", "a")], {"a": 1}, [])
    assert counts(line)["5xx"] == 2
    assert "503 while the enqueue service was down (expected, not in 5xx): 2" in details
