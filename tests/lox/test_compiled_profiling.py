"""Code compiled before its profile keeps profiling and is compiled again once it has one:
eager mode's first compilations, and rare blocks of loops entered by OSR
(speculate.keep_profiling, LoxRuntime.profile, TierPolicy.reoptimize)."""
import io

import pytest

from offramp.config import Config
from offramp.lox import runtime
from offramp.lox.driver import run_lox


def run(source, **config):
    out, err = io.StringIO(), io.StringIO()
    status = run_lox(source, "test.lox", Config(**config), out, err)
    return status, out.getvalue(), err.getvalue()


def instances(n: int) -> str:
    return f"""
class P {{ init(x, y) {{ this.x = x; this.y = y; }} }}
var s = 0;
for (var i = 0; i < {n}; i = i + 1) {{ var p = P(i, 1); s = s + p.x; }}
print s;
"""


def test_eager_code_is_compiled_again_with_the_profile_it_recorded():
    status, out, err = run(instances(2000), tier="eager", stats=True, trace=("tier",))
    assert (status, out) == (0, "1.999e+06\n")
    assert "compiling @lox.fn0.script again: profiled site" in err
    assert "compiling @lox.fn1.init again: profiled site" in err
    assert "compiled again with a profile: 2" in err
    # the recompiled loop speculates on numbers, as jit's does, and calls the class P
    # with no check: the global P is assumed to keep it
    guards = next(line for line in err.splitlines() if line.startswith("guards by"))
    assert "'not a number'" in guards and "'not the class'" not in guards
    assert "osr.header4 VERSION %s1 assumes global(P)" in err


def test_recompiled_code_stops_profiling(monkeypatch):
    """The profiling calls are a bounded start-up cost: a ten times longer loop makes no
    more of them."""
    calls = []
    original = runtime.LoxRuntime.profile

    def counting(self, key, value):
        calls.append(key)
        return original(self, key, value)
    monkeypatch.setattr(runtime.LoxRuntime, "profile", counting)
    counts = []
    for n in (300, 3000):
        calls.clear()
        assert run(instances(n), tier="eager")[0] == 0
        counts.append(len(calls))
    assert counts[0] == counts[1] < 20 * runtime.REPROFILE_SAMPLES


PHASES = """
class A { init(v) { this.v = v; } get() { return this.v; } }
class B { init(v) { this.w = v; this.v = v + 1; } get() { return this.v * 2; } }
fun pick(i) { if (i < 120) return A(i); if (i < 200) return B(i); return "s" + "t"; }
var total = 0;
var text = "";
for (var i = 0; i < 260; i = i + 1) {
  var o = pick(i);
  if (i < 200) total = total + o.get(); else text = text + o;
}
print total;
print text == "";
"""


@pytest.mark.parametrize("options", [
    dict(tier="eager"), dict(tier="eager", deopt_stress=1), dict(tier="eager", deopt_stress=3),
    dict(tier="jit"), dict(tier="jit", gc_stress=True)])
def test_types_changing_after_the_recompilation_behave_as_interpreted(options):
    assert run(PHASES, **options) == run(PHASES, tier="interp")


RARE_BLOCK = """
class P { init(x) { this.x = x; } }
var p = P(2);
var a = 0;
var b = 0;
for (var i = 0; i < 3000; i = i + 1) {
  if (i < 1000) a = a + 1; else b = b + p.x * i;
}
print a;
print b;
"""


def test_a_rare_block_of_an_osr_loop_gets_compiled_with_its_profile_once_hot():
    """The loop is entered by OSR while its `else` block has never run: the block is
    compiled generic and profiling, and the loop again once it has run enough."""
    status, out, err = run(RARE_BLOCK, tier="jit", stats=True, trace=("tier",))
    assert (status, out) == run(RARE_BLOCK, tier="interp")[:2]
    assert "compiling @lox.fn0.script.osr." in err and "again: profiled site" in err
    assert "compiled again with a profile: 1" in err
