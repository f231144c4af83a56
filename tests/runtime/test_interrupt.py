"""Ctrl-C (SIGINT) stops a running program in every tier: exit 130 within a poll, what was
printed stays printed, and no traceback — in a hot loop, in recursion with no loop, and
with threads spinning in loops (native code in parallel) or blocked while main joins."""
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO_ROOT

HOT_LOOP = """
print "start";
var i = 0;
while (true) { i = i + 1; }
"""

RECURSION = """
print "start";
fun f(n) { if (n < 1) return 1; return f(n - 1) + f(n - 1); }
print f(40);
"""

THREADS = """
fun spin() { var i = 0; while (true) { i = i + 1; } }
var l = Lock();
fun wait() { l.acquire(); }
fun blocked() { l.acquire(); join(spawn(wait)); }
var a = spawn(spin);
var b = spawn(spin);
spawn(blocked);
print "start";
join(a);
"""


def start(tmp_path, source, tier):
    """The command running `source` in `tier`, its output unbuffered so that the test sees
    "start" as soon as the program prints it."""
    path = tmp_path / "hot.lox"
    path.write_text(source)
    env = dict(os.environ, PYTHONUTF8="1", PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "offramp", "run", str(path),
                             f"--tier={tier}"], cwd=REPO_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_until_running(process):
    """Until the program has printed its first line (its loop or recursion comes next,
    compiled at once in the native tiers), and a little longer."""
    line = process.stdout.readline()
    assert line == "start\n", line
    time.sleep(0.3)
    return line


@pytest.mark.parametrize("source", [HOT_LOOP, RECURSION, THREADS],
                         ids=["loop", "recursion", "threads"])
@pytest.mark.parametrize("tier", ["interp", "jit", "eager"])
def test_sigint_stops_every_tier_with_status_130(tmp_path, source, tier):
    process = start(tmp_path, source, tier)
    try:
        seen = wait_until_running(process)
        sent = time.monotonic()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130
    assert time.monotonic() - sent < 5
    assert seen + out == "start\n"
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
