"""The Lox conformance suite (tests/lox/suite), run through the `offramp` command in every mode.

Each suite file states its expectations in comments; `parse_expectations` reads them with
the regular expressions of the book's own test runner (see tests/lox/suite/README.md), using
the clox variants of `[c line N]` errors.  `check` then compares one run against them, as the
book's runner does: exit status, stdout exactly, compile errors as a set (every stderr line
one of them, every one present), a runtime error's message and the line of its first stack
trace entry.

A mode is a row of MODES: a name and the extra `offramp run` options.  A later tier adds a
row ("eager": ["--tier=eager"], "deopt-stress": ["--tier=eager", "--deopt-stress=1"]) and
the whole suite runs in it too.  GC stress runs a fixed sample by default and the rest with
`--run-slow`.
"""
import difflib
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SUITE = REPO_ROOT / "tests" / "lox" / "suite"

# Early-chapter tests (token dumps, bare expressions) and benchmarks are not conformance tests.
OUT_OF_SCOPE_DIRS = ("scanning", "expressions", "benchmark")
OUT_OF_SCOPE_FILES: frozenset[str] = frozenset()
IN_SCOPE_COUNT = 246

MODES = {
    "interp": ["--tier=interp"],
    "eager": ["--tier=eager"],
    "deopt-stress": ["--tier=eager", "--deopt-stress=1"],
    "jit": ["--tier=jit", "--verify-ir"],
}

GC_STRESS_ARGS = ["--tier=interp", "--gc-stress"]
# GC roots in native frames come from stack maps: the same sample, compiled eagerly.
NATIVE_GC_STRESS_ARGS = ["--tier=eager", "--gc-stress"]
# Stress modes run on the GC-stress sample (the rest with --run-slow). Handshake stress:
# an empty handshake at every poll and a stop-the-world collection at every allocation, in
# both tiers. Inline-cache stress: every IC miss resets every cache (eager: code compiled
# before its profile is full of caches), with deopt-stress on every 3rd site.
# Assumption stress: every 2nd runtime entry of native code breaks every assumption held.
# Breakpoint stress: a stop on every line, each local set to itself at each stop.
SAMPLED_STRESS_MODES = {
    "interp-handshake": ["--tier=interp", "--handshake-stress=1"],
    "eager-handshake": ["--tier=eager", "--handshake-stress=1"],
    "eager-ic": ["--tier=eager", "--ic-stress=1", "--deopt-stress=3"],
    "eager-assume": ["--tier=eager", "--assumption-stress=2"],
    "eager-break": ["--tier=eager", "--breakpoint-stress=1"],
}
GC_STRESS_SAMPLE_SIZE = 40
TIMEOUT_SECONDS = 60
GC_STRESS_TIMEOUT_SECONDS = 300

EX_OK, EX_DATAERR, EX_SOFTWARE = 0, 65, 70

# The book's runner (tool/bin/test.dart), pattern for pattern.
EXPECTED_OUTPUT = re.compile(r"// expect: ?(.*)")
EXPECTED_ERROR = re.compile(r"// (Error.*)")
ERROR_LINE = re.compile(r"// \[((java|c) )?line (\d+)\] (Error.*)")
EXPECTED_RUNTIME_ERROR = re.compile(r"// expect runtime error: (.+)")
SYNTAX_ERROR = re.compile(r"\[.*line (\d+)\] (Error.+)")
STACK_TRACE = re.compile(r"\[line (\d+)\]")
NON_TEST = re.compile(r"// nontest")
IMPLEMENTATION = "c"  # offramp reports errors the way clox does
MAX_LISTED = 10       # unexpected stderr lines named one by one in a failure report


@dataclass(frozen=True, slots=True)
class Expectation:
    """What one suite file expects from a run."""

    is_test: bool = True
    stdout: tuple = ()                 # lines, in order
    compile_errors: tuple = ()         # "[N] Error ..." in file order; compared as a set
    runtime_error: str | None = None
    runtime_error_line: int | None = None

    @property
    def exit_code(self) -> int:
        if self.runtime_error is not None:
            return EX_SOFTWARE
        return EX_DATAERR if self.compile_errors else EX_OK


def parse_expectations(text: str) -> Expectation:
    """Read a suite file's expectation comments, exactly as the book's runner does."""
    stdout, errors = [], []
    runtime_error = runtime_error_line = None
    for number, line in enumerate(text.splitlines(), start=1):
        if NON_TEST.search(line):
            return Expectation(is_test=False)
        if match := EXPECTED_OUTPUT.search(line):
            stdout.append(match[1])
        elif match := EXPECTED_ERROR.search(line):
            errors.append(f"[{number}] {match[1]}")
        elif match := ERROR_LINE.search(line):
            if match[2] in (None, IMPLEMENTATION):
                errors.append(f"[{match[3]}] {match[4]}")
        elif match := EXPECTED_RUNTIME_ERROR.search(line):
            runtime_error, runtime_error_line = match[1], number
    if errors and runtime_error is not None:
        raise ValueError("a test cannot expect both compile and runtime errors")
    return Expectation(True, tuple(stdout), tuple(errors), runtime_error, runtime_error_line)


def check(expect: Expectation, exit_code: int, stdout: str, stderr: str) -> list:
    """The ways one run differs from what the file expects (empty: it conforms)."""
    problems = []
    if exit_code != expect.exit_code:
        problems.append(f"exit code: expected {expect.exit_code}, got {exit_code}")
    if stdout != "".join(line + "\n" for line in expect.stdout):
        problems.append("stdout differs (diff below)")
    error_lines = stderr.splitlines()
    if expect.runtime_error is not None:
        problems += _runtime_error_problems(expect, error_lines)
    else:
        problems += _compile_error_problems(expect, error_lines)
    return problems


def _runtime_error_problems(expect: Expectation, error_lines: list) -> list:
    """First stderr line is the message; the first stack trace line names the right line."""
    if len(error_lines) < 2:
        return [f"expected runtime error {expect.runtime_error!r} and a stack trace, "
                f"got {len(error_lines)} stderr line(s)"]
    problems = []
    if error_lines[0] != expect.runtime_error:
        problems.append(f"runtime error: expected {expect.runtime_error!r}, "
                        f"got {error_lines[0]!r}")
    traced = next((m for m in map(STACK_TRACE.search, error_lines[1:]) if m), None)
    if traced is None:
        problems.append("no stack trace line with [line N] after the runtime error")
    elif int(traced[1]) != expect.runtime_error_line:
        problems.append(f"runtime error on line {traced[1]}, "
                        f"expected line {expect.runtime_error_line}")
    return problems


def _compile_error_problems(expect: Expectation, error_lines: list) -> list:
    """Every stderr line is an expected compile error, and every expected one appears."""
    unexpected, found = [], set()
    for line in error_lines:
        match = SYNTAX_ERROR.search(line)
        if match and f"[{match[1]}] {match[2]}" in expect.compile_errors:
            found.add(f"[{match[1]}] {match[2]}")
        elif match:
            unexpected.append(f"unexpected compile error: {line!r}")
        elif line != "":
            unexpected.append(f"unexpected stderr line: {line!r}")
    if len(unexpected) > MAX_LISTED:  # the whole stderr is in the report anyway
        unexpected[MAX_LISTED:] = [f"... and {len(unexpected) - MAX_LISTED} more"]
    return unexpected + [f"missing expected error: {error}"
                         for error in sorted(set(expect.compile_errors) - found)]


def suite_files() -> list:
    """The in-scope suite files, as paths relative to the suite root, sorted."""
    files = []
    for path in sorted(SUITE.rglob("*.lox")):
        relative = path.relative_to(SUITE).as_posix()
        if relative.split("/")[0] in OUT_OF_SCOPE_DIRS or relative in OUT_OF_SCOPE_FILES:
            continue
        files.append(relative)
    return files


def gc_stress_sample() -> list:
    """A fixed, evenly spread sample of the suite for the default GC-stress run."""
    files = suite_files()
    stride = max(1, len(files) // GC_STRESS_SAMPLE_SIZE)
    return files[::stride][:GC_STRESS_SAMPLE_SIZE]


def report(relative: str, args: list, expect: Expectation, problems: list,
           stdout: str, stderr: str) -> str:
    """A failure message a person can read: what was run, what differed, the diffs."""
    expected_stdout = [line + "\n" for line in expect.stdout]
    stdout_diff = difflib.unified_diff(expected_stdout, stdout.splitlines(keepends=True),
                                       "expected stdout", "actual stdout")
    parts = [f"{relative}: `offramp run {' '.join(args)}` does not conform",
             *(f"  - {problem}" for problem in problems),
             "--- stdout diff (expected -> actual) ---",
             "".join(stdout_diff).rstrip("\n") or "(same)"]
    if expect.runtime_error is not None:
        parts.append(f"--- expected stderr: {expect.runtime_error!r}, then a "
                     f"[line {expect.runtime_error_line}] trace line ---")
    else:
        parts.append("--- expected stderr (any order) ---")
        parts.append("\n".join(error.replace("[", "[line ", 1) for error in expect.compile_errors)
                     or "(empty)")
    parts.append("--- actual stderr ---")
    parts.append(stderr.rstrip("\n") or "(empty)")
    return "\n".join(parts)


def assert_conforms(relative: str, options: list, run_offramp, timeout: float) -> None:
    """Run one suite file with `options` and fail with a readable report if it differs."""
    expect = parse_expectations((SUITE / relative).read_text(encoding="utf-8"))
    if not expect.is_test:
        pytest.skip("marked // nontest")
    path = (SUITE / relative).relative_to(REPO_ROOT).as_posix()
    args = ["run", *options, path]
    try:
        result = run_offramp(args, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{relative}: `offramp {' '.join(args)}` ran longer than {timeout} s",
                    pytrace=False)
    problems = check(expect, result.returncode, result.stdout, result.stderr)
    if problems:
        pytest.fail(report(relative, args[1:], expect, problems, result.stdout, result.stderr),
                    pytrace=False)


def test_scope_is_the_246_conformance_files_clox_runs():
    assert len(suite_files()) == IN_SCOPE_COUNT


def test_expectation_counts_match_the_suite_readme():
    """Parsing every file (in scope or not) finds the totals the suite README states."""
    parsed = [parse_expectations(p.read_text(encoding="utf-8")) for p in SUITE.rglob("*.lox")]
    assert sum(len(e.stdout) for e in parsed) == 504
    assert sum(e.runtime_error is not None for e in parsed) == 62
    # 29 inline + 31 "[line N]" + the 3 "[c line N]" (the 1 "[java line N]" is not ours)
    assert sum(len(e.compile_errors) for e in parsed) == 29 + 31 + 3


@pytest.mark.parametrize(("text", "expected"), [
    ('print 1; // expect: 1\nprint "";// expect:\n',
     Expectation(stdout=("1", ""))),
    ("// [line 3] Error: Unexpected character.\n// [java line 3] Error at 'b': x\n"
     "// [c line 4] Error at end: y\nvar 1; // Error at '1': z\n",
     Expectation(compile_errors=("[3] Error: Unexpected character.", "[4] Error at end: y",
                                 "[4] Error at '1': z"))),
    ('print 1; // expect: 1\nnil(); // expect runtime error: Can only call functions.\n',
     Expectation(stdout=("1",), runtime_error="Can only call functions.",
                 runtime_error_line=2)),
    ("// nontest\nprint 1; // expect: 1\n", Expectation(is_test=False)),
])
def test_parse_expectations(text, expected):
    assert parse_expectations(text) == expected


@pytest.mark.parametrize(("exit_code", "stdout", "stderr", "conforms"), [
    (70, "1\n", "Can only call functions.\n[line 2] in script\n", True),
    (70, "1\n", "Can only call functions.\n[line 1] in script\n", False),
    (70, "1\n", "Can only call functions.\n", False),
    (70, "", "Can only call functions.\n[line 2] in script\n", False),
    (0, "1\n", "", False),
])
def test_check_runtime_error(exit_code, stdout, stderr, conforms):
    expect = parse_expectations("print 1; // expect: 1\nnil(); // expect runtime error: "
                                "Can only call functions.\n")
    assert (check(expect, exit_code, stdout, stderr) == []) == conforms


@pytest.mark.parametrize(("stderr", "conforms"), [
    ("[line 1] Error at 'a': x\n[line 2] Error: y\n", True),
    ("[line 2] Error: y\n[line 1] Error at 'a': x\n", True),
    ("[line 1] Error at 'a': x\n", False),
    ("[line 1] Error at 'a': x\n[line 2] Error: y\n[line 3] Error: z\n", False),
    ("[line 1] Error at 'a': x\n[line 2] Error: y\nTraceback (most recent call last):\n", False),
])
def test_check_compile_errors(stderr, conforms):
    expect = parse_expectations("a; // Error at 'a': x\n// Error: y\n")
    assert (check(expect, 65, "", stderr) == []) == conforms


@pytest.mark.parametrize(("mode", "relative"), [
    pytest.param(mode, relative, id=f"{mode}:{relative}")
    for mode in MODES for relative in suite_files()])
def test_lox_suite(mode, relative, run_offramp):
    assert_conforms(relative, MODES[mode], run_offramp, TIMEOUT_SECONDS)


@pytest.mark.parametrize("relative", gc_stress_sample())
def test_lox_suite_gc_stress_sample(relative, run_offramp):
    assert_conforms(relative, GC_STRESS_ARGS, run_offramp, GC_STRESS_TIMEOUT_SECONDS)


@pytest.mark.parametrize("relative", gc_stress_sample())
def test_lox_suite_native_gc_stress_sample(relative, run_offramp):
    assert_conforms(relative, NATIVE_GC_STRESS_ARGS, run_offramp, GC_STRESS_TIMEOUT_SECONDS)


@pytest.mark.slow
@pytest.mark.parametrize("relative", sorted(set(suite_files()) - set(gc_stress_sample())))
def test_lox_suite_native_gc_stress_rest(relative, run_offramp):
    assert_conforms(relative, NATIVE_GC_STRESS_ARGS, run_offramp, GC_STRESS_TIMEOUT_SECONDS)


@pytest.mark.slow
@pytest.mark.parametrize("relative", sorted(set(suite_files()) - set(gc_stress_sample())))
def test_lox_suite_gc_stress_rest(relative, run_offramp):
    assert_conforms(relative, GC_STRESS_ARGS, run_offramp, GC_STRESS_TIMEOUT_SECONDS)


@pytest.mark.parametrize("mode", sorted(SAMPLED_STRESS_MODES))
@pytest.mark.parametrize("relative", gc_stress_sample())
def test_lox_suite_stress_sample(mode, relative, run_offramp):
    assert_conforms(relative, SAMPLED_STRESS_MODES[mode], run_offramp,
                    GC_STRESS_TIMEOUT_SECONDS)


@pytest.mark.slow
@pytest.mark.parametrize("mode", sorted(SAMPLED_STRESS_MODES))
@pytest.mark.parametrize("relative", sorted(set(suite_files()) - set(gc_stress_sample())))
def test_lox_suite_stress_rest(mode, relative, run_offramp):
    assert_conforms(relative, SAMPLED_STRESS_MODES[mode], run_offramp,
                    GC_STRESS_TIMEOUT_SECONDS)

