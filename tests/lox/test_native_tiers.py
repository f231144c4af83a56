"""Lox in the native tiers: deoptHere, traces of errors raised in native code, stack overflow
in native recursion, and tier transitions reported by --trace and --stats."""
import io

import pytest

from offramp.config import Config
from offramp.lox.driver import run_lox


def run(source, **config):
    out, err = io.StringIO(), io.StringIO()
    status = run_lox(source, "test.lox", Config(**config), out, err)
    return status, out.getvalue(), err.getvalue()


DEOPT_HERE = """
fun f(x) {
  var y = x * 2;
  deoptHere();
  return y + 1;
}
var s = 0;
for (var i = 0; i < 5; i = i + 1) s = s + f(i);
print s;
"""


def test_deopt_here_deoptimizes_each_native_caller_lazily():
    status, out, err = run(DEOPT_HERE, tier="eager", stats=True)
    assert (status, out) == (0, "25\n")
    assert "native deopts by reason: {'lazy deopt': 5}" in err


def test_deopt_here_does_nothing_in_the_interpreter():
    status, out, err = run(DEOPT_HERE, tier="interp", stats=True)
    assert (status, out) == (0, "25\n")
    assert "lazy deopt" not in err


ERROR = """
fun inner(x) {
  return x + nil;
}
fun middle(x) {
  return inner(x) * 2;
}
fun outer() {
  print "before";
  return middle(1);
}
outer();
"""


@pytest.mark.parametrize("tier,stress", [("eager", 0), ("eager", 1), ("jit", 0)])
def test_error_raised_in_native_code_prints_the_lox_stack(tier, stress):
    expected = run(ERROR, tier="interp")
    assert expected[0] == 70
    assert run(ERROR, tier=tier, deopt_stress=stress) == expected
    assert expected[2].splitlines()[1:] == ["[line 3] in inner()", "[line 6] in middle()",
                                            "[line 10] in outer()", "[line 12] in script"]


def test_native_recursion_overflows_cleanly():
    status, out, err = run("fun f(n) { return f(n + 1) + 1; } f(0);", tier="eager")
    assert status == 70
    assert err.splitlines()[0] == "Stack overflow."


def test_trace_reports_tier_and_deopt_events():
    out, err = io.StringIO(), io.StringIO()
    config = Config(tier="eager", trace=frozenset({"tier", "deopt"}))
    assert run_lox(DEOPT_HERE, "t.lox", config, out, err) == 0
    lines = err.getvalue().splitlines()
    assert any(line.startswith("[tier] compiled @lox.fn") for line in lines)
    assert sum(line.startswith("[deopt] lazy") for line in lines) == 5


def test_error_after_an_osr_entry_names_the_script_frame_once():
    source = """
var s = 0;
for (var i = 0; i < 2000; i = i + 1) s = s + i;
print s;
print s + nil;
"""
    expected = run(source, tier="interp")
    assert run(source, tier="jit", loop_threshold=100) == expected
    assert expected[2].splitlines() == ["Operands must be two numbers or two strings.",
                                        "[line 5] in script"]


METHODS_IN_A_LOOP = """
class Counter {
  init() { this.n = 0; }
  bump() { this.n = this.n + 1; return this; }
  get() { return this.n; }
}
var c = Counter();
var total = 0;
for (var i = 0; i < 300; i = i + 1) {
  total = total + c.bump().get();
}
print total;
print c.get();
"""


def test_a_loop_making_hot_calls_is_compiled_with_its_callees_inlined():
    """The loop's body makes its 20th call (the call threshold) in its 10th iteration: the
    loop is entered by OSR at its next iteration, with bump and get speculated and inlined
    — neither is compiled alone."""
    expected = run(METHODS_IN_A_LOOP, tier="interp")
    config = dict(tier="jit", call_threshold=20, loop_threshold=1000,
                  trace=frozenset({"tier", "osr"}))
    status, out, err = run(METHODS_IN_A_LOOP, **config)
    assert (status, out) == expected[:2]
    lines = err.splitlines()
    enters = [line for line in lines if line.startswith("[osr] enter")]
    assert enters == ["[osr] enter @lox.fn0.script.osr.header11 at iteration 11"], lines
    compiled = [line for line in lines if line.startswith("[tier] compiled")]
    assert len(compiled) == 1 and ".osr." in compiled[0], lines


def test_calls_to_many_functions_make_a_loop_hot():
    """Four functions called once per iteration: none reaches the call threshold (20) nor
    the loop the loop threshold (1000) when the loop's body has made 20 calls, in its
    5th iteration; the loop is entered by OSR at its next one."""
    source = ("fun a(x) { return x + 1; } fun b(x) { return x * 2; }\n"
              "fun c(x) { return x - 3; } fun d(x) { return x / 2; }\n"
              "var t = 0;\n"
              "for (var i = 0; i < 50; i = i + 1) { t = t + a(i) + b(i) + c(i) + d(i); }\n"
              "print t;")
    expected = run(source, tier="interp")
    status, out, err = run(source, tier="jit", call_threshold=20, loop_threshold=1000,
                           trace=frozenset({"tier", "osr"}))
    assert (status, out) == expected[:2]
    lines = err.splitlines()
    enters = [line for line in lines if line.startswith("[osr] enter")]
    assert enters == ["[osr] enter @lox.fn0.script.osr.header6 at iteration 6"], lines
    assert not [line for line in lines if ".osr." not in line], lines


def test_a_callee_hot_outside_any_loop_is_compiled_on_its_own():
    source = "fun f(n) { if (n < 2) return n; return f(n - 1) + f(n - 2); }\nprint f(15);"
    status, out, err = run(source, tier="jit", call_threshold=20,
                           trace=frozenset({"tier", "osr"}))
    assert (status, out) == (0, "610\n")
    lines = err.splitlines()
    assert lines[0] == "[tier] @lox.fn1.f VERSION %s1 assumes global(f)"
    assert lines[1].startswith("[tier] compiled @lox.fn1.f VERSION")
    assert "[osr]" not in err


def test_an_inner_loop_reading_the_outer_loops_variable_is_entered_by_osr():
    """The inner loop reads `round`, which the outer loop redefines after the inner header:
    the OSR clone gets a header parameter for it, and the run enters it."""
    source = """
var total = 0;
for (var round = 0; round < 3; round = round + 1) {
  for (var i = 0; i < 200; i = i + 1) { total = total + round; }
}
print total;
"""
    for stress in (0, 1):
        status, out, err = run(source, tier="jit", loop_threshold=50, deopt_stress=stress,
                               verify_ir=True, trace=frozenset({"osr"}))
        assert (status, out) == (0, "600\n")
        assert "[osr] enter @lox.fn0.script.osr." in err
