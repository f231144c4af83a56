"""A Lox interpreter written in Lox (tests/lox/programs/loxlox.lox) runs Lox programs read
from standard input with getc(), in every mode.

It is a long polymorphic program (a scanner, a recursive-descent parser and a tree-walking
evaluator with a dozen node classes sharing method names), the kind of code the native
tier must survive.  Each program's expected output is clox's for the same program run
directly, which the tests check when the reference clox is at /tmp/clox/clox; they also
run loxlox itself in clox, with the four natives clox lacks written in Lox (the program on
standard input becomes a list of bytes built by the Lox code given to clox).  The
interpreter tier and one jit run are the default sample; the other modes run with
`--run-slow` (each compiles the whole interpreter: tens of seconds).
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
LOXLOX = REPO_ROOT / "tests" / "lox" / "programs" / "loxlox.lox"
CLOX = Path("/tmp/clox/clox")
needs_clox = pytest.mark.skipif(not CLOX.exists(), reason="no reference clox at /tmp/clox/clox")

PROGRAMS = {
    "fib": ("""
fun fib(n) {
  if (n < 2) return n;
  return fib(n - 1) + fib(n - 2);
}
for (var i = 0; i < 10; i = i + 1) print fib(i);
""", "0\n1\n1\n2\n3\n5\n8\n13\n21\n34\n"),
    "closures": ("""
fun makeCounter() {
  var count = 0;
  fun inc() { count = count + 1; return count; }
  return inc;
}
var a = makeCounter();
var b = makeCounter();
print a(); print a(); print b(); print a();
fun adder(x) { fun add(y) { return x + y; } return add; }
var add5 = adder(5);
print add5(10);
{
  var x = "outer";
  { fun show() { print x; } show(); }
}
""", "1\n2\n1\n3\n15\nouter\n"),
    "strings": ("""
var s = "";
var i = 0;
while (i < 10) {
  if (i / 2 == 3) s = s + "*"; else s = s + "-";
  i = i + 1;
}
print s;
var parts = "a";
for (var j = 0; j < 5; j = j + 1) parts = parts + "b";
print parts;
print "x" == "x"; print "x" != "y"; print !nil; print 1 < 2 and 2 < 3; print nil or "dflt";
print 0.5 + 0.25; print -3 * 2; print 10 / 4; print 1 >= 1; print 2 <= 1;
""", "------*---\nabbbbb\ntrue\ntrue\ntrue\ntrue\ndflt\n0.75\n-6\n2.5\ntrue\nfalse\n"),
    "classes": ("""
class Animal {
  init(name) { this.name = name; }
  speak() { return this.name + " makes a sound"; }
  describe() { print this.speak(); }
}
class Dog < Animal {
  init(name) { super.init(name); this.tricks = 0; }
  speak() { return this.name + " barks"; }
  learn() { this.tricks = this.tricks + 1; return this; }
  describe() { super.describe(); print this.tricks; }
}
var d = Dog("Rex");
d.learn().learn();
d.describe();
Animal("Cat").describe();
print d; print Dog; print d.speak;
var m = d.speak;
print m();
print clock() > 0;
""", "Rex barks\n2\nCat makes a sound\nDog instance\nDog\n<fn speak>\nRex barks\ntrue\n"),
    "tiny": ("""
fun make(n) { var k = n; fun get() { return k + 1; } return get; }
print make(41)();
class C { init(v) { this.v = v; } twice() { return this.v * 2; } }
print C(21).twice();
""", "42\n42\n"),
}

MODES = {
    "interp": ["--tier=interp"],
    "jit": ["--tier=jit"],
    "eager": ["--tier=eager"],
    "deopt-stress": ["--tier=eager", "--deopt-stress=1"],
}
SAMPLE = {("interp", name) for name in PROGRAMS} | {("jit", "fib")}
# LLVM's register allocator runs out on ClassStmt.ex compiled eagerly (issue 8, item 1;
# shrunk in /work/fuzz-findings/lox/loxlox-classstmt-out-of-registers.lox).
OUT_OF_REGISTERS = {("eager", "classes"), ("deopt-stress", "classes")}


def run_loxlox(args, program: str):
    """Run loxlox.lox through the `offramp` command with `program` on its stdin (a
    subprocess: an LLVM failure may end the process)."""
    env = dict(os.environ, PYTHONUTF8="1", PYTHONIOENCODING="utf-8")
    return subprocess.run([sys.executable, "-m", "offramp", "run", *args, str(LOXLOX)],
                          input=program, cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, encoding="utf-8", timeout=600)


def cases():
    for mode in MODES:
        for name in PROGRAMS:
            if name == "tiny":
                continue
            marks = [] if (mode, name) in SAMPLE else [pytest.mark.slow]
            if (mode, name) in OUT_OF_REGISTERS:
                marks.append(pytest.mark.xfail(reason="LLVM runs out of registers",
                                               strict=False))
            yield pytest.param(mode, name, marks=marks, id=f"{mode}-{name}")


@pytest.mark.parametrize("mode,name", list(cases()))
def test_loxlox_runs_programs_from_stdin(mode, name):
    source, expected = PROGRAMS[name]
    result = run_loxlox(MODES[mode], source)
    assert (result.returncode, result.stdout, result.stderr) == (0, expected, "")


@pytest.mark.slow
def test_loxlox_under_gc_stress():
    source, expected = PROGRAMS["tiny"]
    result = run_loxlox(["--tier=jit", "--gc-stress"], source)
    assert (result.returncode, result.stdout, result.stderr) == (0, expected, "")


def clox(source: str, tmp_path) -> subprocess.CompletedProcess:
    """Run `source` with the reference clox."""
    path = tmp_path / "clox.lox"
    path.write_text(source, encoding="utf-8")
    return subprocess.run([str(CLOX), str(path)], capture_output=True, text=True, timeout=60)


BYTES_PER_FUNCTION = 50    # 4 constants a byte: under clox's 256 per function


def lox_natives_for_clox(stdin: str) -> str:
    """Lox definitions of getc() (reading `stdin`, given here) and chr() for clox, which
    lacks them; loxlox calls exit() and print_error() only on errors."""
    data = stdin.encode("ascii")[::-1]
    chunks = [data[i:i + BYTES_PER_FUNCTION] for i in range(0, len(data), BYTES_PER_FUNCTION)]
    pushes = "".join(
        f"fun push{n}() {{\n" + "".join(f" input = Byte({b}, input);\n" for b in chunk)
        + f"}}\npush{n}();\n" for n, chunk in enumerate(chunks))
    printable = [c for c in range(32, 127) if chr(c) != '"'] + [10]
    chrs = "".join(f' if (n == {c}) return "{chr(c)}";\n' for c in printable)
    return ("class Byte { init(c, next) { this.c = c; this.next = next; } }\n"
            "var input = nil;\n"
            f"fun load() {{\n{pushes}}}\nload();\n"
            "fun getc() {\n if (input == nil) return -1;\n var c = input.c;\n"
            " input = input.next;\n return c;\n}\n"
            f"fun chr(n) {{\n{chrs}}}\n")


@needs_clox
@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_expected_outputs_are_clox_s(name, tmp_path):
    """Each expected output is clox's for the program, and clox running loxlox on it."""
    source, expected = PROGRAMS[name]
    direct = clox(source, tmp_path)
    assert (direct.returncode, direct.stdout, direct.stderr) == (0, expected, "")
    loxlox = clox(lox_natives_for_clox(source) + LOXLOX.read_text(), tmp_path)
    assert (loxlox.returncode, loxlox.stdout, loxlox.stderr) == (0, expected, "")


ERRORS = {
    "runtime error": ('var a = 1;\nprint a + "x";\n',
                      "Operands must be two numbers or two strings.\n[line 2]\n", 70),
    "undefined variable": ("print nope;\n", "Undefined variable 'nope'.\n[line 1]\n", 70),
    "syntax error": ("print (1;\n", "Error at ';': Expect ')' after expression.\n[line 1]\n",
                     65),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_loxlox_reports_errors_with_print_error_and_exit(name):
    source, stderr, status = ERRORS[name]
    result = run_loxlox(["--tier=interp"], source)
    assert (result.returncode, result.stdout, result.stderr) == (status, "", stderr)
