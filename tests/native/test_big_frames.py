"""Frame states of any size compile: many values live across calls, guards and exits.

LLVM's register allocators cannot spill a patchpoint's live values (they must all sit in
registers at once) and report running out by exiting the process; deopt exits are
statepoints, whose values LLVM spills itself.  Each program runs as a separate process —
an LLVM exit must fail the test, not end the test runner — in every native mode and is
compared with the interpreter.
"""
import pytest

from tests.conftest import run_offramp

MODES = {
    "eager": ["--tier=eager"],
    "deopt-stress": ["--tier=eager", "--deopt-stress=1"],
    "jit": ["--tier=jit"],
}

SEVEN_ACROSS_A_CALL = """
fun id(a) { return a; }
fun f(p) {
  var v1 = p + 1; var v2 = p + 2; var v3 = p + 3; var v4 = p + 4;
  var v5 = p + 5; var v6 = p + 6; var v7 = p + 7;
  id(p);
  print v1 + v2 + v3 + v4 + v5 + v6 + v7;
}
f(1);
"""

CALL_TARGET_CHANGES = """
fun f(p, g) {
  var v1 = p + 1; var v2 = p + 2; var v3 = p + 3; var v4 = p + 4;
  var v5 = p + 5; var v6 = p + 6; var v7 = p + 7;
  g(p);
  return v1 + v2 + v3 + v4 + v5 + v6 + v7;
}
fun a(x) { return x; }
fun b(x) { return x; }
var s = 0;
for (var i = 0; i < 100; i = i + 1) { if (i < 50) s = s + f(i, a); else s = s + f(i, b); }
print s;
"""


def many_locals(n: int, scale: str) -> str:
    """n locals computed from the parameter, all live across a call and a type guard that
    fails on the last call (the exit's frame state holds every one of them)."""
    decls = "\n".join(f"  var v{i} = p * {scale} + {i};" for i in range(n))
    total = " + ".join(f"v{i}" for i in range(n))
    return f"""
fun other(x) {{ return x; }}
var callee = other;
fun f(p, q) {{
{decls}
  callee(p);
  var r = q + 1;
  return {total} + r;
}}
var s = 0;
for (var i = 0; i < 80; i = i + 1) s = s + f(i, i);
print s;
callee = clock;
print f(1, 2) > 0;
print f(2, "x");
"""


PROGRAMS = {
    "seven-across-a-call": SEVEN_ACROSS_A_CALL,
    "call-target-changes": CALL_TARGET_CHANGES,
    "sixty-numbers": many_locals(60, "1"),
    "forty-doubles": many_locals(40, "0.37"),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", PROGRAMS)
def test_big_frame_states_compile_and_match_the_interpreter(name, mode, tmp_path):
    path = tmp_path / f"{name}.lox"
    path.write_text(PROGRAMS[name])
    expected = run_offramp(["run", str(path), "--tier=interp"])
    got = run_offramp(["run", str(path), *MODES[mode]])
    assert (got.returncode, got.stdout, got.stderr) == (
        expected.returncode, expected.stdout, expected.stderr)


def test_a_site_beyond_the_stack_map_format_is_refused_before_llvm():
    """A record counts its locations in 16 bits: more values would be encoded wrong."""
    from offramp.ir.types import I64
    from offramp.native.lower import MAX_RECORD_LOCATIONS, Lowering, SiteDesc
    from offramp.native.sidetable import FrameDesc
    lowering = Lowering.__new__(Lowering)
    lowering.sites = []
    fits = FrameDesc("f", "v1", "entry", 0, vars=(("x", I64),) * (MAX_RECORD_LOCATIONS - 4))
    assert lowering.new_site(SiteDesc("guard", "fits", (fits,))) == 0
    too_many = FrameDesc("f", "v1", "entry", 0, vars=fits.vars + (("y", I64),))
    with pytest.raises(ValueError, match="at most 65535 locations"):
        lowering.new_site(SiteDesc("guard", "too big", (too_many,)))
