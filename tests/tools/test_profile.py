"""`offramp profile` (tools/profile): speedscope JSON with the schema's fields, inlined frames
marked, the hottest frames where the time goes, collapsed stacks, an SVG flame graph,
samples by signal inside native code, and the program's output and exit status untouched.
Also `--stats`' count of deopts that replayed from an earlier guard's state (issue 12.5).

The programs are small (a few tenths of a second each) so the file stays fast."""
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

FIB = """
fun fib(n) {
  if (n < 2) return n;
  return fib(n - 2) + fib(n - 1);
}
print fib(27);
"""

# `step` is small and called from a hot loop: compiled code inlines it (with its own loop).
INLINED = """
fun step(k) { var j = 0; while (j < 3) j = j + 1; return k + j; }
var x = 0;
for (var i = 0; i < 4000000; i = i + 1) { x = step(x); }
print x > 0;
"""

# The methods do the work (a short loop each), inlined into the script's compiled loop.
METHODS = """
class Counter {
  init(s) { this.state = s; }
  value() { var j = 0; while (j < 2) j = j + 1; return this.state + j; }
  activate(k) { var j = 0; while (j < 3) j = j + 1; this.state = k + j; return this; }
}
var t = Counter(1);
var v = 0;
for (var i = 0; i < 400000; i = i + 1) { v = t.activate(i).value(); }
print v > 0;
"""


def profile(tmp_path, source: str, *args):
    """Run `offramp profile` on `source`; (completed process, path of -o or None)."""
    program = tmp_path / "p.lox"
    program.write_text(source)
    env = {**os.environ, "PYTHONPATH": ROOT}
    return subprocess.run([sys.executable, "-m", "offramp", "profile", *args, str(program)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)


def speedscope(tmp_path, source: str, *args) -> dict:
    done = profile(tmp_path, source, "-o", "out.json", *args)
    assert done.returncode == 0, done.stderr
    return json.loads((tmp_path / "out.json").read_text()), done


def leaf_weights(data: dict) -> Counter:
    """Self weight by frame name over every profile."""
    names = [f["name"] for f in data["shared"]["frames"]]
    weights = Counter()
    for p in data["profiles"]:
        for stack, weight in zip(p["samples"], p["weights"]):
            weights[names[stack[-1]]] += weight
    return weights


def guest_leaves(data: dict) -> list:
    """(frame, self weight) of guest frames, hottest first (the time the runtime spent
    compiling, with no safepoint, left out: these programs are short)."""
    return [(n, w) for n, w in leaf_weights(data).most_common()
            if not n.startswith("(runtime")]


def test_speedscope_has_the_schema_fields_and_fib_is_hottest(tmp_path):
    data, done = speedscope(tmp_path, FIB)
    assert done.stdout == "196418\n"
    assert data["$schema"] == "https://www.speedscope.app/file-format-schema.json"
    frames = data["shared"]["frames"]
    assert frames and all(isinstance(f["name"], str) for f in frames)
    for p in data["profiles"]:
        assert p["type"] == "sampled" and p["unit"] == "milliseconds"
        assert p["startValue"] == 0 and p["endValue"] == pytest.approx(sum(p["weights"]),
                                                                       abs=0.01)
        assert len(p["samples"]) == len(p["weights"]) > 3
        assert all(0 <= i < len(frames) for s in p["samples"] for i in s)
    assert guest_leaves(data)[0][0].startswith("fib")


def test_async_samples_land_in_native_code_and_inlined_frames_are_marked(tmp_path):
    data, done = speedscope(tmp_path, INLINED, "--mode=async")
    assert done.stdout == "true\n"
    names = {f["name"] for f in data["shared"]["frames"]}
    assert "step [inlined]" in names and "script [native]" in names
    by_signal = int(done.stderr.split("(")[1].split()[0])
    assert by_signal > 5, done.stderr
    assert guest_leaves(data)[0][0] in ("step [inlined]", "script [native]")


def test_the_methods_are_hottest_by_signal(tmp_path):
    data, done = speedscope(tmp_path, METHODS, "--mode=async")
    guest = guest_leaves(data)
    assert guest[0][0].split(" ")[0] in ("activate", "value"), guest


def test_collapsed_stacks_and_svg(tmp_path):
    done = profile(tmp_path, FIB, "-o", "out.folded")
    lines = (tmp_path / "out.folded").read_text().splitlines()
    assert lines and all(line.rsplit(" ", 1)[1].isdigit() for line in lines)
    assert any(line.startswith("thread main;script;") for line in lines)
    done = profile(tmp_path, FIB, "--format=svg", "-o", "graph.out")
    assert done.returncode == 0
    root = ET.parse(tmp_path / "graph.out").getroot()
    assert root.tag.endswith("svg")
    titles = [t.text for t in root.iter("{http://www.w3.org/2000/svg}title")]
    assert any(t.startswith("fib") for t in titles)


def test_compare_mode_reports_the_safepoint_bias(tmp_path):
    done = profile(tmp_path, FIB, "--mode=compare")
    assert done.returncode == 0 and done.stdout == "196418\n"
    assert "safepoint bias over" in done.stderr and "time to safepoint" in done.stderr


def test_the_program_keeps_its_output_and_exit_status(tmp_path):
    done = profile(tmp_path, 'print "a"; exit(3);')
    assert (done.returncode, done.stdout) == (3, "a\n")
    done = profile(tmp_path, 'print "b"; print -nil;', "--tier=interp")
    assert (done.returncode, done.stdout) == (70, "b\n")
    assert "Operand must be a number." in done.stderr


@pytest.mark.parametrize("args, message", [
    (["--mode=async", "--tier=interp"], "--mode=async"),
    (["--rate=0"], "--rate"),
    (["--format=svg"], "give -o"),
])
def test_misuse_is_a_usage_error(tmp_path, args, message):
    done = profile(tmp_path, FIB, *args)
    assert done.returncode == 64 and message in done.stderr and not done.stdout


REPLAY = """
fun f(a, b) {
  var x = b + b;
  var y = a + a;
  return y;
}
var s = 0;
for (var i = 0; i < 3000; i = i + 1) s = s + f(i, i);
print s;
print f(FIRST, SECOND);
"""


@pytest.mark.parametrize("args, replays", [('"s", 1', 1), ('1, "s"', 0)])
def test_stats_count_deopts_that_replay_from_an_earlier_guards_state(tmp_path, args,
                                                                      replays):
    """`a + a`'s guard shares `b + b`'s state (nothing observable between them): when it
    fails, the interpreter resumes at `b + b` and replays it; when `b + b`'s own guard
    fails, nothing is replayed."""
    first, second = args.split(", ")
    program = tmp_path / "r.lox"
    program.write_text(REPLAY.replace("FIRST", first).replace("SECOND", second))
    env = {**os.environ, "PYTHONPATH": ROOT}
    done = subprocess.run([sys.executable, "-m", "offramp", "run", "--stats", str(program)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0
    line = next(x for x in done.stderr.splitlines() if x.startswith("deopt replays"))
    assert line.endswith(f": {replays}")


# Two threads in native code most of the time, and the main thread waiting in `join`.
THREADED_FIB = """
fun fib(n) { if (n < 2) return n; return fib(n - 2) + fib(n - 1); }
fun work() { var s = 0; for (var i = 0; i < 12; i = i + 1) s = s + fib(23); return s; }
var a = spawn(work);
var b = spawn(work);
print join(a) + join(b);
"""


def profile_in_process(source: str, **config):
    """Run `source` under the safepoint-mode profiler in this process (with `config`):
    (report, program output, collapsed stacks)."""
    import io
    from types import SimpleNamespace

    from offramp.config import Config
    from offramp.tools.profile import run_profile
    out, err, stacks = io.StringIO(), io.StringIO(), io.StringIO()
    options = SimpleNamespace(rate=1000.0, mode="safepoint", format="collapsed", top=10)
    status = run_profile(source, "p.lox", Config(**config), options, out, err, stacks)
    assert status == 0, err.getvalue()
    return err.getvalue(), out.getvalue(), stacks.getvalue().splitlines()


def recorded_natively(report: str) -> tuple:
    """(samples, of them recorded by native code's polls) from the report's first line."""
    first = report.splitlines()[0]
    return int(first.split()[2]), int(first.split(", ")[2].split()[0])


def test_native_polls_record_safepoint_samples_without_the_runtime(tmp_path):
    """Samples of a thread in native code are taken by its polls' front in native code:
    nearly all of fib's, and each has the native fib frames over the script.  The time
    the runtime spent compiling fib before the next poll is labelled so."""
    done = profile(tmp_path, FIB.replace("27", "29"), "-o", "out.folded")
    assert done.returncode == 0 and done.stdout == "514229\n"
    samples, natively = recorded_natively(done.stderr)
    assert natively > samples / 2, done.stderr
    stacks = [line.rsplit(" ", 1)[0].split(";")
              for line in (tmp_path / "out.folded").read_text().splitlines()]
    assert any(s[-1] == "(runtime: compiling fib)" for s in stacks), stacks
    fib_stacks = [s for s in stacks if s[-1].startswith("fib")]
    assert fib_stacks and all(s[:3] == ["thread main", "script", s[2]] and
                              all(f.startswith("fib") for f in s[2:]) for s in fib_stacks)


@pytest.mark.parametrize("fib, config", [(23, {}), (17, {"handshake_stress": 1000})])
def test_threads_in_native_code_are_sampled_at_their_polls(fib, config):
    """The workers' polls record samples of both (under handshake stress every poll also
    enters the runtime, slowly: the front records, then passes the poll on)."""
    report, out, stacks = profile_in_process(THREADED_FIB.replace("23", str(fib)), **config)
    assert out == {23: "687768\n", 17: "38328\n"}[fib]
    samples, natively = recorded_natively(report)
    assert natively > 0 and samples > 0, report
    sampled = {line.split(";")[0] for line in stacks if ";work;fib" in line}
    assert len(sampled) >= (2 if fib == 23 else 1), stacks     # the stress run is short
    assert "thread main" not in sampled, stacks
