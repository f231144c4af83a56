"""Run the Lox benchmarks in offramp's tiers and as CPython ports, side by side, in one run.

    python bench/run.py [--only NAME ...] [--repeat N] [--tiers interp,jit] [--quick]
                        [--budget TIER=SECONDS ...]

What is measured, for `offramp run --tier=T FILE.lox` in each asked tier and for
`python bench/ports/NAME.py` (the same Python as this script):
- wall: the wall time of the whole process — Python start-up, imports, parsing, warm-up and
  LLVM compilation included;
- clock: the time the program measures itself with `clock()` and prints
  (`Benchmark.clock_lines`) — warm-up in the interpreter and LLVM compilation included,
  Python start-up and imports not.
Python's bytecode caches are allowed to exist, as they do for an installed package: the
children run without PYTHONDONTWRITEBYTECODE, and `compileall` writes the caches of offramp
and of the ports' helper module before the first round. Every process of one
benchmark runs in the same round, interleaved with the others, and the best of `--repeat`
rounds is kept, so a slow moment of the machine hits all columns alike. A process that
outlives its tier's time budget is killed and reported as `> budget`; it is not run again in
later rounds.

The ratios are `port / jit` (how many times faster than CPython offramp's jit tier is) and
`interp / jit`. Outputs are compared too: every line a program prints except its timing lines
(`Benchmark.timing_lines`) must be the same in every tier and in the port; a difference, or a
process that fails, makes the exit status 1. Speed never does.

`--quick` runs reduced sizes: `BENCHMARKS` is the one table saying, per benchmark, which
literals of its Lox source set the problem size (`Knob`) and what they become. The reduced
source is written to a temporary copy, and the port is given the same values as arguments.
"""
from __future__ import annotations

import argparse
import difflib
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
LOX_DIR = REPO_ROOT / "tests" / "lox" / "suite" / "benchmark"
PORTS_DIR = Path(__file__).resolve().parent / "ports"

PORT = "port"                       # the column of the CPython port
TIERS = ("interp", "jit", "eager")  # offramp's `--tier` choices
BASE_TIER = "jit"                   # the ratios' denominator
DEFAULT_BUDGETS = {"interp": 60.0, "jit": 600.0, "eager": 600.0, PORT: 600.0}


@dataclass(frozen=True, slots=True)
class Knob:
    """Literals in a benchmark's Lox source that set its size, with their reduced values.

    `template` is Lox text with `{}` holes (no Lox braces); filled with `full` it must occur
    exactly `occurrences` times in the checked-in source, and `--quick` refills it with
    `quick`. The port takes the values of all its benchmark's knobs, in order, as arguments.
    """
    template: str
    full: tuple[int, ...]
    quick: tuple[int, ...]
    occurrences: int = 1


@dataclass(frozen=True, slots=True)
class Benchmark:
    """One Lox benchmark: its size knobs and which output lines are timings (not compared)."""
    name: str
    knobs: tuple[Knob, ...]
    timing_lines: tuple[int, ...] = (-1,)  # indexes into the printed lines; -1 is the last
    clock_lines: tuple[int, ...] = (-1,)   # the timing lines whose sum is the program's time

    @property
    def lox_path(self) -> Path:
        return LOX_DIR / f"{self.name}.lox"

    @property
    def port_path(self) -> Path:
        return PORTS_DIR / f"{self.name}.py"


BENCHMARKS = {bench.name: bench for bench in (
    Benchmark("fib", (Knob("fib({}) == {}", (35, 9227465), (18, 2584)),)),
    Benchmark("binary_trees", (Knob("var maxDepth = {};", (14,), (6,)),)),
    Benchmark("method_call", (Knob("var n = {};", (100000,), (500,)),)),
    Benchmark("zoo", (Knob("while (sum < {})", (10000000,), (30000,)),)),
    Benchmark("invocation", (Knob("while (i < {})", (500000,), (1000,)),)),
    Benchmark("properties", (Knob("while (i < {})", (500000,), (1000,)),)),
    Benchmark("instantiation", (Knob("while (i < {})", (500000,), (1000,)),)),
    Benchmark("trees", (Knob("var tree = Tree({});", (8,), (4,)),
                        Knob("tree.walk() != {}", (122068,), (194,)),
                        Knob("i < {}; i = i + 1", (100,), (10,)))),
    # equality prints three timings, each after its label: "loop", "elapsed", "equals".
    Benchmark("equality", (Knob("while (i < {})", (10000000,), (10000,), occurrences=2),),
              timing_lines=(1, 3, 5), clock_lines=(1, 3)),
)}


def knob_values(bench: Benchmark, quick: bool) -> list[str]:
    """The port's command-line arguments: every knob's values, full or reduced."""
    return [str(v) for knob in bench.knobs for v in (knob.quick if quick else knob.full)]


def scaled_source(bench: Benchmark, source: str) -> str:
    """`source` with every knob's full values replaced by its quick ones."""
    for knob in bench.knobs:
        old, new = knob.template.format(*knob.full), knob.template.format(*knob.quick)
        found = source.count(old)
        if found != knob.occurrences:
            raise ValueError(f"{bench.name}: expected {knob.occurrences} occurrence(s) of "
                             f"{old!r} in {bench.lox_path.name}, found {found}")
        source = source.replace(old, new)
    return source


def compared_lines(bench: Benchmark, stdout: str) -> list[str]:
    """The printed lines that must agree across tiers: all but the timing lines."""
    lines = stdout.splitlines()
    timing = {i % len(lines) for i in bench.timing_lines} if lines else set()
    return [line for i, line in enumerate(lines) if i not in timing]


def program_seconds(bench: Benchmark, stdout: str) -> float | None:
    """The time the program measured itself: the sum of its clock lines, None if unreadable."""
    lines = stdout.splitlines()
    try:
        return sum(float(lines[i]) for i in bench.clock_lines)
    except (IndexError, ValueError):
        return None


def offramp_command(tier: str, lox_path: Path) -> list[str]:
    """The command line running `lox_path` in one offramp tier."""
    return [sys.executable, "-m", "offramp", "run", f"--tier={tier}", str(lox_path)]


def port_command(bench: Benchmark, quick: bool) -> list[str]:
    """The command line running the CPython port at the same size as the Lox program."""
    return [sys.executable, str(bench.port_path), *knob_values(bench, quick)]


@dataclass(slots=True)
class Run:
    """One process: its wall time, or why there is none ('timeout', 'error')."""
    status: str                      # 'ok', 'timeout' or 'error'
    seconds: float | None = None
    stdout: str = ""
    detail: str = ""                 # for 'error': exit status and the end of stderr
    clock: float | None = None       # what the program measured itself (program_seconds)


def child_environment() -> dict:
    """The environment of measured processes: UTF-8, and bytecode caches allowed."""
    env = dict(os.environ, PYTHONUTF8="1", PYTHONIOENCODING="utf-8")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run_process(argv: list[str], budget: float, bench: Benchmark | None = None) -> Run:
    """Run `argv` from the repository root, timing its whole life; kill it past `budget` s."""
    env = child_environment()
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, encoding="utf-8",
                            errors="backslashreplace")
    try:
        stdout, stderr = proc.communicate(timeout=budget)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return Run("timeout")
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        tail = " | ".join(stderr.strip().splitlines()[-3:])
        return Run("error", stdout=stdout, detail=f"exit {proc.returncode}: {tail}")
    return Run("ok", seconds, stdout, clock=program_seconds(bench, stdout) if bench else None)


@dataclass(slots=True)
class Result:
    """The best run of each column of one benchmark, over all rounds."""
    bench: Benchmark
    commands: dict[str, list[str]]
    best: dict[str, Run] = field(default_factory=dict)
    best_clock: dict[str, float] = field(default_factory=dict)

    def record(self, column: str, run: Run) -> None:
        """Keep `run` if it is the column's first or its fastest so far (wall and clock apart)."""
        old = self.best.get(column)
        if old is None or (run.status == "ok" and old.status == "ok"
                           and run.seconds < old.seconds):
            self.best[column] = run
        if run.clock is not None:
            self.best_clock[column] = min(run.clock, self.best_clock.get(column, run.clock))

    def finished(self, column: str) -> bool:
        """Whether the column needs no more rounds (it failed or ran out of budget)."""
        run = self.best.get(column)
        return run is not None and run.status != "ok"

    def mismatches(self) -> list[tuple[str, str, list[str], list[str]]]:
        """(reference, column, expected, got) for each column whose output differs.

        The interpreter is the oracle where it finished; otherwise the port is.
        """
        done = {c: compared_lines(self.bench, r.stdout)
                for c, r in self.best.items() if r.status == "ok"}
        reference = next((c for c in ("interp", PORT) if c in done), None)
        if reference is None:
            return []
        return [(reference, c, done[reference], lines) for c, lines in done.items()
                if lines != done[reference]]


def measure(benches: list[Benchmark], tiers: list[str], quick: bool, repeat: int,
            budgets: dict[str, float], workdir: Path, progress) -> list[Result]:
    """Run every benchmark in the port and each tier, `repeat` rounds, interleaved."""
    results = []
    for bench in benches:
        lox_path = bench.lox_path
        if quick:
            lox_path = workdir / lox_path.name
            lox_path.write_text(scaled_source(bench, bench.lox_path.read_text()))
        commands = {PORT: port_command(bench, quick)}
        commands.update((tier, offramp_command(tier, lox_path)) for tier in tiers)
        results.append(Result(bench, commands))
    columns = [PORT, *tiers]
    progress("writing bytecode caches")
    write_bytecode_caches()
    for round_no in range(repeat):
        # Rotate the order each round, so no column always runs right after another.
        order = columns[round_no % len(columns):] + columns[:round_no % len(columns)]
        for result in results:
            for column in order:
                if result.finished(column):
                    continue
                progress(f"round {round_no + 1}/{repeat}: {result.bench.name} {column}")
                result.record(column, run_process(result.commands[column], budgets[column],
                                                  result.bench))
    return results


def write_bytecode_caches() -> None:
    """Compile offramp (every module: its tiers are imported lazily) and the ports' helper
    module to bytecode caches, untimed, as installing a package does.  (A script run as
    `__main__` never uses a cache, so the ports themselves need none.)"""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO_ROOT / "offramp"),
                    str(PORTS_DIR)], cwd=REPO_ROOT, env=child_environment(),
                   capture_output=True, timeout=300)


def seconds_cell(run: Run | None, budget: float) -> str:
    """A column's time as the table shows it."""
    if run is None:
        return "-"
    if run.status == "timeout":
        return f"> {budget:g}"
    if run.status == "error":
        return "error"
    return f"{run.seconds:.2f}"


def clock_cell(result: Result, column: str) -> str:
    """A column's best clock() time as the table shows it."""
    seconds = result.best_clock.get(column)
    return "-" if seconds is None else f"{seconds:.3f}"


def clock_ratio_cell(result: Result, column: str) -> str:
    """`column / jit` of the programs' own clock() times, as "N.NNx"."""
    top, base = result.best_clock.get(column), result.best_clock.get(BASE_TIER)
    if top is None or not base:
        return "-"
    return f"{top / base:.2f}x"


def ratio_cell(result: Result, column: str, budgets: dict[str, float]) -> str:
    """`column / jit` as "N.NNx"; a bound ("> " or "< ") where one side ran out of budget."""
    top, base = result.best.get(column), result.best.get(BASE_TIER)
    if top is None or base is None or "error" in (top.status, base.status):
        return "-"
    if top.status == "timeout" and base.status == "timeout":
        return "?"
    if top.status == "timeout":
        return f"> {budgets[column] / base.seconds:.2f}x"
    if base.status == "timeout":
        return f"< {top.seconds / budgets[BASE_TIER]:.2f}x"
    return f"{top.seconds / base.seconds:.2f}x"


def output_cell(result: Result) -> str:
    """'same' when every finished column printed the same lines, else who differs."""
    bad = sorted({column for _, column, _, _ in result.mismatches()})
    failed = sorted(c for c, r in result.best.items() if r.status == "error")
    notes = [f"DIFFERS: {', '.join(bad)}"] if bad else []
    notes += [f"FAILED: {', '.join(failed)}"] if failed else []
    return "; ".join(notes) or "same"


def table_rows(results: list[Result], tiers: list[str],
               budgets: dict[str, float]) -> tuple[list[str], list[list[str]]]:
    """The header and the rows of the result table."""
    columns = [PORT, *tiers]
    ratio_columns = [c for c in (PORT, *tiers) if c != BASE_TIER] if BASE_TIER in tiers else []
    header = (["benchmark"] + [f"{c} wall" for c in columns]
              + [f"{c}/{BASE_TIER} wall" for c in ratio_columns]
              + [f"{c} clock" for c in columns]
              + [f"{c}/{BASE_TIER} clock" for c in ratio_columns] + ["output"])
    rows = [[r.bench.name]
            + [seconds_cell(r.best.get(c), budgets[c]) for c in columns]
            + [ratio_cell(r, c, budgets) for c in ratio_columns]
            + [clock_cell(r, c) for c in columns]
            + [clock_ratio_cell(r, c) for c in ratio_columns]
            + [output_cell(r)] for r in results]
    return header, rows


def print_table(title: str, header: list[str], rows: list[list[str]]) -> None:
    """Print the table with rich when it is installed, as aligned plain text otherwise."""
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
        print(title)
        for row in [header, ["-" * w for w in widths], *rows]:
            cells = ([row[0].ljust(widths[0])]
                     + [c.rjust(w) for c, w in zip(row[1:-1], widths[1:-1])] + [row[-1]])
            print("  ".join(cells).rstrip())
        return
    table = Table(title=title, title_justify="left")
    for i, name in enumerate(header):
        table.add_column(name, justify="left" if i in (0, len(header) - 1) else "right",
                         no_wrap=True)
    for row in rows:
        table.add_row(*row)
    Console(width=max(120, Console().width)).print(table)


def print_problems(results: list[Result]) -> None:
    """Print a diff for every output that differs and the error of every failed process."""
    for result in results:
        for reference, column, expected, got in result.mismatches():
            print(f"\n{result.bench.name}: {column} printed other lines than {reference} "
                  "(timing lines left out):")
            print("\n".join(difflib.unified_diff(expected, got, reference, column, lineterm="")))
        for column, run in result.best.items():
            if run.status == "error":
                print(f"\n{result.bench.name}: {column} failed ({run.detail})\n"
                      f"  command: {' '.join(result.commands[column])}")


def parse_budget(text: str) -> tuple[str, float]:
    """Parse `--budget interp=60` into ('interp', 60.0)."""
    column, _, seconds = text.partition("=")
    if column not in DEFAULT_BUDGETS or not seconds:
        raise argparse.ArgumentTypeError(
            f"expected TIER=SECONDS with TIER one of {', '.join(DEFAULT_BUDGETS)}, got {text!r}")
    try:
        return column, float(seconds)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {seconds!r}") from None


def parse_tiers(text: str) -> list[str]:
    """Parse `--tiers interp,jit` into a list of offramp tiers."""
    tiers = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [t for t in tiers if t not in TIERS]
    if unknown or not tiers:
        raise argparse.ArgumentTypeError(
            f"expected a comma-separated list of {', '.join(TIERS)}, got {text!r}")
    return tiers


def build_parser() -> argparse.ArgumentParser:
    """The runner's command line."""
    parser = argparse.ArgumentParser(
        prog="bench/run.py", description="Time Lox benchmarks in offramp's tiers against "
        "CPython ports, side by side, and check that their outputs agree.")
    parser.add_argument("--only", nargs="+", choices=list(BENCHMARKS), metavar="NAME",
                        help=f"run only these benchmarks (of: {', '.join(BENCHMARKS)})")
    parser.add_argument("--repeat", type=int, default=None, metavar="N",
                        help="rounds to run; the best time of each column is kept "
                             "(default 3, or 1 with --quick)")
    parser.add_argument("--tiers", type=parse_tiers, default=["interp", "jit"],
                        help="offramp tiers to run, comma-separated (default interp,jit); "
                             "the port always runs")
    parser.add_argument("--quick", action="store_true",
                        help="reduced problem sizes (BENCHMARKS' quick knob values)")
    parser.add_argument("--budget", type=parse_budget, action="append", default=[],
                        metavar="TIER=SECONDS",
                        help="wall-time limit of one process of TIER (interp, jit, eager or "
                             "port); defaults: " + ", ".join(
                                 f"{c}={s:g}" for c, s in DEFAULT_BUDGETS.items()))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Measure, print the table and any problems; 1 if an output differs or a run failed."""
    args = build_parser().parse_args(argv)
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    if args.repeat < 1:
        build_parser().error("--repeat must be at least 1")
    budgets = {**DEFAULT_BUDGETS, **dict(args.budget)}
    benches = [BENCHMARKS[name] for name in (args.only or BENCHMARKS)]
    progress = ((lambda text: print(text, file=sys.stderr, flush=True))
                if sys.stderr.isatty() else (lambda text: None))
    with tempfile.TemporaryDirectory(prefix="offramp-bench-") as workdir:
        results = measure(benches, args.tiers, args.quick, args.repeat, budgets,
                          Path(workdir), progress)
    title = (f"{'quick' if args.quick else 'full'} sizes, seconds (wall: whole processes; "
             f"clock: what the program measured), best of {args.repeat}; "
             f"Python {sys.version.split()[0]}")
    print_table(title, *table_rows(results, args.tiers, budgets))
    print(f"{PORT}/{BASE_TIER}: how many times faster than CPython offramp's {BASE_TIER} "
          f"tier is; interp/{BASE_TIER}: how much the {BASE_TIER} tier gains over "
          "the interpreter. Wall includes Python start-up and imports; clock does not, "
          "but includes warm-up and compilation.")
    print_problems(results)
    ok = all(not r.mismatches() and all(run.status != "error" for run in r.best.values())
             for r in results)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
