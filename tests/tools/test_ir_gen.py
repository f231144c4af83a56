"""The random IR program generator: its programs verify, use every form it promises, and
run the same way in every tier (the interpreter is the oracle).

Bugs its campaigns found have their reduced programs as regression tests next to the code
they broke: tests/native/test_deopt.py (deopt exits with more values than -O0 codegen has
registers) and tests/opt/test_osr.py (OSR into the innermost of three nested loops)."""
import io

import pytest

from offramp.config import Config
from offramp.ir.text import parse_module
from offramp.ir.verify import verify_module
from offramp.runtime.ir_runner import run_ir
from offramp.tools.fuzz.ir_gen import generate

MODES = {"interp": {"tier": "interp"}, "eager": {"tier": "eager"},
         "eager --deopt-stress=1": {"tier": "eager", "deopt_stress": 1},
         "jit": {"tier": "jit"}}
SAMPLE = (0, 4, 5, 8)           # traps, deopts and code made hot mid-run in each
LARGER_SAMPLE = range(20, 60)


def run_in(source: str, mode: str) -> tuple:
    """(exit status, stdout, stderr) of running IR text as `offramp run` does."""
    out, err = io.StringIO(), io.StringIO()
    status = run_ir(source, "gen.ir", Config(**MODES[mode]), out, err)
    return status, out.getvalue(), err.getvalue()


def assert_same_in_every_tier(source: str) -> None:
    expected = run_in(source, "interp")
    assert expected[0] in (0, 70), expected
    for mode in list(MODES)[1:]:
        assert run_in(source, mode) == expected, mode


def test_many_seeds_give_programs_that_verify():
    for seed in range(40):
        verify_module(parse_module(generate(seed), f"seed{seed}.ir"))


def test_the_same_seed_gives_the_same_program():
    assert generate(12) == generate(12)
    assert generate(12) != generate(13)


def test_programs_use_every_promised_form():
    text = "\n".join(generate(seed) for seed in range(15))
    for form in ("GUARD", "ELSE DEOPT", "\n    DEOPT", "PARENT", "TRAP <@void>",
                 "TRAP <@double>", "WATCHPOINT", "@watchpoint.enable", "CALL", "KEEPALIVE",
                 "SAFEPOINT", "SWITCH", "SDIV", "FPTOSI", "SITOFP", "TRUNC", "SEXT",
                 "BITCAST", "SELECT", "LOAD", "STORE", "@error", "<@i1>", "<@i8>", "<@i16>",
                 "<@i32>", "<@i64>", "<@double>"):
        assert form in text, form


@pytest.mark.parametrize("seed", SAMPLE)
def test_generated_program_runs_the_same_in_every_tier(seed):
    assert_same_in_every_tier(generate(seed))


@pytest.mark.slow
@pytest.mark.parametrize("seed", LARGER_SAMPLE)
def test_more_generated_programs_run_the_same_in_every_tier(seed):
    assert_same_in_every_tier(generate(seed))


def test_the_command_runs_a_generated_program_the_same_in_every_tier(run_offramp, tmp_path):
    path = tmp_path / "gen.ir"
    path.write_text(generate(8))
    results = [run_offramp(["run", str(path), *mode])
               for mode in (["--tier=interp"], ["--tier=eager"],
                            ["--tier=eager", "--deopt-stress=1"], ["--tier=jit"])]
    assert results[0].returncode in (0, 70)
    for result in results[1:]:
        assert (result.returncode, result.stdout, result.stderr) == (
            results[0].returncode, results[0].stdout, results[0].stderr)
