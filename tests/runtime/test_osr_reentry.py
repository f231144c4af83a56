"""OSR after a deopt: a loop that left native code counts again in the interpreter and
re-enters native code — the same entry clone while it is valid, a clone recompiled without
the failed speculation once it keeps failing — with bounded compilations and without
nesting tier transitions.

Interpreted iterations are read from `--stats` ("loop iterations": every interpreted jump
into a loop header); the rest of a loop's iterations ran in native code.
"""
import io

import pytest

from offramp.config import Config
from offramp.ir.text import parse_module
from offramp.ir.verify import verify_module
from offramp.lox.driver import run_lox
from offramp.opt.osr import osr_entry
from offramp.runtime.vm import VM
from offramp.trace import Tracer


def run(source, **config):
    """(status, stdout, [osr trace lines], {stat: value}) of a Lox program."""
    out, err = io.StringIO(), io.StringIO()
    config.setdefault("trace", frozenset({"osr"}))
    status = run_lox(source, "test.lox", Config(stats=True, **config), out, err)
    lines = err.getvalue().splitlines()
    osr = [line for line in lines if line.startswith("[osr] ") and " clone @" not in line]
    stats = dict(line.split(": ", 1) for line in lines if not line.startswith("["))
    return status, out.getvalue(), osr, stats


def interpreted(source):
    """(status, stdout) of a Lox program in the interpreter: the oracle."""
    out, err = io.StringIO(), io.StringIO()
    status = run_lox(source, "test.lox", Config(tier="interp"), out, err)
    return status, out.getvalue()


# The example: a 300-iteration loop whose `a + b` sees strings at one iteration.
ONCE = """
var i = 0;
var s = 0;
while (i < 300) {
  var a = i; var b = 1;
  if (i == 150) { a = "a"; b = "b"; }
  var c = a + b;
  if (i == 150) print c; else s = s + c;
  i = i + 1;
}
print s;
"""


def test_a_loop_left_at_one_iteration_re_enters_the_same_clone():
    status, out, osr, stats = run(ONCE)
    assert (status, out) == interpreted(ONCE) == (0, "ab\n44999\n")
    head = "@lox.fn0.script.osr.header1"
    assert osr == [f"[osr] enter {head} at iteration 30",
                   f"[osr] re-enter {head} at iteration 60 (same clone)"]
    # 30 iterations before the entry, 30 after the deopt: the other 240 ran natively.
    assert stats["loop iterations"] == "60"
    assert (stats["osr entries"], stats["osr re-entries"]) == ("1", "1")
    assert stats["compiled versions"] == "1"


# From iteration 100 on, `a + b` adds strings at every iteration.
KEEPS_FAILING = """
var i = 0; var a = 1; var b = 2; var n = 0;
while (i < 1000) {
  if (i == 100) { a = "x"; b = "y"; }
  var c = a + b;
  if (i < 100) n = n + c; else n = n + 1;
  i = i + 1;
}
print n;
"""


def test_a_speculation_that_keeps_failing_is_recompiled_without_it():
    status, out, osr, stats = run(KEEPS_FAILING)
    assert (status, out) == interpreted(KEEPS_FAILING) == (0, "1200\n")
    # Config.recompile_after (10) failures of the clone, re-entered after each, then a
    # clone without the number speculation runs the remaining iterations natively.
    assert osr[0] == "[osr] enter @lox.fn0.script.osr.header1 at iteration 30"
    assert osr[1:10] == [f"[osr] re-enter @lox.fn0.script.osr.header1 at iteration {n} "
                         "(same clone)" for n in range(60, 330, 30)]
    assert osr[10:] == ["[osr] re-enter @lox.fn0.script.osr.header1.1 at iteration 330 "
                        "(new clone)"]
    assert stats["native deopts by reason"].count(": 10") == 1
    assert stats["compiled versions"] == "2"
    assert stats["loop iterations"] == "330"


NESTED_INNER = """
var s = 0;
for (var i = 0; i < 40; i = i + 1) {
  for (var j = 0; j < 40; j = j + 1) {
    var a = j; var b = i;
    if (i == 20 and j == 5) { a = "a"; b = "b"; }
    var c = a + b;
    if (c == "ab") s = s + 1000; else s = s + c;
  }
}
print s;
"""

# The deopt is in the outer loop's body, after the inner loop: only the outer loop re-arms.
NESTED_OUTER = """
var s = 0;
for (var i = 0; i < 300; i = i + 1) {
  for (var j = 0; j < 2; j = j + 1) s = s + j;
  var a = i; var b = 1;
  if (i == 150) { a = "a"; b = "b"; }
  var c = a + b;
  if (c == "ab") s = s + 1000; else s = s + c;
}
print s;
"""


def test_a_deopt_in_an_inner_loop_re_enters_at_the_inner_header():
    status, out, osr, stats = run(NESTED_INNER)
    assert (status, out) == interpreted(NESTED_INNER)
    inner = "@lox.fn0.script.osr.header8"
    assert osr == [f"[osr] enter {inner} at iteration 30",
                   f"[osr] re-enter {inner} at iteration 60 (same clone)"]
    assert stats["compiled versions"] == "1"


def test_a_deopt_in_an_outer_loop_re_enters_at_the_outer_header():
    status, out, osr, stats = run(NESTED_OUTER)
    assert (status, out) == interpreted(NESTED_OUTER)
    assert [line.split(" at ")[0] for line in osr] == [
        "[osr] enter @lox.fn0.script.osr.header8", "[osr] re-enter @lox.fn0.script.osr.header2"]
    assert osr[1].endswith("(new clone)")
    assert int(stats["loop iterations"]) < 150


IN_A_FUNCTION = """
fun work(n, k) {
  var s = 0;
  for (var i = 0; i < n; i = i + 1) {
    var a = i; var b = 1;
    if (i == k) { a = "a"; b = "b"; }
    var c = a + b;
    if (c == "ab") print c; else s = s + c;
  }
  return s;
}
print work(300, 150);
"""


def test_a_loop_in_a_function_re_enters():
    status, out, osr, stats = run(IN_A_FUNCTION)
    assert (status, out) == interpreted(IN_A_FUNCTION) == (0, "ab\n44999\n")
    assert osr == ["[osr] enter @lox.fn1.work.osr.header3 at iteration 30",
                   "[osr] re-enter @lox.fn1.work.osr.header3 at iteration 60 (same clone)"]
    assert stats["loop iterations"] == "60"


CALLED_AGAIN = """
fun f(n) {
  var s = 0;
  for (var i = 0; i < n; i = i + 1) s = s + i;
  return s;
}
print f(1000);
print f(1000);
print f(1000);
"""


def test_each_activation_of_a_loop_whose_osr_entry_returned_counts_again():
    status, out, osr, stats = run(CALLED_AGAIN)
    assert (status, out) == (0, "499500\n" * 3)
    assert osr == [f"[osr] enter @lox.fn1.f.osr.header3 at iteration {n}" for n in (30, 60, 90)]
    assert stats["loop iterations"] == "90"
    assert stats["compiled versions"] == "1"


# `inner` is inlined into the script loop's clone; its long call deopts inside its loop,
# which rebuilds two interpreter frames: the script's, waiting for the call, and inner's.
INLINED = """
fun inner(n, k) {
  var s = 0;
  for (var i = 0; i < n; i = i + 1) {
    var a = i; var b = 1;
    if (i == k) { a = "a"; b = "b"; }
    var c = a + b;
    if (c == "ab") print c; else s = s + c;
  }
  return s;
}
var t = 0;
for (var r = 0; r < 40; r = r + 1) {
  var n = 3;
  var k = 10;
  if (r == 35) { n = 300; k = 150; }
  t = t + inner(n, k);
}
print t;
"""


def test_the_innermost_of_the_frames_a_deopt_rebuilds_re_enters_its_loop():
    status, out, osr, _ = run(INLINED, trace=frozenset({"osr", "deopt"}))
    assert (status, out) == interpreted(INLINED)
    reentries = [line.split(" at ")[0] for line in osr if "re-enter" in line]
    # inner's loop first (the innermost frame), then the script's loop after inner returns.
    assert reentries == ["[osr] re-enter @lox.fn1.inner.osr.header3",
                         "[osr] re-enter @lox.fn0.script.osr.header3"]


def deopt_here_loop(n, at="true"):
    return f"""
var i = 0; var s = 0;
while (i < {n}) {{
  if ({at}) deoptHere();
  s = s + i;
  i = i + 1;
}}
print s;
"""


def test_deopt_here_at_one_iteration_re_enters_once():
    source = deopt_here_loop(300, "i == 100")
    status, out, osr, stats = run(source)
    assert (status, out) == interpreted(source) == (0, "44850\n")
    assert [line.split(" at ")[0] for line in osr] == [
        "[osr] enter @lox.fn0.script.osr.header1", "[osr] re-enter @lox.fn0.script.osr.header1"]
    assert int(stats["loop iterations"]) <= 61


def test_a_loop_that_deopts_at_every_iteration_backs_off():
    """deoptHere() at every iteration (no recompilation cures it): the wait before each
    re-entry doubles, so 3000 iterations re-enter a handful of times, one clone."""
    source = deopt_here_loop(3000)
    status, out, osr, stats = run(source)
    assert (status, out) == interpreted(source)
    assert stats["compiled versions"] == "2"       # the loop's clone and deoptHere
    reentries = int(stats["osr re-entries"])
    assert 3 <= reentries <= 8
    assert stats["native deopts by reason"] == f"{{'lazy deopt': {reentries + 1}}}"


def test_re_entries_do_not_nest():
    """A deopt of an OSR clone hands its frames back to the interpreter loop that entered
    it: with one native entry allowed at a time, the loop still re-enters after each."""
    source = deopt_here_loop(1000)
    status, out, _, stats = run(source, max_native_reentry=1)
    assert (status, out) == interpreted(source)
    assert int(stats["osr re-entries"]) >= 4


@pytest.mark.parametrize("tier,stress", [("jit", 1), ("jit", 3), ("eager", 1), ("eager", 2)])
@pytest.mark.parametrize("source", [ONCE, NESTED_INNER, INLINED, deopt_here_loop(200, "i % 7 == 0")],
                         ids=["once", "nested", "inlined", "deopt-here"])
def test_output_is_unchanged_under_deopt_stress(source, tier, stress):
    status, out, _, _ = run(source, tier=tier, deopt_stress=stress)
    assert (status, out) == interpreted(source)


# --- IR: the policy, whatever the client's optimizer does ---------------------------

HEADER = """
.typedef @i1 = int<1>
.typedef @i64 = int<64>
.funcsig @unary = (@i64) -> (@i64)
.funcsig @void_sig = (@i64) -> ()
.extern @poke <@void_sig>
"""

# v1 the baseline; v2 speculates that i stays below 100, resuming v1's header otherwise.
SUM = """
.funcdef @sum VERSION %v1 <@unary> {
  %entry(<@i64> %n):
    BRANCH %head(0 0)
  %head(<@i64> %i <@i64> %acc):
    %more = SLT <@i64> %i %n
    BRANCH2 %more %body() %done()
  %body():
    CCALL @poke (%i)
    %acc2 = ADD <@i64> %acc %i
    %i2 = ADD <@i64> %i 1
    SAFEPOINT
    BRANCH %head(%i2 %acc2)
  %done():
    RET (%acc)
}
.funcdef @sum VERSION %v2 <@unary> {
  %entry(<@i64> %n):
    BRANCH %head(0 0)
  %head(<@i64> %i <@i64> %acc):
    %more = SLT <@i64> %i %n
    BRANCH2 %more %body() %done()
  %body():
    %small = SLT <@i64> %i 100
    GUARD %small ELSE DEOPT "i reached 100" [@sum %v1 %head 0 (%i=%i %acc=%acc %n=%n)]
    CCALL @poke (%i)
    %acc2 = ADD <@i64> %acc %i
    %i2 = ADD <@i64> %i 1
    SAFEPOINT
    BRANCH %head(%i2 %acc2)
  %done():
    RET (%acc)
}
"""


def sum_vm(poke=lambda i: None, **config):
    """A VM interpreting sum %v1 whose OSR clones are always made of the guarded %v2 (an
    optimizer that never gives up the speculation); the osr trace goes to a buffer."""
    module = parse_module(HEADER + SUM, "test.ir")
    verify_module(module)
    speculated = module.functions["sum"].versions.pop()
    trace = io.StringIO()
    vm = VM(module, Config(tier="jit", call_threshold=10**9, **config),
            tracer=Tracer({"osr"}, trace), helpers={"poke": poke})

    def optimizer(vm_, func):
        if func.name.startswith("sum.osr."):
            return osr_entry(module, speculated, "head")[0].current
        return func.current
    vm.set_optimizer(optimizer)
    return vm, trace


def test_a_loop_whose_clones_keep_failing_stays_interpreted_after_bounded_compilations():
    vm, trace = sum_vm(loop_threshold=10, recompile_after=2, max_recompiles=2)
    assert vm.call("sum", [3000]) == sum(range(3000))
    # max_recompiles + 1 clones, each invalidated after recompile_after guard failures.
    assert len(vm.tiers.engine.codes) == 3
    assert vm.tiers.engine.deopts == {"i reached 100": 6}
    assert trace.getvalue().splitlines()[-1] == (
        "[osr] @sum %v1 loop %head stays interpreted after 3 entry clones")


def test_a_clone_invalidated_while_it_runs_is_left_lazily_and_replaced():
    vm = None

    def poke(i):
        if i == 20:
            code, _ = vm.tiers.osr_codes[("sum", "v1", "head")]
            vm.tiers.engine.invalidate(code)
    vm, trace = sum_vm(poke, loop_threshold=10)
    assert vm.call("sum", [60]) == sum(range(60))
    assert vm.tiers.engine.deopts == {"lazy deopt": 1}
    lines = [line for line in trace.getvalue().splitlines() if " clone @" not in line]
    assert [line.split(" @")[0] for line in lines] == ["[osr] enter", "[osr] re-enter"]
    assert lines[0].endswith(" at iteration 10")
    assert lines[1].endswith(" (new clone)")
    assert len(vm.tiers.engine.codes) == 2
