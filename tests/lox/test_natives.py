"""The LoxLox natives (getc, chr, exit, print_error) in every tier, and their errors."""
import io

import pytest

from offramp.config import Config
from offramp.lox.driver import run_lox

TIERS = {
    "interp": dict(tier="interp"),
    "jit": dict(tier="jit"),
    "eager": dict(tier="eager"),
    "deopt-stress": dict(tier="eager", deopt_stress=1),
}


def run(source: str, stdin: bytes = b"", **config):
    out, err = io.StringIO(), io.StringIO()
    status = run_lox(source, "test.lox", Config(**config), out, err, io.BytesIO(stdin))
    return out.getvalue(), err.getvalue(), status


ECHO = """
fun echo() {
  var s = "";
  var n = 0;
  var c = getc();
  while (c != -1) {
    print c;
    s = s + chr(c);
    n = n + 1;
    c = getc();
  }
  print getc();
  return s;
}
print echo();
"""

EXIT_DEEP = """
fun down(n) {
  if (n == 0) {
    print "leaving";
    exit(3);
  }
  return down(n - 1) + 1;
}
for (var i = 0; i < 300; i = i + 1) if (i < 0) down(1);
print "start";
down(40);
print "not reached";
"""


@pytest.mark.parametrize("tier", sorted(TIERS))
def test_getc_reads_bytes_until_minus_one_and_chr_rebuilds_them(tier):
    out, err, status = run(ECHO, b"Lox!\n" * 50, **TIERS[tier])
    assert (err, status) == ("", 0)
    assert out == "76\n111\n120\n33\n10\n" * 50 + "-1\n" + "Lox!\n" * 50 + "\n"


@pytest.mark.parametrize("tier", sorted(TIERS))
def test_exit_from_deep_native_frames_ends_with_its_status(tier):
    assert run(EXIT_DEEP, **TIERS[tier]) == ("start\nleaving\n", "", 3)


@pytest.mark.parametrize("tier", ["interp", "eager"])
def test_print_error_prints_a_value_and_a_newline_on_stderr(tier):
    source = 'print "out"; print_error("bad thing"); print_error(42); print_error(nil);'
    assert run(source, **TIERS[tier]) == ("out\n", "bad thing\n42\nnil\n", 0)


def test_chr_makes_one_character_strings():
    source = 'print chr(72) + chr(105); print chr(233); print chr(0) == chr(0); ' \
             'print chr(1114111) != chr(65);'
    assert run(source, tier="interp") == ("Hi\né\n" + "true\ntrue\n", "", 0)


@pytest.mark.parametrize("tier", ["interp", "jit", "deopt-stress"])
def test_natives_ignore_extra_arguments_as_clox_does(tier):
    source = """
fun code(f, n) { return f(n, "extra", nil); }
var s = "";
for (var i = 0; i < 300; i = i + 1) s = code(chr, 65);
print s;
print getc(1, 2);
print Array(2).get(1, 5);
print chr();
"""
    assert run(source, b"x", **TIERS[tier]) == (
        "A\n120\nnil\n", "Expected 1 arguments but got 0.\n[line 8] in script\n", 70)


CHR_ERROR = "Character code must be an integer from 0 to 1114111, not a surrogate.\n"
EXIT_ERROR = "Exit status must be an integer from 0 to 255.\n"
BAD_ARGUMENTS = {
    'print chr("a");': CHR_ERROR,
    "print chr(1.5);": CHR_ERROR,
    "print chr(-1);": CHR_ERROR,
    "print chr(1114112);": CHR_ERROR,
    "print chr(55296);": CHR_ERROR,
    "print chr(0/0);": CHR_ERROR,
    'exit("1");': EXIT_ERROR,
    "exit(1.5);": EXIT_ERROR,
    "exit(256);": EXIT_ERROR,
    "exit(-1);": EXIT_ERROR,
    "exit(nil);": EXIT_ERROR,
    "print chr();": "Expected 1 arguments but got 0.\n",
    "exit();": "Expected 1 arguments but got 0.\n",
    "print_error();": "Expected 1 arguments but got 0.\n",
}


@pytest.mark.parametrize("source", sorted(BAD_ARGUMENTS))
def test_bad_arguments_are_runtime_errors(source):
    assert run('print "a";\n' + source) == ("a\n", BAD_ARGUMENTS[source] + "[line 2] in script\n",
                                            70)


@pytest.mark.parametrize("tier", ["jit", "deopt-stress"])
def test_bad_arguments_from_hot_native_code(tier):
    source = """
fun code(n) { return chr(n); }
var s = "";
var k = 65;
for (var i = 0; i < 300; i = i + 1) {
  s = code(k);
  k = k + 1;
  if (k > 90) k = 65;
}
print s;
print code(-5);
"""
    assert run(source, **TIERS[tier]) == ("N\n", CHR_ERROR + "[line 2] in code()\n"
                                          "[line 11] in script\n", 70)


def test_the_command_flushes_output_and_exits_with_the_status(tmp_path, run_offramp):
    program = tmp_path / "echo.lox"
    program.write_text(ECHO.replace("print echo();", "print echo(); exit(7);"))
    result = run_offramp(["run", "--tier=eager", str(program)])
    assert (result.returncode, result.stdout, result.stderr) == (7, "-1\n\n", "")


RELOCK = """
fun f() {
  var l = Lock();
  var s = 0;
  for (var j = 0; j < 3000; j = j + 1) {
    l.acquire();
    if (j < 2990 or j > 2998) l.release();
    s = s + 1;
  }
  return s;
}
print f();
"""


@pytest.mark.parametrize("tier", TIERS)
def test_an_error_in_library_code_inlined_into_an_osr_clone_has_its_callers_line(tier):
    """The lock's acquire is inlined into the loop's OSR entry clone; its slow path's
    error is raised in the clone.  The trace names the function (not the clone, which was
    shown as `script`) and the call's line (library code has none of its own)."""
    out, err, status = run(RELOCK, **TIERS[tier])
    assert (out, status) == ("", 70)
    assert err == "Lock is already held by this thread.\n[line 6] in f()\n[line 12] in script\n"
