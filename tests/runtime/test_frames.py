"""Frame cursors over a stopped thread in every tier (runtime/frames.py): a tool thread
stops the program's thread at a safepoint, walks interpreted, native and inlined frames
with their functions, lines and values, and changes a variable of a compiled frame, which
takes effect when that frame leaves native code."""
import time

import pytest

from offramp.ir import tagref
from offramp.runtime.traps import ClientAPIError

from tests.runtime.test_handshakes import runtime_for, start_worker

# `step` has a loop of its own (a poll inside it) and is small: the jit inlines it into
# spin's compiled loop, so a stop may land in the inlined code.  spin runs until `stop` is
# set through the frame API (or for minutes otherwise).
PROGRAM = """
fun step(k) { var j = 0; while (j < 3) j = j + 1; return k + j; }
fun spin() {
  var i = 0;
  var stop = false;
  while (!stop) {
    i = step(i);
    if (i > 3000000000) stop = true;
  }
  return "stopped";
}
print spin();
"""


def sample(view):
    """(kind, function, line, source variables) of every frame, innermost first."""
    if not len(view):
        return []          # the thread has not started its program yet
    out, cursor = [], view.cursor()
    while True:
        out.append((cursor.kind, cursor.func.split(".")[-1], cursor.line, cursor.variables()))
        if not cursor.has_caller():
            return out
        cursor = cursor.next()


def wait_for(vm, wanted, seconds=90):
    """Sample the main thread until `wanted(frames)`; those frames."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        frames = vm.inspect(vm.threads.main, sample)
        if wanted(frames):
            return frames
        time.sleep(0.005)
    raise AssertionError("the wanted frames never showed")


def stop_spin(view):
    """Set spin's `stop` to true through the SSA names holding it (in whatever tier)."""
    cursor = view.cursor()
    while not cursor.func.endswith(".spin"):
        cursor = cursor.next()
    assert cursor.variables()["stop"] == tagref.FALSE
    falses = [n for n, v in cursor.values().items() if v == tagref.FALSE]
    for name in falses:
        cursor.set_value(name, tagref.TRUE)
    return cursor.kind


@pytest.mark.parametrize("tier, kinds", [
    ("interp", {"interp"}),
    ("eager", {"native", "inlined"}),
    ("jit", {"native", "inlined"})])
def test_a_tool_stops_the_loop_walks_its_frames_and_sets_a_variable(tier, kinds):
    runtime, out = runtime_for(PROGRAM, tier=tier)
    vm = runtime.vm
    worker, errors = start_worker(runtime)
    try:
        frames = wait_for(vm, lambda fs: {k for k, f, _, _ in fs if f in ("spin", "step")}
                          >= kinds)
        spin = next(f for f in frames if f[1] == "spin")
        assert spin[0] in kinds and spin[2] in (5, 6, 7)
        assert spin[3]["stop"] == tagref.FALSE
        assert spin[3]["i"] is None or tagref.is_fp(spin[3]["i"])
        if "inlined" in kinds:
            inner = frames[0]
            assert inner[:2] == ("inlined", "step") and inner[2] == 2
            assert tagref.to_fp(inner[3]["k"]) >= 0 and 0 <= tagref.to_fp(inner[3]["j"]) <= 3
            assert frames[1][:2] == ("native", "spin")
        assert vm.inspect(vm.threads.main, stop_spin) in kinds
    finally:
        worker.join(120)
    assert not worker.is_alive() and not errors
    assert out.getvalue() == "stopped\n"


def test_a_view_is_valid_only_during_its_handshake():
    runtime, out = runtime_for("print 1;", tier="interp")
    view = runtime.vm.inspect(runtime.vm.threads.main, lambda v: v)
    with pytest.raises(ClientAPIError):
        view.cursor()


DEAD_VARIABLE = """
fun work(n) {
  var dead = n * 2;
  var stop = false;
  var i = 0;
  while (!stop) { i = i + 1; if (i > 3000000000) stop = true; }
  return "stopped";
}
print work(21);
"""


@pytest.mark.parametrize("debuggable", [False, True])
def test_a_dead_variable_is_optimized_out_unless_debuggable(debuggable):
    """`dead` is never read after its declaration: compiled code keeps it in its frame
    states only with --debuggable; without, the frame API reads None ("optimized out")."""
    runtime, out = runtime_for(DEAD_VARIABLE, tier="jit", debuggable=debuggable)
    vm = runtime.vm
    worker, errors = start_worker(runtime)
    try:
        frames = wait_for(vm, lambda fs: any(k == "native" and f == "work"
                                             for k, f, _, _ in fs))
        work = next(f for f in frames if f[1] == "work")
        assert work[3]["dead"] == (tagref.from_fp(42.0) if debuggable else None)

        def stop(view):
            cursor = view.cursor()
            while not cursor.func.endswith(".work"):
                cursor = cursor.next()
            for name, value in cursor.values().items():
                if value == tagref.FALSE:
                    cursor.set_value(name, tagref.TRUE)
        vm.inspect(vm.threads.main, stop)
    finally:
        worker.join(120)
    assert not errors and out.getvalue() == "stopped\n"
