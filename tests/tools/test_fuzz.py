"""The differential fuzzer: generated programs are valid, the shrinker shrinks, and a fixed
sample of seeds behaves the same in the interpreter and every native mode."""
import io
import re

import pytest

from offramp.config import Config
from offramp.lox.driver import run_lox
from offramp.lox.parser import parse_program
from offramp.tools.fuzz import campaign as fuzz
from offramp.tools.fuzz.lox_gen import generate, generate_tree, uses_extensions
from offramp.tools.fuzz.shrink import shrink_lines, shrink_tree
from offramp.tools.fuzz.tree import block, render, seq, size, stmt

DIFFERENTIAL_SEEDS = (8, 12, 28, 40, 47)  # varied sections, a planned error, gc-stress (40)
SLOW_DIFFERENTIAL_SEEDS = range(100, 160)


@pytest.mark.parametrize("chunk", range(0, 300, 50))
def test_generated_programs_compile_in_our_front_end(chunk):
    for seed in range(chunk, chunk + 50):
        _, errors = parse_program(generate(seed))
        assert errors == [], f"seed {seed}: {errors}"


def test_generation_is_deterministic_and_seeds_differ():
    assert generate(7) == generate(7) == render(generate_tree(7)) + "\n"
    assert generate(7) != generate(8)


def test_generated_programs_cover_the_features():
    texts = [generate(seed) for seed in range(120)]
    everything = "".join(texts)
    for construct in ("super.init(", "super.m(", "init(x)", "deoptHere();", "Array(",
                      ".length()", "(0/0)", "(-0)", "HUGE * 10", "TINY / 10000000000",
                      "BIG53 + 1", "return", "while (", "fun make", "= get;",
                      'print "unreachable";', ".m = "):
        assert construct in everything, construct
    assert re.search(r"for \(var j\d+ = 0;.*\n.*return", everything)
    assert any(not uses_extensions(text) for text in texts)
    loop_counts = [int(n) for n in re.findall(r"for \(var i = 0; i < (\d+);", everything)]
    assert max(loop_counts) >= 200 and min(loop_counts) >= 3


def run_interp(text: str) -> tuple:
    """Run a Lox program in the interpreter in this process: (status, stdout)."""
    out, err = io.StringIO(), io.StringIO()
    status = run_lox(text, "fuzz.lox", Config(tier="interp"), out, err)
    return status, out.getvalue()


def test_shrinker_keeps_a_construct_and_drops_the_rest():
    construct = "super.m(y)"
    tree = generate_tree(next(seed for seed in range(100) if construct in generate(seed)))

    def still_has(candidate: str) -> bool:
        return construct in candidate and not parse_program(candidate)[1]

    small, _ = shrink_tree(tree, still_has, max_tests=3000, seconds=60)
    assert still_has(render(small))
    assert size(small) * 4 < size(tree)
    assert len(render(small)) * 4 < len(render(tree))


def test_shrinker_unwraps_blocks():
    tree = seq([stmt("if (true) ", block([stmt("print 2;"), stmt("print 3;")]))])

    def prints_a_two(candidate: str) -> bool:
        return "2" in run_interp(candidate)[1].splitlines()

    small, _ = shrink_tree(tree, prints_a_two)
    assert render(small) == "print 2;"


def test_shrinker_keeps_a_printed_line_under_the_interpreter():
    tree = generate_tree(12)
    status, output = run_interp(render(tree))
    assert status == 0
    wanted = output.splitlines()[-1]

    def still_prints(candidate: str) -> bool:
        status, out = run_interp(candidate)
        return status == 0 and wanted in out.splitlines()

    small, tests = shrink_tree(tree, still_prints, max_tests=150, seconds=60)
    assert still_prints(render(small))
    assert len(render(small)) * 2 < len(render(tree)), (tests, render(small))


def test_line_shrinker_keeps_the_lines_that_matter():
    text = "\n".join(f"print {n};" for n in range(40))

    def prints_seven_then_thirty(candidate: str) -> bool:
        printed = run_interp(candidate)[1].splitlines()
        return "7" in printed and "30" in printed[printed.index("7"):]

    small, _ = shrink_lines(text, prints_seven_then_thirty)
    assert small == "print 7;\nprint 30;"


def test_signatures_name_the_kind_of_failure():
    ok = fuzz.Outcome("1\n", "", 0)
    llvm = fuzz.Outcome("", "error: <unknown>:0:0: ran out of registers during register "
                            "allocation in function 'n2.lox.fn6'\n", 1)
    assert fuzz.difference_signature(ok, llvm) == \
        "exit 1 + LLVM error: error: <unknown>:N:N: ran out of registers during register allocation"
    traceback = fuzz.Outcome("", "Traceback (most recent call last):\n  ...\nKeyError: 3\n", 1)
    assert fuzz.difference_signature(ok, traceback) == "exit 1 + Python traceback: KeyError"
    internal = fuzz.Outcome("", "offramp: internal error: VMError: internal error in the runtime "
                                "entry: HeapError('dangling reference 0x7f1 (freed memory)')\n", 70)
    assert fuzz.difference_signature(ok, internal) == \
        "exit 70 + internal error: VMError: internal error in the runtime entry: HeapError"
    assert fuzz.difference_signature(ok, fuzz.Outcome("2.5\n", "", 0)) == \
        "stdout differs: N / N.N"
    assert fuzz.difference_signature(fuzz.Outcome("-nan\n", "", 0), fuzz.Outcome("nan\n", "", 0)) \
        == "stdout differs: -nan / nan"
    assert fuzz.difference_signature(ok, fuzz.Outcome("1\n", "", 70)) == "exit 70 (expected 0)"
    assert fuzz.difference_signature(ok, fuzz.Outcome("", "", -1, timed_out=True)) == "timeout"
    assert fuzz.difference_signature(ok, fuzz.Outcome("", "", -11)) == "killed by SIGSEGV"
    assert fuzz.difference_signature(ok, ok) is None


def test_saved_findings_count_toward_the_cap_of_the_next_campaign(tmp_path):
    campaign = fuzz.Campaign(fuzz.KINDS["lox"], ["jit"], tmp_path, clox="/bin/clox")
    ok, bad = fuzz.Outcome("1\n", "", 0), fuzz.Outcome("", "boom", -11)
    for seed, mode in ((4, "jit"), (9, "clox")):
        finding = fuzz.Finding(fuzz.KINDS["lox"], seed, mode, ["--tier=jit"],
                               fuzz.difference_signature(ok, bad), ok, bad)
        fuzz.save_finding(campaign, finding, "print 1;\n", "note")
    assert fuzz.saved_findings(tmp_path, fuzz.KINDS["lox"]) == {
        "killed by SIGSEGV": {4}, "clox: killed by SIGSEGV": {9}}
    assert fuzz.saved_findings(tmp_path, fuzz.KINDS["ir"]) == {}


def test_a_kind_without_its_generator_says_so():
    with pytest.raises(fuzz.MissingGenerator, match="not built"):
        fuzz.load("offramp.tools.fuzz.no_such_generator:generate")
    assert fuzz.KINDS["ir"].generator == "offramp.tools.fuzz.ir_gen:generate"


def test_deopt_stress_mode_draws_its_options_from_the_seed():
    options = {tuple(fuzz.MODES["deopt-random"].options(seed)) for seed in range(40)}
    assert {opts[0] for opts in options} == {"--tier=jit", "--tier=eager"}
    assert {int(opts[1].split("=")[1]) for opts in options} == set(range(2, 8))
    assert fuzz.MODES["gc-stress"].runs_on(20) and not fuzz.MODES["gc-stress"].runs_on(21)


def differential(seeds, tmp_path) -> list:
    """Run the seeds in every mode (gc-stress on its sample); the findings' lines."""
    campaign = fuzz.Campaign(fuzz.KINDS["lox"], list(fuzz.MODES), tmp_path, shrink=False,
                             timeout=120)
    lines = []
    for seed in seeds:
        for finding in fuzz.run_seed(campaign, generate, seed):
            lines.append(f"seed {seed} [{finding.mode}] {finding.signature}")
    assert campaign.runs["interp"] == len(seeds)
    return lines


def test_a_fixed_sample_behaves_the_same_in_every_mode(tmp_path):
    assert differential(DIFFERENTIAL_SEEDS, tmp_path) == []


def test_the_offramp_fuzz_command_runs_a_campaign(run_offramp, tmp_path):
    done = run_offramp(["fuzz", "--seeds", "12:13", "--modes", "jit", "--out", str(tmp_path)])
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^interp +1 +0$", done.stdout, re.M)
    assert re.search(r"^jit +1 +0$", done.stdout, re.M)
    bad = run_offramp(["fuzz", "--modes", "jit,warp"])
    assert bad.returncode == 64 and "unknown mode(s) warp" in bad.stderr


@pytest.mark.slow
def test_a_larger_sample_behaves_the_same_in_every_mode(tmp_path):
    assert differential(SLOW_DIFFERENTIAL_SEEDS, tmp_path) == []
