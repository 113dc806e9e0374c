"""deploy/observability's alerts evaluated by Prometheus's own rule engine (`promtool test
rules`) on synthetic series: each fires in the failure it names and stays quiet when the system
is healthy or idle. `make test` installs promtool first (tests/promtool.py, no root needed)."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from tests import promtool
from tests.unit.test_observability import RULES

NS = 'namespace="craftkit"'
ACCEPTED = f'craftkit_renders_accepted_total{{{NS},job="enqueue",pod="e1",template="invoice"}}'


def finished(status: str) -> str:
    return f'craftkit_render_transitions_total{{{NS},job="status",pod="s1",status="{status}"}}'


def evaluate(tmp_path, series: dict[str, str], alert: str, at: str) -> list[dict]:
    """The alert `alert` as firing at `at` (empty when it does not), from promtool's unit tests
    expecting none (1m samples)."""
    groups = yaml.safe_load(RULES.read_text())["spec"]["groups"]
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}))
    test = {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": [{
        "interval": "1m",
        "input_series": [{"series": s, "values": v} for s, v in series.items()],
        "alert_rule_test": [{"eval_time": at, "alertname": alert, "exp_alerts": []}]}]}
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(test))
    tool = promtool.executable()
    if tool is None:
        pytest.fail("promtool is not installed: run `make promtool` (make test does)",
                    pytrace=False)
    result = subprocess.run([tool, "test", "rules", "test.yaml"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    if result.returncode == 0:
        return []
    output = result.stdout + result.stderr
    assert "got:[" in output and f'alertname="{alert}"' in output, output
    return [{"fired": True, "output": output}]


def test_renders_accepted_with_no_worker_left_page(tmp_path):
    # Workers gone at minute 10 (their series with them): renders keep coming, none ends.
    series = {ACCEPTED: "0+2x60", finished("succeeded"): "0+2x10 20x50",
              finished("failed"): "0x60",
              f'craftkit_kafka_consumer_lag{{{NS},job="render-worker",pod="w1",group="render-workers",topic="render.jobs",partition="0"}}': "0x10"}
    assert evaluate(tmp_path, series, "CraftkitRendersNotFinishing", "40m")


def test_a_healthy_or_idle_pipeline_does_not_page(tmp_path):
    healthy = {ACCEPTED: "0+2x60", finished("succeeded"): "0+2x60", finished("failed"): "0x60"}
    assert evaluate(tmp_path, healthy, "CraftkitRendersNotFinishing", "40m") == []
    idle = {ACCEPTED: "5x60", finished("succeeded"): "5x60", finished("failed"): "0x60"}
    assert evaluate(tmp_path, idle, "CraftkitRendersNotFinishing", "40m") == []


def test_renders_failing_for_want_of_storage_raise_the_failure_ratio_alert(tmp_path):
    # S3 away from minute 5: every render ends failed; the workers record no outcome for them.
    series = {ACCEPTED: "0+6x60", finished("succeeded"): "0+6x5 30x55",
              finished("failed"): "0x5 0+6x55"}
    assert evaluate(tmp_path, series, "CraftkitRenderFailureRatioHigh", "40m")
