"""Hostile input ends cleanly in every tier: a clox-format message and the right exit status,
never a Python traceback, a signal or a hang.

Most cases run the `offramp` command.  The deep-nesting cases use the sizes a hostile user
would (100k parentheses) where the error comes before anything runs, and sizes just inside
the limit (nesting.MAX_NESTING) where the program must run.
"""
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from offramp.config import Config
from offramp.heap import MAX_ARRAY_LENGTH
from offramp.lox.driver import run_lox
from offramp.lox.nesting import MAX_NESTING

REPO_ROOT = Path(__file__).resolve().parents[2]
TIERS = ("interp", "jit", "eager")


def offramp(tmp_path, source, *options, env=None, ulimit_kb=None, timeout=120, **popen):
    """Run `offramp run FILE OPTIONS` on `source`, optionally under `ulimit -v ulimit_kb`;
    the CompletedProcess (bytes)."""
    path = tmp_path / "hostile.lox"
    path.write_text(source, encoding="utf-8")
    command = [sys.executable, "-m", "offramp", "run", str(path), *options]
    if ulimit_kb is not None:
        command = ["bash", "-c", f'ulimit -v {ulimit_kb} && exec "$@"', "-", *command]
    return subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True,
                          timeout=timeout, **popen)


def assert_clean(result, status):
    """The exit status expected, and no sign of a Python failure on stderr."""
    err = result.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err and "internal error" not in err, err
    assert result.returncode == status, err


def nested(depth: int):
    """Sources nested `depth` levels deep, by kind of nesting.  They read locals, not globals,
    and use few literals: clox adds a constant for each global name and literal, and allows
    256 in a function (a chain of 4000 property names cannot be written)."""
    return {
        "parentheses": "print " + "(" * depth + "1" + ")" * depth + ";",
        "blocks": "{" * depth + "print 1;" + "}" * depth,
        "functions": "".join(f"fun f{i}() {{" for i in range(depth)) + "print 1;" + "}" * depth,
        "not": "print " + "!" * depth + "true;",
        "negation": "print " + "-(" * depth + "1" + ")" * depth + ";",
        "else if": "{ var x = false; if (x) print x;\n" + "else if (x) print x;\n" * (depth - 1)
                   + "else print !x; }",
        "plus chain": "{ var a = 1; print a" + " + a" * depth + "; }",
        "call chain": "fun f() { return f; } print f" + "()" * depth + ";",
        "call arguments": "{ fun f(x) { return x; } print " + "f(" * depth + "1" + ")" * depth
                          + "; }",
        "assignment chain": "{ var a; " + "a = " * depth + "1; print a; }",
    }


def run(source, tier):
    """Run `source` in this process: (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    status = run_lox(source, "test.lox", Config(tier=tier), out, err)
    return status, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("kind", list(nested(1)))
def test_nesting_too_deep_is_a_compile_error(kind):
    status, out, err = run(nested(MAX_NESTING + 10)[kind], "interp")
    assert (status, out) == (65, "")
    assert err.startswith("[line ") and err.endswith("Too much nesting.\n")


@pytest.mark.parametrize("tier", TIERS)
def test_the_hostile_sizes_are_compile_errors(tmp_path, tier):
    """100k parentheses, the size a hostile user tried; clox itself crashes on 100k `-(`."""
    result = offramp(tmp_path, nested(100_000)["parentheses"], f"--tier={tier}")
    assert_clean(result, 65)
    assert result.stderr == b"[line 1] Error at '(': Too much nesting.\n"


def test_a_chain_of_property_names_past_the_limit_is_clox_s_constant_error():
    """Each name is a constant: the 256th is an error long before the nesting limit."""
    source = "class A {} var a = A(); a.b = a; print a" + ".b" * 100_000 + ";"
    status, out, err = run(source, "interp")
    assert (status, out, err) == (
        65, "", "[line 1] Error at 'b': Too many constants in one chunk.\n")


INSIDE_THE_LIMIT = {   # kind -> (nesting within MAX_NESTING, expected output)
    "parentheses": (MAX_NESTING - 10, b"1\n"),
    "blocks": (MAX_NESTING // 2 - 10, b"1\n"),
    "functions": (MAX_NESTING // 3 - 10, b""),
    "not": (MAX_NESTING - 10, b"true\n"),
    "assignment chain": (MAX_NESTING - 10, b"1\n"),
}


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("kind", list(INSIDE_THE_LIMIT))
def test_nesting_within_the_limit_runs(kind, tier):
    depth, output = INSIDE_THE_LIMIT[kind]
    assert run(nested(depth)[kind], tier) == (0, output.decode(), "")


@pytest.mark.parametrize("kind", ["else if", "plus chain", "call chain", "call arguments",
                                  "negation"])
def test_long_chains_within_the_limit_run_interpreted(kind):
    """Chains half the limit long compile and run (native compiles of single functions
    this long are slow: they are left to the native tier's own tests)."""
    status, out, err = run(nested(MAX_NESTING // 2 - 10)[kind], "interp")
    assert (status, err) == (0, "")
    assert out.strip()


DOUBLING = """
var s = "ab";
for (var i = 0; i < 30; i = i + 1) { s = s + s; print i; }
"""


@pytest.mark.parametrize("tier", TIERS)
def test_a_string_larger_than_the_largest_object_is_out_of_memory(tmp_path, tier):
    result = offramp(tmp_path, DOUBLING, f"--tier={tier}")
    assert_clean(result, 70)
    assert result.stderr == b"Out of memory.\n[line 3] in script\n"
    assert result.stdout == b"".join(b"%d\n" % i for i in range(24))   # flushed first


FILL = """
class Node { init(next) { this.next = next; this.data = Array(1000000); } }
fun fill() { var head = nil; while (true) head = Node(head); }
print "filling";
fill();
"""


@pytest.mark.parametrize("tier", ["jit", "eager"])
def test_a_full_heap_is_out_of_memory(tmp_path, tier):
    """Under `ulimit -v` the heap reserves less, so it fills after a few big arrays (the
    interpreter tier gets there too, in ~7 s of marking them in Python)."""
    result = offramp(tmp_path, FILL, f"--tier={tier}", ulimit_kb=500_000, timeout=300)
    assert_clean(result, 70)
    assert result.stdout == b"filling\n"
    assert result.stderr == (b"Out of memory.\n[line 2] in init()\n[line 3] in fill()\n"
                             b"[line 5] in script\n")


@pytest.mark.parametrize("tier", TIERS)
def test_a_small_address_space_still_runs_programs(tmp_path, tier):
    """The heap asks for 4 GiB of address space and takes less when that is refused."""
    result = offramp(tmp_path, 'print "hello";', f"--tier={tier}", "--trace=gc",
                     ulimit_kb=4_000_000)
    assert_clean(result, 0)
    assert result.stdout == b"hello\n"
    assert b"reserved " in result.stderr and b"address space limited" in result.stderr


ARRAY_ERRORS = {
    "Array(0/0)": "Array size must be a non-negative integer.",
    "Array(1/0)": "Array size must be a non-negative integer.",
    "Array(-1/0)": "Array size must be a non-negative integer.",
    "Array(-1)": "Array size must be a non-negative integer.",
    "Array(2.5)": "Array size must be a non-negative integer.",
    "Array(nil)": "Array size must be a non-negative integer.",
    f"Array({MAX_ARRAY_LENGTH + 1})": f"Array size must be at most {MAX_ARRAY_LENGTH}.",
    "Array(100000000000000000000000)": f"Array size must be at most {MAX_ARRAY_LENGTH}.",
    "Array(3).get(0/0)": "Array index must be an integer.",
    "Array(3).get(1/0)": "Array index must be an integer.",
    "Array(3).set(-1/0, 1)": "Array index must be an integer.",
    "Array(3).get(0.5)": "Array index must be an integer.",
    "Array(3).get(-1)": "Array index out of bounds.",
    "Array(3).set(3, 1)": "Array index out of bounds.",
    "Array(3).get(100000000000000000000000)": "Array index out of bounds.",
}


@pytest.mark.parametrize("tier", ["interp", "eager"])
@pytest.mark.parametrize("expression", list(ARRAY_ERRORS))
def test_array_errors_are_lox_runtime_errors(expression, tier):
    source = f'print "before";\nfun f() {{ return {expression}; }}\nprint f();'
    status, out, err = run(source, tier)
    assert (status, out) == (70, "before\n")
    assert err == f"{ARRAY_ERRORS[expression]}\n[line 2] in f()\n[line 3] in script\n"


@pytest.mark.parametrize("tier", TIERS)
def test_array_errors_from_the_command(tmp_path, tier):
    result = offramp(tmp_path, "var a = Array(4);\nprint a.length();\nprint a.get(0/0);",
                     f"--tier={tier}")
    assert_clean(result, 70)
    assert (result.stdout, result.stderr) == (
        b"4\n", b"Array index must be an integer.\n[line 3] in script\n")


def test_arrays_as_large_as_the_limit_work():
    status, out, err = run(f"var a = Array({MAX_ARRAY_LENGTH}); a.set({MAX_ARRAY_LENGTH} - 1,"
                           f" 7); print a.get({MAX_ARRAY_LENGTH} - 1); print a.get(-0);",
                           "interp")
    assert (status, out, err) == (0, "7\nnil\n", "")


MANY_LINES = "for (var i = 0; i < 100000; i = i + 1) print i;"


@pytest.mark.parametrize("tier", TIERS)
def test_a_reader_that_goes_away_ends_the_run_quietly(tmp_path, tier):
    """`offramp run x.lox | head -1`"""
    path = tmp_path / "many.lox"
    path.write_text(MANY_LINES)
    with subprocess.Popen([sys.executable, "-m", "offramp", "run", str(path),
                           f"--tier={tier}"], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE) as process:
        assert process.stdout.readline() == b"0\n"
        process.stdout.close()
        err = process.stderr.read()
        status = process.wait(timeout=120)
    assert (status, err) == (141, b"")


@pytest.mark.parametrize("tier", TIERS)
def test_output_is_utf8_whatever_the_locale(tmp_path, tier):
    """Python's UTF-8 mode off and an ASCII locale: strings are still written as UTF-8."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONUTF8", "PYTHONIOENCODING") and not k.startswith("LC_")}
    env.update(LANG="C", LC_ALL="C", PYTHONUTF8="0", PYTHONCOERCECLOCALE="0")
    result = offramp(tmp_path, 'print "héllo ✓";\nprint "é" + nil;', f"--tier={tier}",
                     env=env)
    assert_clean(result, 70)
    assert result.stdout == "héllo ✓\n".encode()
    assert result.stderr == b"Operands must be two numbers or two strings.\n[line 2] in script\n"
