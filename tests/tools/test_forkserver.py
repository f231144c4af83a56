"""The campaign's fork server runs `offramp` as a fresh `python -m offramp` process would:
same output, exit status, signal, time limit and empty standard input."""
import signal
import subprocess
import sys

import pytest

from offramp.tools.fuzz import campaign as fuzz
from offramp.tools.fuzz.forkserver import ForkServer
from tests.conftest import REPO_ROOT
from tests.runtime.test_ir_safety import FORGED_REF_LOAD, main

PROGRAMS = {
    "prints": 'print "one"; print 1 + 2;',
    "runtime error": 'fun f() { return nil + 1; }\nprint "before";\nf();',
    "compile error": "print ;",
    "reads stdin": "print getc();",
    "exit": 'print "x"; exit(3);',
    "non-ascii": 'print "caf\u00e9 \u2603";',
}


@pytest.fixture(scope="module")
def server():
    server = ForkServer(REPO_ROOT, fuzz._child_env())
    yield server
    server.kill()


def fresh(path, options=()):
    """The same run as a new process, the way campaigns ran before the fork server."""
    done = subprocess.run([sys.executable, "-m", "offramp", "run", str(path), *options],
                          cwd=REPO_ROOT, env=fuzz._child_env(), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, encoding="utf-8")
    return done.stdout, done.stderr, done.returncode, False


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_a_forked_run_is_a_fresh_process_run(server, tmp_path, name):
    path = tmp_path / "p.lox"
    path.write_text(PROGRAMS[name], encoding="utf-8")
    assert server.run(["run", str(path), "--tier=eager"], 30, 60) == \
        fresh(path, ["--tier=eager"])


def test_a_run_over_its_cpu_time_is_stopped(server, tmp_path):
    path = tmp_path / "loop.lox"
    path.write_text("var i = 0; while (true) { i = i + 1; }")
    _, _, status, timed_out = server.run(["run", str(path), "--tier=interp"], 1, 30)
    assert timed_out and status == -signal.SIGXCPU


def test_a_run_killed_by_a_signal_reports_it_and_the_server_goes_on(server, tmp_path):
    """UNSAFE IR that loads through a forged reference crashes native code: the campaign
    must see the signal, as it would from a process of its own."""
    path = tmp_path / "wild.ir"
    path.write_text(main(FORGED_REF_LOAD, unsafe=True))
    _, _, status, timed_out = server.run(["run", str(path), "--tier=eager", "--unsafe"], 10, 30)
    assert (status, timed_out) == (-signal.SIGSEGV, False)
    prints = tmp_path / "p.lox"
    prints.write_text(PROGRAMS["prints"])
    assert server.run(["run", str(prints)], 10, 30)[:3] == ("one\n3\n", "", 0)


def test_campaigns_fork_by_default_and_a_seed_runs_through_fork_servers(tmp_path):
    args = fuzz.build_parser().parse_args(["--seeds", "3:4", "--out", str(tmp_path)])
    assert not args.no_fork_server
    campaign = fuzz.Campaign(fuzz.KINDS["lox"], ["jit"], tmp_path,
                             fork_servers=fuzz.ForkServers())
    try:
        assert fuzz.run_seed(campaign, fuzz.load(fuzz.KINDS["lox"].generator), 3) == []
    finally:
        campaign.fork_servers.kill_all()
    assert campaign.runs == {"interp": 1, "jit": 1}
