"""A unit that fails to compile is retried with less or left in the interpreter: the
program's behaviour never changes, and the failure is traced and counted.

Each stage of native/stages.COMPILE_STAGES is made to fail (Config.fail_compile_stage),
in the eager and the jit tier; one test also hands LLVM a module it rejects for real.
"""
import io

import pytest

from offramp.config import Config
from offramp.lox.driver import run_lox
from offramp.native import engine as engine_module
from offramp.native.stages import COMPILE_STAGES, CompileError, compile_stage

PROGRAM = """
class Point { init(x) { this.x = x; } sum(k) { return this.x + k; } }
fun f(p, g) {
  var v1 = p + 1; var v2 = p * 2;
  g(p);
  return v1 + v2 + Point(p).sum(1);
}
fun a(x) { return x; }
fun b(x) { return x; }
var s = 0;
for (var i = 0; i < 100; i = i + 1) { if (i < 50) s = s + f(i, a); else s = s + f(i, b); }
print s;
print f("x", a);
"""


def run(source=PROGRAM, **config):
    out, err = io.StringIO(), io.StringIO()
    status = run_lox(source, "test.lox", Config(**config), out, err)
    return status, out.getvalue(), err.getvalue()


def stat(err: str, name: str) -> str:
    return next(line.split(": ", 1)[1] for line in err.splitlines()
                if line.startswith(name + ": "))


@pytest.mark.parametrize("tier", ["eager", "jit"])
@pytest.mark.parametrize("stage", COMPILE_STAGES)
def test_a_failing_stage_never_changes_what_the_program_does(stage, tier):
    expected = run(tier="interp")
    assert expected[0] == 70 and expected[1] == "20000\n"
    status, out, err = run(tier=tier, fail_compile_stage=stage, stats=True,
                           trace=frozenset({"tier"}), verify_ir=True)
    program_err = "\n".join(line for line in err.splitlines()
                            if line.startswith(("[line", "Operands")))
    assert (status, out) == expected[:2]
    assert program_err == expected[2].strip()
    failures = eval(stat(err, "compile failures by stage"))  # a dict literal
    assert set(failures) == {stage} and failures[stage] > 0
    assert f"failed: {stage} failed (InjectedFailure" in err
    if stage == "optimize":      # the retry compiles the unoptimized version
        assert "retrying without optimization" in err
        assert int(stat(err, "compiled versions")) > 0
    else:
        assert "left in the interpreter" in err
        assert int(stat(err, "compiled versions")) == 0
        assert int(stat(err, "units left interpreted")) > 0


def test_llvm_rejecting_a_module_leaves_the_unit_in_the_interpreter(monkeypatch):
    """A real LLVM error (its parser refuses the text) is a failure of the llvm stage."""
    real = engine_module.compile_ir

    def corrupt_units(text, name, *rest):
        """Compiled units (not the engine's own stub) get text LLVM cannot parse."""
        return real(text.replace("ret ", "bogus ") if name.startswith("n") else text, name,
                    *rest)
    monkeypatch.setattr(engine_module, "compile_ir", corrupt_units)
    status, out, err = run(tier="eager", stats=True, trace=frozenset({"tier"}))
    assert (status, out) == run(tier="interp")[:2]
    assert "llvm failed (RuntimeError" in err
    assert int(stat(err, "compiled versions")) == 0


def test_compile_stage_wraps_any_exception_and_names_the_stage():
    with pytest.raises(CompileError) as caught:
        with compile_stage("lower"):
            raise RecursionError("too deep")
    assert caught.value.stage == "lower"
    assert str(caught.value) == "lower failed (RecursionError: too deep)"
    with pytest.raises(ValueError):
        with compile_stage("no such stage"):
            pass
