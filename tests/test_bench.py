"""The benchmark runner and the CPython ports, at `--quick` sizes.

Each port must print the same lines (timing lines left out) as the interpreter running the
same reduced Lox program — the reduction taken from the runner's one table, `BENCHMARKS`.
Nothing here looks at how long anything took: speed is reported by `bench/run.py`, never
asserted.
"""
import importlib.util
import re
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT


def _load_runner():
    """Import bench/run.py (a script, not a package) as a module."""
    spec = importlib.util.spec_from_file_location("bench_run", REPO_ROOT / "bench" / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


bench = _load_runner()


@pytest.mark.parametrize("name", list(bench.BENCHMARKS))
def test_every_knob_matches_the_lox_source(name):
    """Each knob's full values occur in the checked-in program as often as the table says."""
    spec = bench.BENCHMARKS[name]
    reduced = bench.scaled_source(spec, spec.lox_path.read_text())
    assert reduced != spec.lox_path.read_text()


def test_every_port_and_lox_benchmark_is_in_the_table():
    """A port or a listed benchmark without the other would silently go unmeasured."""
    ports = {p.stem for p in bench.PORTS_DIR.glob("*.py")} - {"lox_builtins"}
    assert ports == set(bench.BENCHMARKS)
    assert all(spec.lox_path.exists() for spec in bench.BENCHMARKS.values())


@pytest.mark.parametrize("name", list(bench.BENCHMARKS))
def test_port_prints_what_the_interpreter_prints(name, tmp_path, run_offramp):
    """The port at quick sizes prints the interpreter's lines on the reduced Lox program."""
    spec = bench.BENCHMARKS[name]
    lox_file = tmp_path / f"{name}.lox"
    lox_file.write_text(bench.scaled_source(spec, spec.lox_path.read_text()))
    lox = run_offramp(["run", "--tier=interp", str(lox_file)])
    assert lox.returncode == 0, lox.stderr
    port = subprocess.run(bench.port_command(spec, quick=True), capture_output=True,
                          text=True, timeout=60)
    assert port.returncode == 0, port.stderr
    # Some benchmarks print only their timing: then the line count is all there is to compare.
    assert len(port.stdout.splitlines()) == len(lox.stdout.splitlines())
    assert bench.compared_lines(spec, port.stdout) == bench.compared_lines(spec, lox.stdout)


def test_compared_lines_leave_out_the_timing_lines():
    """The last line by default, and the three labelled timings of equality."""
    assert bench.compared_lines(bench.BENCHMARKS["fib"], "true\n1.5\n") == ["true"]
    equality = "loop\n0.1\nelapsed\n0.2\nequals\n0.1\n"
    assert bench.compared_lines(bench.BENCHMARKS["equality"], equality) == [
        "loop", "elapsed", "equals"]


def test_runner_quick_fib_in_the_jit_prints_a_ratio():
    """`bench/run.py --quick --only fib --tiers jit` succeeds and reports port/jit."""
    done = subprocess.run([sys.executable, "bench/run.py", "--quick", "--only", "fib",
                           "--tiers", "jit"], cwd=REPO_ROOT, capture_output=True,
                          text=True, encoding="utf-8", timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "fib" in done.stdout
    assert re.search(r"\d+\.\d\dx", done.stdout), done.stdout
    assert "same" in done.stdout


def test_a_column_that_differs_from_the_oracle_is_named():
    """The interpreter is the oracle; a column printing other lines is named in the table."""
    spec = bench.BENCHMARKS["fib"]
    result = bench.Result(spec, {})
    result.record("interp", bench.Run("ok", 1.0, "true\n0.5\n"))
    result.record("jit", bench.Run("ok", 0.5, "false\n0.1\n"))
    result.record(bench.PORT, bench.Run("ok", 2.0, "true\n0.9\n"))
    assert [(ref, col) for ref, col, _, _ in result.mismatches()] == [("interp", "jit")]
    assert bench.output_cell(result) == "DIFFERS: jit"


def test_ratio_cells_give_bounds_past_the_budget():
    """A tier killed at its budget yields a bound on the ratio, not a number."""
    budgets = dict(bench.DEFAULT_BUDGETS, interp=60.0)
    result = bench.Result(bench.BENCHMARKS["fib"], {})
    result.record("jit", bench.Run("ok", 2.0, "true\n1\n"))
    result.record("interp", bench.Run("timeout"))
    result.record(bench.PORT, bench.Run("ok", 8.0, "true\n1\n"))
    assert bench.ratio_cell(result, "interp", budgets) == "> 30.00x"
    assert bench.ratio_cell(result, bench.PORT, budgets) == "4.00x"


def test_program_seconds_sum_the_clock_lines():
    """fib's own time is its last line; equality's is its loop time plus its elapsed time."""
    assert bench.program_seconds(bench.BENCHMARKS["fib"], "true\n1.5\n") == 1.5
    equality = "loop\n0.25\nelapsed\n0.5\nequals\n0.25\n"
    assert bench.program_seconds(bench.BENCHMARKS["equality"], equality) == 0.75
    assert bench.program_seconds(bench.BENCHMARKS["fib"], "") is None


def test_clock_ratios_use_the_best_clock_of_each_column():
    """The clock ratio divides the best clock() times, independently of the wall times."""
    result = bench.Result(bench.BENCHMARKS["fib"], {})
    result.record("jit", bench.Run("ok", 2.0, "true\n0.5\n", clock=0.5))
    result.record("jit", bench.Run("ok", 1.9, "true\n0.6\n", clock=0.6))
    result.record(bench.PORT, bench.Run("ok", 3.0, "true\n2\n", clock=2.0))
    assert bench.clock_cell(result, "jit") == "0.500"
    assert bench.clock_ratio_cell(result, bench.PORT) == "4.00x"
