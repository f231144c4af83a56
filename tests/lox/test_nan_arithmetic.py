"""NaNs, infinities and signed zeros through + - * / and the comparisons, hot and cold, in
every tier: the same output as clox, whose arithmetic is x86-64's (a NaN operand is the
result, the first when both are; invalid operations give the negative default NaN).

The program's last 445 lines (every pair of seven special values, then three constant
expressions) were checked against clox; the tiers are compared with the interpreter,
and the lines where LLVM's own NaN rules would differ are checked literally."""
import pytest

from tests.conftest import REPO_ROOT, run_offramp

PROGRAM = REPO_ROOT / "tests" / "lox" / "programs" / "nan_arithmetic.lox"
MODES = {
    "eager": ["--tier=eager"],
    "jit": ["--tier=jit"],
    "deopt-stress": ["--tier=eager", "--deopt-stress=3"],
}


@pytest.fixture(scope="module")
def expected():
    result = run_offramp(["run", str(PROGRAM), "--tier=interp"])
    assert result.returncode == 0
    return result.stdout


def test_constant_expressions_follow_x86(expected):
    assert expected.splitlines()[-3:] == ["-nan", "nan", "-nan"]


@pytest.mark.parametrize("mode", MODES)
def test_every_tier_computes_nans_as_clox_does(mode, expected):
    result = run_offramp(["run", str(PROGRAM), *MODES[mode]])
    assert (result.returncode, result.stdout) == (0, expected)
