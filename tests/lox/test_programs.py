"""Lox programs outside the conformance suite: output, errors and traces, extensions."""
import io

import pytest

from offramp.config import Config
from offramp.lox.driver import run_lox


def run(source: str, **config):
    out, err = io.StringIO(), io.StringIO()
    status = run_lox(source, "test.lox", Config(tier="interp", **config), out, err)
    return status, out.getvalue(), err.getvalue()


PROGRAMS = {
    "numbers print like clox": (
        "print 10000000; print 0.1 + 0.2; print 100; print -0; print 1/3; "
        "print 123456789; print 1/100000; print 1/0; print -1/0;",
        "1e+07\n0.3\n100\n-0\n0.333333\n1.23457e+08\n1e-05\ninf\n-inf\n"),
    "closures share captured variables": ("""
fun counter() {
  var n = 0;
  fun inc() { n = n + 1; return n; }
  fun get() { return n; }
  return [inc, get];
}
""".replace("return [inc, get];", "class Pair { init(a, b) { this.a = a; this.b = b; } }"
            " return Pair(inc, get);") + """
var p = counter();
p.a(); p.a(); p.a();
print p.b();
""", "3\n"),
    "loop variables, joins and early returns": ("""
fun classify(n) {
  var kind = "small";
  if (n > 10) kind = "big"; else if (n > 5) kind = "medium";
  for (var i = 0; i < n; i = i + 1) { if (i == 3) return kind + "!"; }
  return kind;
}
print classify(2); print classify(7); print classify(20);
var total = 0; var i = 0;
while (i < 100) { i = i + 1; if (i > 50) total = total + i; }
print total;
""", "small\nmedium!\nbig!\n3775\n"),
    "classes, inheritance, super and initializers": ("""
class Shape {
  init(name) { this.name = name; }
  describe() { print this.name; print this.area(); }
  area() { return 0; }
}
class Square < Shape {
  init(side) { super.init("square"); this.side = side; }
  area() { return this.side * this.side; }
}
class Unit < Square { init() { super.init(1); } describe() { print "unit"; super.describe(); } }
Square(3).describe();
Unit().describe();
var s = Square(2); var m = s.area; s.side = 5; print m();
print Unit;  print s; print Shape("x").area();
""", "square\n9\nunit\nsquare\n1\n25\nUnit\nSquare instance\n0\n"),
    "strings intern and compare": ("""
var a = "ab" + "c"; var b = "a" + "bc";
print a == b; print a == "abc"; print "x" != "y";
var s = ""; for (var i = 0; i < 5; i = i + 1) s = s + "*"; print s;
""", "true\ntrue\ntrue\n*****\n"),
    "the Array extension": ("""
var a = Array(5);
for (var i = 0; i < a.length(); i = i + 1) a.set(i, i * i);
var sum = 0; for (var i = 0; i < 5; i = i + 1) sum = sum + a.get(i);
print sum; print a.get(0); print Array(0).length(); print a;
var get = a.get; print get(4);
""", "30\n0\n0\n<array 5>\n16\n"),
    "deoptHere is a no-op in the interpreter": (
        "fun f(x) { deoptHere(); return x + 1; } print f(41);", "42\n"),
    "recursion as deep as clox allows": ("""
fun depth(n) { if (n == 0) return 0; return 1 + depth(n - 1); }
print depth(62);
""", "62\n"),
}


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_program(name):
    source, expected = PROGRAMS[name]
    status, out, err = run(source)
    assert (status, err) == (0, "")
    assert out == expected


@pytest.mark.parametrize("name", ["closures share captured variables",
                                  "classes, inheritance, super and initializers",
                                  "the Array extension"])
def test_program_under_gc_stress(name):
    source, expected = PROGRAMS[name]
    assert run(source, gc_stress=True)[:2] == (0, expected)


def test_runtime_error_prints_a_clox_stack_trace():
    status, out, err = run("""
fun inner(x) {
  return x + nil;
}
fun outer() {
  print "before";
  return inner(1);
}
outer();
""")
    assert status == 70
    assert out == "before\n"
    assert err.splitlines() == ["Operands must be two numbers or two strings.",
                                "[line 3] in inner()", "[line 7] in outer()",
                                "[line 9] in script"]


@pytest.mark.parametrize("tier", ["interp", "jit", "eager"])
def test_the_default_frame_limit_is_clox_s(tier):
    """clox's FRAMES_MAX is 64, the script's frame included: `depth(62)` fits, `depth(63)`
    overflows, with clox's 64 trace lines; `--max-frames` raises the limit."""
    deep = "fun depth(n) { if (n == 0) return 0; return 1 + depth(n - 1); }\nprint depth(N);"
    out_err = io.StringIO(), io.StringIO()
    status = run_lox(deep.replace("N", "63"), "test.lox", Config(tier=tier), *out_err)
    lines = out_err[1].getvalue().splitlines()
    assert (status, lines[0], len(lines)) == (70, "Stack overflow.", 65)
    assert run(deep.replace("N", "5000"), max_frames=10_000)[:2] == (0, "5000\n")


def test_stack_overflow_message_and_exit_code():
    status, _, err = run("fun f() { f(); } f();", max_frames=200)
    assert status == 70
    lines = err.splitlines()
    assert lines[0] == "Stack overflow."
    assert lines[-1] == "[line 1] in script"


def test_array_errors_are_lox_runtime_errors():
    status, _, err = run("var a = Array(2);\na.get(2);")
    assert (status, err.splitlines()[0]) == (70, "Array index out of bounds.")
    status, _, err = run("Array(-1);")
    assert (status, err.splitlines()[0]) == (70, "Array size must be a non-negative integer.")


def test_binary_trees_runs_in_bounded_memory():
    source = """
class Tree {
  init(depth) {
    if (depth > 0) { this.left = Tree(depth - 1); this.right = Tree(depth - 1); }
    else { this.left = nil; this.right = nil; }
  }
  check() { if (this.left == nil) return 1; return 1 + this.left.check() + this.right.check(); }
}
var total = 0;
for (var i = 0; i < 60; i = i + 1) total = total + Tree(8).check();
print total;
"""
    out = io.StringIO()
    config = Config(tier="interp", gc_initial_threshold=256 * 1024)
    from offramp.lox.codegen import compile_program
    from offramp.lox.parser import parse_program
    from offramp.lox.runtime import LoxRuntime
    script, errors = parse_program(source)
    assert errors == []
    runtime = LoxRuntime(compile_program(script), config, out)
    runtime.run()
    assert out.getvalue() == f"{60 * 511}\n"
    stats = runtime.heap.stats()
    assert stats["collections"] > 5
    # 60 trees of 511 instances were allocated; the heap never held more than a few.
    assert stats["peak_committed_bytes"] < 4 * 1024 * 1024
