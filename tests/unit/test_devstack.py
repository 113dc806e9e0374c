"""The dev stack's supervisor: a process that dies is started again after a growing delay, and
stopping leaves no process behind (its children included). Real processes, nothing else."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from craftkit import internal_auth
from craftkit.devstack import Backoff, Supervisor, wait_for, write_digests, write_tokens

SLEEPER = [sys.executable, "-c", "import time; time.sleep(300)"]


def alive(pid: int) -> bool:
    """True while pid exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def spawn(command: list[str]) -> subprocess.Popen:
    return subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL)


@pytest.fixture
def supervised():
    lines: list[str] = []
    supervisor = Supervisor(lines.append, Backoff(initial=0.05, cap=0.2, stable_after=5))
    yield supervisor, lines
    supervisor.close(timeout=5)


def test_backoff_doubles_up_to_its_cap_and_starts_over_after_a_stable_run():
    backoff = Backoff(initial=0.5, cap=30, stable_after=10)
    assert [backoff.after_exit(1) for _ in range(9)] == [0.5, 1, 2, 4, 8, 16, 30, 30, 30]
    assert backoff.after_exit(uptime=60) == 0.5
    assert backoff.after_exit(uptime=1) == 1


def test_a_killed_process_is_restarted_and_the_exit_logged(supervised):
    supervisor, lines = supervised
    first = supervisor.run("sleeper", lambda: spawn(SLEEPER), "sleeper.log").pid

    assert supervisor.kill("sleeper") == first
    wait_for(lambda: (p := supervisor.process("sleeper")) is not None and p.pid != first, 10,
             "a new sleeper")
    assert alive(supervisor.process("sleeper").pid) and not alive(first)
    assert supervisor.exits("sleeper") == [-signal.SIGKILL]
    assert "sleeper exited with exit code -9 (SIGKILL)" in lines[0]
    assert "its log: sleeper.log" in lines[0]
    assert lines[1].startswith("sleeper restarted, pid ")


def test_a_crash_loop_waits_longer_each_time(supervised):
    supervisor, lines = supervised
    supervisor.run("crasher", lambda: spawn([sys.executable, "-c", "raise SystemExit(3)"]), "-")
    wait_for(lambda: len(supervisor.exits("crasher")) >= 4, 20, "four exits")
    delays = [line.split("restarting in ")[1].split("s ")[0] for line in lines if "exited" in line]
    assert delays[:4] == ["0.05", "0.1", "0.2", "0.2"]
    assert "exit code 3 " in lines[0]


def test_a_stopped_process_stays_stopped(supervised):
    supervisor, lines = supervised
    pid = supervisor.run("sleeper", lambda: spawn(SLEEPER), "-").pid
    supervisor.stop("sleeper", signal.SIGKILL)
    assert not alive(pid)  # waited for
    assert supervisor.process("sleeper") is None and supervisor.names() == []
    supervisor.run("sleeper", lambda: spawn(SLEEPER), "-")  # the name can be used again
    assert lines == []


def test_close_stops_everything_and_what_it_forked(supervised, tmp_path):
    supervisor, _ = supervised
    child_pid = tmp_path / "child.pid"
    forks = [sys.executable, "-c", "import subprocess, sys, time; "
             f"p = subprocess.Popen({SLEEPER!r}); open({str(child_pid)!r}, 'w').write(str(p.pid)); "
             "time.sleep(300)"]
    parents = [supervisor.run(name, lambda: spawn(forks), "-").pid for name in ("a", "b")]
    wait_for(lambda: child_pid.exists() and child_pid.read_text(), 10, "the grandchild")
    grandchild = int(child_pid.read_text())

    supervisor.close(timeout=5)
    assert not any(alive(pid) for pid in parents)  # waited for
    wait_for(lambda: not alive(grandchild), 5, "the grandchild killed")


def test_a_crash_takes_what_the_process_forked_with_it(supervised, tmp_path):
    supervisor, _ = supervised
    child_pid = tmp_path / "child.pid"
    forks = [sys.executable, "-c", "import subprocess, time; "
             f"p = subprocess.Popen({SLEEPER!r}); open({str(child_pid)!r}, 'w').write(str(p.pid)); "
             "time.sleep(300)"]
    first = supervisor.run("forker", lambda: spawn(forks), "-").pid
    wait_for(lambda: child_pid.exists() and child_pid.read_text(), 10, "the grandchild")
    orphan = int(child_pid.read_text())
    child_pid.unlink()

    os.kill(first, signal.SIGKILL)
    wait_for(lambda: supervisor.exits("forker"), 10, "the supervisor noticing")
    wait_for(lambda: not alive(orphan), 10, "the orphan killed")


def test_a_closed_supervisor_can_run_again(supervised):
    supervisor, _ = supervised
    supervisor.run("sleeper", lambda: spawn(SLEEPER), "-")
    supervisor.close(timeout=5)
    first = supervisor.run("sleeper", lambda: spawn(SLEEPER), "-").pid
    os.kill(first, signal.SIGKILL)
    wait_for(lambda: (p := supervisor.process("sleeper")) is not None and p.pid != first, 10,
             "the sleeper restarted by the new watcher")


def test_dev_servers_get_digests_that_accept_the_callers_tokens_and_hold_none(tmp_path):
    """As in production: the callers' files hold tokens, the servers' directory only digests."""
    tokens = write_tokens(tmp_path / "tokens")
    digests = write_digests(tokens, tmp_path / "digests")
    accepted = internal_auth.TokenDirectory(digests)
    for identity in internal_auth.IDENTITIES:
        token = internal_auth.TokenFile(tokens / identity).token()
        assert accepted.identify(token) == identity
        assert token not in (digests / identity).read_text()
    stamp = internal_auth.file_stamp([digests / i for i in internal_auth.IDENTITIES])
    write_digests(write_tokens(tokens), digests)  # the next service's start: nothing changes
    assert internal_auth.file_stamp([digests / i for i in internal_auth.IDENTITIES]) == stamp
