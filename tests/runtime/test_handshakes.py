"""Handshakes and stop-the-world (runtime/threads.py), from VM threads and from a tool's
thread outside the VM, with the target interpreted or in native code."""
import io
import threading
import time

import pytest

from offramp.config import Config
from offramp.interp.errors import VMError
from offramp.lox.codegen import compile_program
from offramp.lox.parser import parse_program
from offramp.lox.runtime import LoxRuntime
from offramp.native.engine import anchor_of
from offramp.runtime.threads import HANDSHAKE_KINDS, ThreadState

LONG_LOOP = """
fun spin(n) { var x = 0; for (var i = 0; i < n; i = i + 1) x = x + 1; return x; }
print spin(ROUNDS);
"""


def runtime_for(source: str, **config):
    script, errors = parse_program(source)
    assert not errors
    config = Config(max_frames=64, **config)
    program = compile_program(script, profile=config.tier != "interp")
    out = io.StringIO()
    return LoxRuntime(program, config, out, io.StringIO()), out


def start_worker(runtime):
    """Run the program on an OS thread of its own as the VM's main thread (the test's
    thread becomes a tool's, outside the VM); that thread and a list that gets its error."""
    threads, errors = runtime.vm.threads, []

    def main():
        threads.bind(threads.main)
        try:
            runtime.run()
            threads.wait_for_all()
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(error)
        finally:
            threads.finish(threads.main)
    threads.bind(None)
    worker = threading.Thread(target=main)
    worker.start()
    return worker, errors


@pytest.mark.parametrize("tier", ["interp", "eager"])
def test_a_tool_thread_handshakes_with_a_running_thread_at_its_poll(tier):
    rounds = 3000000 if tier == "eager" else 200000
    runtime, out = runtime_for(LONG_LOOP.replace("ROUNDS", str(rounds)), tier=tier)
    threads = runtime.vm.threads
    seen = []

    def look(target):
        seen.append((target.state, len(target.interp.frames)))

    worker, errors = start_worker(runtime)
    hows = [threads.handshake(threads.main, look, "profile") for _ in range(3)]
    worker.join(120)
    assert not errors
    assert out.getvalue() == "%g\n" % rounds
    assert len(seen) == 3
    assert any(how == "by the requester once the target parked at a poll" for how in hows)
    assert all(state in (ThreadState.PARKED, ThreadState.RUNNING) for state, _ in seen)


def test_handshakes_from_the_lock_holder_run_on_its_side_and_are_traced():
    source = """
fun wait() { var x = 0; for (var i = 0; i < 100; i = i + 1) x = x + 1; return x; }
var t = spawn(wait);
print join(t);
"""
    trace = io.StringIO()
    script, _ = parse_program(source)
    program = compile_program(script, profile=False)
    out = io.StringIO()
    config = Config(tier="interp", max_frames=64, trace=frozenset({"safepoint"}),
                    handshake_stress=2)
    runtime = LoxRuntime(program, config, out, trace)
    runtime.run()
    runtime.vm.threads.wait_for_all()
    assert out.getvalue() == "100\n"
    lines = [line for line in trace.getvalue().splitlines() if "handshake stress" in line]
    assert lines
    assert all(line.startswith("[safepoint] handshake stress -> thread ") for line in lines)
    assert any("by the requester (target" in line for line in lines)
    assert all(line.endswith(" us") for line in lines)


def test_misuse_of_handshakes_is_a_vm_error():
    runtime, _ = runtime_for("print 1;", tier="interp")
    threads = runtime.vm.threads
    with pytest.raises(VMError, match="unknown handshake kind"):
        threads.handshake(threads.main, lambda t: None, "nap")
    outside = []

    def stop():
        try:
            threads.stop_the_world(lambda: None, "gc")
        except VMError as error:
            outside.append(error)
    tool = threading.Thread(target=stop)
    tool.start()
    tool.join()
    assert outside and "does not hold the VM lock" in str(outside[0])


def test_every_collection_stops_the_world():
    runtime, out = runtime_for(
        "class A {} var n = 0; for (var i = 0; i < 50; i = i + 1) { var a = A(); n = n + 1; }"
        " print n;", tier="interp", gc_stress=True, trace=frozenset({"safepoint"}))
    trace = io.StringIO()
    runtime.vm.tracer.stream = trace
    runtime.run()
    assert out.getvalue() == "50\n"
    stops = [line for line in trace.getvalue().splitlines() if "handshake gc" in line]
    assert len(stops) >= 50
    assert "world stopped (0 other thread(s))" in stops[0]


def test_the_kinds_table_names_every_client():
    assert set(HANDSHAKE_KINDS) == {"gc", "deopt", "revoke", "debug", "profile", "patch", "watch",
                                    "stress"}


def test_code_invalidated_by_another_thread_is_left_lazily_by_the_thread_running_it():
    """A tool thread's handshake invalidates the native code a spawned thread is looping
    in (the main thread waits in join): that thread leaves it at its next poll and ends
    with the same result in the interpreter."""
    source = """
fun hot(n) { var s = 0; for (var i = 0; i < n; i = i + 1) s = s + 1; return s; }
fun work() { return hot(4000000); }
var t = spawn(work);
print join(t);
"""
    runtime, out = runtime_for(source, tier="eager", trace=frozenset({"deopt"}))
    trace = io.StringIO()
    runtime.vm.tracer.stream = trace
    threads, engine = runtime.vm.threads, runtime.vm.tiers.engine
    invalidated = []

    def invalidate_hot(target):
        for code in engine.codes:
            if "hot" in code.version.func and not code.invalid:
                engine.invalidate(code)
                invalidated.append(code)

    def hot_code_runs():
        return len(threads.all) > 1 and any("hot" in c.version.func and not c.invalid
                                            for c in engine.codes)

    worker, errors = start_worker(runtime)
    while not invalidated:   # hot's first code may be retired (compiled again once
        while not hot_code_runs():          # profiled) before the handshake runs
            assert worker.is_alive(), errors
        threads.handshake(threads.all[1], invalidate_hot, "deopt")
    worker.join(120)
    assert not errors
    assert out.getvalue() == "4e+06\n"
    assert invalidated
    assert "lazy" in trace.getvalue()


def test_a_handshake_is_deferred_past_polls_that_do_not_admit_its_kind():
    """spin's polls admit only GC: a profiler's handshake requested while the thread loops
    in spin's native code passes every one of them and runs at the first poll of other."""
    source = """
fun spin() { var x = 0; for (var i = 0; i < 300000000; i = i + 1) x = x + 1; return x; }
fun other() { var x = 0; for (var i = 0; i < 2000000; i = i + 1) x = x + 1; return x; }
fun work() { return spin() + other(); }
var t = spawn(work);
print join(t);
"""
    runtime, out = runtime_for(source, tier="jit")
    threads, engine = runtime.vm.threads, runtime.vm.tiers.engine
    spin = next(name for name in runtime.program.module.functions if name.endswith(".spin"))
    threads.set_poll_class(spin, {"gc"})
    seen = []

    def where(target):
        """The functions of the native frames where the target stopped (none when it
        stopped leaving native code), innermost first."""
        stops = [engine.site_at(anchor_of(item[1])[0]) for item in target.native.transitions
                 if item[0] == "exit"]
        seen.append([site.frames[0].desc.func if site.frames else None for site in stops])

    worker, errors = start_worker(runtime)
    while not (len(threads.all) > 1 and threads.all[1].state is ThreadState.NATIVE and
               any(c.version.func.startswith(spin) for c in engine.codes)):
        assert worker.is_alive(), errors
    time.sleep(0.2)       # spin's loop runs its final native code: no runtime calls left
    threads.handshake(threads.all[1], where, "profile")
    worker.join(120)
    assert not errors
    assert out.getvalue() == "3.02e+08\n"
    assert len(seen) == 1 and spin not in seen[0], seen   # not at one of spin's polls
    assert threads.deferred > 0
    with pytest.raises(VMError, match="unknown handshake kinds"):
        threads.set_poll_class(spin, {"nap"})
