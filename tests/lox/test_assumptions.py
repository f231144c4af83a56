"""Assumptions (runtime/assumptions.py, lox/assumptions.py): compiled code calls a global
function or class without checking the callee and calls a method after a class check
only; a write that breaks the assumption drops the code — in every thread, while it runs
— and the program prints exactly what the interpreter prints."""
import io

import pytest

from offramp.config import Config
from offramp.lox.driver import run_lox

TIERS = {"interp": dict(tier="interp"), "jit": dict(tier="jit"), "eager": dict(tier="eager")}
STRESS = {"jit-assume1": dict(tier="jit", assumption_stress=1),
          "eager-assume3": dict(tier="eager", assumption_stress=3),
          "eager-assume1-deopt3": dict(tier="eager", assumption_stress=1, deopt_stress=3)}


def run(source: str, **config):
    out, err = io.StringIO(), io.StringIO()
    status = run_lox(source, "test.lox", Config(**config), out, err, io.BytesIO(b""))
    return out.getvalue(), err.getvalue(), status


REASSIGNED_WHILE_RUNNING = """
var count = 0;
fun f() { return 1; }
fun worker() {
  while (f() == 1) count = count + 1;
  return "the worker saw the new f";
}
var t = spawn(worker);
while (count < 5000) {}
fun two() { return 2; }
f = two;
print join(t);
print f();
"""

SHADOWED_WHILE_RUNNING = """
var count = 0;
class A { m() { return 1; } }
var a = A();
var b = A();
b.x = 0;
fun call(o) { return o.m(); }
fun worker() {
  while (call(a) + call(b) == 2) count = count + 1;
  return "the worker saw the field";
}
var t = spawn(worker);
while (count < 5000) {}
fun two() { return 2; }
a.m = two;
print join(t);
print A().m();
"""


@pytest.mark.parametrize("tier", ["jit", "eager"])
@pytest.mark.parametrize("source, broken", [
    (REASSIGNED_WHILE_RUNNING, "assumption broken: global(f)"),
    (SHADOWED_WHILE_RUNNING, "assumption broken: method(")])
def test_breaking_an_assumption_while_another_thread_runs_code_relying_on_it(
        tier, source, broken):
    """The worker spins in native code that calls f (a.m) with no check of it; the main
    thread reassigns f (gives a a field m): the worker's code is invalidated and the
    worker leaves it at once — had it not, it would spin forever."""
    out, err, status = run(source, tier=tier, trace=frozenset({"tier"}))
    assert status == 0, err
    assert out == run(source, tier="interp")[0]
    assert broken in err
    after = err[err.index(broken):]
    assert "invalidated" in after and "regions trampled" in after


CALLS = """
fun add(a, b) { return a + b; }
class P { init(x) { this.x = x; } get() { return this.x; } }
fun run(n) {
  var s = 0;
  for (var i = 0; i < n; i = i + 1) s = add(s, P(i).get());
  return s;
}
print run(500);
fun add(a, b) { return a - b; }
print run(500);
var p = P(3);
fun seven() { return 7; }
p.get = seven;
print p.get();
print run(500);
P = nil;
print add(1, 2);
"""


@pytest.mark.parametrize("mode", sorted({**TIERS, **STRESS}))
def test_redefined_functions_and_shadowed_methods_print_what_the_interpreter_does(mode):
    out, err, status = run(CALLS, **{**TIERS, **STRESS}[mode])
    assert (out, err, status) == ("124750\n-124750\n7\n-124750\n-1\n", "", 0)


def test_compiled_code_assumes_a_global_function_and_says_so():
    """`run`'s compiled loop calls `add` and `P` with no check of the callee (both
    assumed); redefining add breaks the assumption and drops that version."""
    out, err, status = run(CALLS, tier="jit", trace=frozenset({"tier"}), stats=True)
    assert status == 0
    assumes = [line for line in err.splitlines() if " assumes " in line]
    assert any("global(add)" in line and "global(P)" in line for line in assumes), assumes
    assert "assumption broken: global(add) ('add' assigned)" in err
    assert "assumptions registered" in err and "trampled regions" in err


def test_the_interpreter_never_runs_a_version_that_relies_on_assumptions():
    """Whenever a call runs in the interpreter (no native code yet, or entries nested too
    deep) it runs the newest version that assumes nothing, so a broken assumption cannot
    reach an interpreter frame."""
    from offramp.ir.nodes import Function, FunctionVersion
    from offramp.ir.types import FuncSig
    plain, assuming = FunctionVersion("f", "v1"), FunctionVersion("f", "s1")
    assuming.assumptions = frozenset({("global", "g")})
    func = Function("f", FuncSig((), ()), [plain, assuming])
    assert func.current is assuming and func.interpretable is plain


def test_assumption_stress_breaks_every_assumption_and_the_output_stays():
    out, err, status = run(REASSIGNED_WHILE_RUNNING, tier="eager", assumption_stress=2,
                           trace=frozenset({"tier"}))
    assert (out, status) == ("the worker saw the new f\n2\n", 0)
    assert "--assumption-stress" in err


def test_an_osr_clone_invalidated_at_its_entry_poll_declines_and_the_loop_enters_again():
    # Handshake stress makes the clone's entry poll stop; assumption stress breaks what
    # the clone assumed (unwatched(g)) in that very runtime entry: its trampled entry
    # hands the interpreter back the frame that entered, whose loop re-enters later.
    source = "var g = 0;\nvar i = 0;\nwhile (i < 3000) {\n  g = g + i;\n  i = i + 1;\n}\nprint g;\n"
    out, err, status = run(source, tier="jit", handshake_stress=1, assumption_stress=2,
                           trace=frozenset({"deopt", "osr"}))
    assert (status, out) == (0, "4.4985e+06\n")
    assert "[deopt] entry 'osr entry declined'" in err
    assert "[osr] re-enter" in err.split("osr entry declined")[1]
