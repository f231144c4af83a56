"""The fallback to the interpreter (tiering.py) must not hide a broken native tier: on the
conformance sample, the benchmarks' shapes and the examples, in every native mode, no
compilation fails (each failure is a `[tier] compiling @f failed: ...` line)."""
import pytest

from tests.conftest import REPO_ROOT
from tests.lox.test_suite import SUITE, gc_stress_sample

MODES = {
    "eager": ["--tier=eager"],
    "deopt-stress": ["--tier=eager", "--deopt-stress=1"],
    "jit": ["--tier=jit"],
}
PROGRAMS = [SUITE / p for p in gc_stress_sample()] + sorted(
    (REPO_ROOT / "examples").glob("*.lox")) + [
    REPO_ROOT / "tests" / "lox" / "programs" / "nan_arithmetic.lox"]


@pytest.mark.parametrize("mode", MODES)
def test_no_compilation_fails(mode, run_offramp):
    failed = []
    for path in PROGRAMS:
        result = run_offramp(["run", str(path), "--trace=tier", *MODES[mode]])
        failed += [f"{path.name}: {line}" for line in result.stderr.splitlines()
                   if line.startswith("[tier] compiling") and " failed: " in line]
    assert failed == []
