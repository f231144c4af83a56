"""One guest call depth for every tier: Config.max_frames guest frames (interpreted, native
and inlined alike) fit, one more is `Stack overflow.` with the same trace everywhere; deep
recursion unwinding through invalidated code deoptimizes each frame without walking the
whole native stack again."""
import io

import pytest

from offramp.config import Config
from offramp.lox.codegen import compile_program
from offramp.lox.driver import run_lox
from offramp.lox.parser import parse_program
from offramp.lox.runtime import LoxRuntime

MODES = [dict(tier="interp"), dict(tier="jit"), dict(tier="eager"),
         dict(tier="eager", deopt_stress=1), dict(tier="jit", deopt_stress=3)]
MODE_IDS = ["interp", "jit", "eager", "eager-stress1", "jit-stress3"]
LIMIT = 50


def run(source, **config):
    out, err = io.StringIO(), io.StringIO()
    status = run_lox(source, "test.lox", Config(**config), out, err)
    return status, out.getvalue(), err.getvalue()


COUNT_DOWN = """
fun f(n) { if (n == 0) return 0; return f(n - 1) + 1; }
for (var i = 0; i < 40; i = i + 1) f(3);
print f(DEPTH);
"""

# h and g are inlined into f once f is compiled hot (jit): their frames count all the same.
WITH_INLINED_CALLEES = """
fun g(n) { print n; return n + 1; }
fun h(n) { return g(n) * 1; }
fun f(n) { if (n == 0) return h(0); return f(n - 1) + h(n); }
for (var i = 0; i < 40; i = i + 1) f(3);
print f(DEPTH);
"""

UNBOUNDED = "fun f(n) { return f(n + 1); }\nf(0);\n"


@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
def test_the_script_and_max_frames_minus_one_calls_fit(mode):
    # script + f(48) .. f(0): 50 frames.
    assert run(COUNT_DOWN.replace("DEPTH", str(LIMIT - 2)), max_frames=LIMIT, **mode) == \
        (0, f"{LIMIT - 2}\n", "")


@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
def test_one_frame_more_overflows_with_the_interpreters_trace(mode):
    source = COUNT_DOWN.replace("DEPTH", str(LIMIT - 1))
    expected = run(source, max_frames=LIMIT, tier="interp")
    assert expected[0] == 70 and expected[2].startswith("Stack overflow.\n")
    assert len(expected[2].splitlines()) == 1 + LIMIT
    assert run(source, max_frames=LIMIT, **mode) == expected


@pytest.mark.parametrize("depth", [LIMIT - 4, LIMIT - 3, LIMIT - 2])
@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
def test_inlined_frames_count_towards_the_limit(mode, depth):
    # f(depth) .. f(0), then h and g on top: depth LIMIT - 4 fits exactly.
    source = WITH_INLINED_CALLEES.replace("DEPTH", str(depth))
    expected = run(source, max_frames=LIMIT, tier="interp")
    assert expected[0] == (0 if depth == LIMIT - 4 else 70)
    assert run(source, max_frames=LIMIT, **mode) == expected


@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
def test_unbounded_recursion_prints_max_frames_trace_lines(mode):
    status, out, err = run(UNBOUNDED, max_frames=LIMIT, **mode)
    assert (status, out) == (70, "")
    lines = err.splitlines()
    assert lines[0] == "Stack overflow."
    assert lines[1:] == ["[line 1] in f()"] * (LIMIT - 1) + ["[line 2] in script"]


@pytest.mark.parametrize("tier", ["jit", "eager"])
def test_default_limit_is_the_interpreters_in_native_tiers(tier):
    source = "fun f(n) { if (n == 0) return 0; return f(n - 1) + 1; }\nprint f(12000);\n"
    expected = run(source, tier="interp")
    assert expected[0] == 70
    assert run(source, tier=tier) == expected


INVALIDATED_UNDER_RECURSION = """
fun f(n, x) { if (n == 0) return x; var r = f(n - 1, x); return r + x; }
for (var i = 0; i < 100; i = i + 1) f(10, 1);
print f(3000, "") == "";
"""


def test_deep_recursion_after_an_invalidation_walks_the_stack_once():
    # The strings make f's number guards fail as the recursion unwinds: its code is
    # invalidated and the ~3000 frames still running leave it lazily, one by one.
    out, err = io.StringIO(), io.StringIO()
    script, errors = parse_program(INVALIDATED_UNDER_RECURSION)
    assert not errors
    runtime = LoxRuntime(compile_program(script, profile=True), Config(tier="jit"), out, err)
    runtime.run()
    assert out.getvalue() == "true\n"
    engine = runtime.vm.tiers.engine
    assert engine.deopts["lazy deopt"] > 2900
    # One walk of the native stack at the invalidation, not one per lazy deopt.
    assert engine.lazy_frames_walked <= 3100
