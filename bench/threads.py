"""Threads and safepoints, measured: time to safepoint, GC pause, lock cost, 2-thread speedup.

    python bench/threads.py [--samples N]

- time to safepoint: a tool thread (outside the VM) asks for a handshake with a VM thread
  that runs a native loop (eager), an interpreted loop, or waits in `join`; the time from
  the request until the operation runs, p50 and p99 over N requests;
- GC pause: a stop-the-world collection requested by a tool thread while two VM threads
  run (one allocating, one looping in native code), p50/p99 of the whole handshake;
- poll overhead: the same programs (a counting loop, nested loops, and the loop-heavy
  benchmarks of tests/lox/suite/benchmark) by their own clock, eager, with the native
  back-edge polls compiled in and out (`Config.loop_polls`), best of `--repeat` runs;
- lock: an uncontended `acquire(); release();` pair against an empty loop, per pair, for a
  lock biased to the running thread (plain loads and stores in native code) and for one
  whose bias another thread revoked first (the runtime's real lock);
- speedup: two threads each running the same native-bound loop against one thread
  running it twice (native code runs without the VM lock: the goal is >= 1.7x on 2 cores).
"""
import argparse
import io
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from offramp.config import Config  # noqa: E402
from offramp.lox.codegen import compile_program  # noqa: E402
from offramp.lox.parser import parse_program  # noqa: E402
from offramp.lox.runtime import LoxRuntime  # noqa: E402

SPIN = """
fun spin() { var x = 0; while (x >= 0) x = x + 1; }
fun wait() { join(spawn(spin)); }
"""


BENCHMARKS = Path(__file__).resolve().parents[1] / "tests" / "lox" / "suite" / "benchmark"
POLL_PROGRAMS = {
    "counting loop": "var t0 = clock(); var x = 0;"
                     " for (var i = 0; i < 30000000; i = i + 1) x = x + 1; print clock() - t0;",
    "nested loops": "var t0 = clock(); var x = 0; for (var i = 0; i < 3000; i = i + 1)"
                    " for (var j = 0; j < 3000; j = j + 1) x = x + j; print clock() - t0;",
}
POLL_BENCHMARKS = ("fib", "zoo", "method_call", "properties")


def runtime_for(source: str, tier: str, **options):
    script, errors = parse_program(source)
    assert not errors, errors
    config = Config(tier=tier, max_frames=64, **options)
    program = compile_program(script, profile=tier != "interp")
    return LoxRuntime(program, config, io.StringIO(), io.StringIO())


def background(runtime):
    """Run the script on an OS thread of its own (daemon: the spinning loops never end)."""
    threads = runtime.vm.threads

    def main():
        threads.bind(threads.main)
        runtime.run()
        threads.wait_for_all()
    threads.bind(None)
    worker = threading.Thread(target=main, daemon=True)
    worker.start()
    return worker


def percentiles(samples) -> str:
    samples = sorted(samples)
    p50 = statistics.median(samples)
    p99 = samples[min(len(samples) - 1, int(0.99 * len(samples)))]
    return f"p50 {p50 * 1e6:8.1f} us   p99 {p99 * 1e6:8.1f} us"


def time_to_safepoint(tier: str, script: str, target_index: int, n: int) -> str:
    runtime = runtime_for(SPIN + script, tier)
    background(runtime)
    threads = runtime.vm.threads
    while len(threads.all) <= target_index:
        time.sleep(0.001)
    time.sleep(0.2)          # let it get hot (eager: compiled at once)
    target, samples = threads.all[target_index], []
    for _ in range(n):
        start = time.perf_counter()
        threads.handshake(target, lambda t: samples.append(time.perf_counter() - start),
                          "profile")
        time.sleep(0.0005)
    return percentiles(samples)


def gc_pause(n: int) -> str:
    source = SPIN + """
class Node { init(next) { this.next = next; } }
fun churn() { while (true) { var l = nil; for (var i = 0; i < 100; i = i + 1) l = Node(l); } }
spawn(spin); spawn(churn);
"""
    runtime = runtime_for(source, "eager")
    background(runtime)
    threads, samples = runtime.vm.threads, []
    time.sleep(0.3)
    for _ in range(n):
        start = time.perf_counter()
        threads.handshake(threads.all[1], lambda t: runtime.heap.collect("bench"), "gc")
        samples.append(time.perf_counter() - start)
    return percentiles(samples)


def run_clock(source: str, tier: str = "eager", **options) -> float:
    """Seconds the program's own clock() measures (the last number it prints)."""
    runtime = runtime_for(source, tier, **options)
    runtime.run()
    runtime.vm.threads.wait_for_all()
    return float(runtime.stdout.getvalue().split()[-1])


def poll_overhead(repeat: int) -> list:
    """Per program: (name, seconds with polls, seconds without), best of `repeat`
    interleaved runs so that a slow moment of the machine hits both alike."""
    programs = dict(POLL_PROGRAMS)
    for name in POLL_BENCHMARKS:
        programs[name] = (BENCHMARKS / f"{name}.lox").read_text()
    rows = []
    for name, source in programs.items():
        best = {True: float("inf"), False: float("inf")}
        for _ in range(repeat):
            for polls in (True, False):
                best[polls] = min(best[polls], run_clock(source, loop_polls=polls))
        rows.append((name, best[True], best[False]))
    return rows


LOCK_LOOP = "var t0 = clock(); for (var i = 0; i < 200000; i = i + 1) { BODY } print clock() - t0;"
REVOKE_FIRST = "fun other() { l.acquire(); l.release(); } join(spawn(other)); "


def lock_cost(tier: str, revoked: bool) -> float:
    """Microseconds an uncontended acquire+release pair costs in `tier`, on a lock biased to
    the running thread or (revoked) on one another thread held first."""
    prefix = "var l = Lock(); " + (REVOKE_FIRST if revoked else "")
    locked = run_clock(prefix + LOCK_LOOP.replace("BODY", "l.acquire(); l.release();"), tier)
    empty = run_clock(prefix + LOCK_LOOP.replace("BODY", ""), tier)
    return (locked - empty) / 200000 * 1e6


def lock_costs(tier: str) -> str:
    biased, revoked = lock_cost(tier, False), lock_cost(tier, True)
    return f"biased {biased:.2f} us, revoked {revoked:.2f} us a pair ({tier})"


def speedup() -> str:
    """One program, so that both runs use the same compiled code: a warm-up call (its
    compilations, and the recompilation with the profiles it gathers), then `work` twice
    on the main thread, then on two threads at once; seconds by the program's clock."""
    source = ("fun work() { var x = 0; for (var i = 0; i < 100000000; i = i + 1) x = x + 1;"
              " return x; }\n"
              "work(); work();\n"
              "var t0 = clock(); work(); work(); print clock() - t0;\n"
              "var t1 = clock(); var a = spawn(work); var b = spawn(work);"
              " join(a); join(b); print clock() - t1;")
    runtime = runtime_for(source, "eager")
    runtime.run()
    runtime.vm.threads.wait_for_all()
    one, two = map(float, runtime.stdout.getvalue().split())
    return f"{one / two:.2f}x (one thread twice: {one:.2f} s, two threads: {two:.2f} s)"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    n = args.samples
    for name, polls, none in poll_overhead(args.repeat):
        print(f"poll overhead, {name + ':':24} {polls / none:.3f}x"
              f" ({polls:.3f} s with polls, {none:.3f} s without)")
    print(f"time to safepoint, native loop:       "
          f"{time_to_safepoint('eager', 'spawn(spin);', 1, n)}")
    print(f"time to safepoint, interpreted loop:  "
          f"{time_to_safepoint('interp', 'spawn(spin);', 1, n)}")
    print(f"time to safepoint, blocked in join:   "
          f"{time_to_safepoint('eager', 'spawn(wait);', 1, n)}")
    print(f"GC pause, 2 threads (eager):          {gc_pause(max(10, n // 10))}")
    print(f"uncontended Lock acquire+release:     {lock_costs('eager')}")
    print(f"                                      {lock_costs('interp')}")
    print(f"2 threads over 1, native loops:       {speedup()}")


if __name__ == "__main__":
    main()
