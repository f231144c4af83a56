"""The threaded-program generator: its programs are valid Lox, it is deterministic, it
covers the thread constructs, and a fixed sample of seeds prints the same in the
interpreter and the native modes whatever the interleaving."""
import io
import re

import pytest

from offramp.config import Config
from offramp.lox.driver import run_lox
from offramp.lox.parser import parse_program
from offramp.tools.fuzz import campaign as fuzz
from offramp.tools.fuzz.thread_gen import generate, generate_tree
from offramp.tools.fuzz.tree import render

MODES = {
    "interp": dict(tier="interp"),
    "jit": dict(tier="jit"),
    "eager": dict(tier="eager"),
    "eager-deopt1": dict(tier="eager", deopt_stress=1),
    "jit-handshake1": dict(tier="jit", handshake_stress=1),
    "eager-handshake7": dict(tier="eager", handshake_stress=7),
}
FAST_MODES = ("jit", "eager", "eager-handshake7")
DIFFERENTIAL_SEEDS = (1, 14, 55, 82)  # small: nested spawns, queues, deadlocks, an error
SLOW_DIFFERENTIAL_SEEDS = range(200, 230)


def run(text: str, **config) -> tuple:
    """Run a Lox program in this process: (stdout, stderr, status)."""
    out, err = io.StringIO(), io.StringIO()
    status = run_lox(text, "threads.lox", Config(**config), out, err, io.BytesIO(b""))
    return out.getvalue(), err.getvalue(), status


@pytest.mark.parametrize("chunk", range(0, 300, 100))
def test_generated_programs_compile_in_our_front_end(chunk):
    for seed in range(chunk, chunk + 100):
        _, errors = parse_program(generate(seed))
        assert errors == [], f"seed {seed}: {errors}"


def test_generation_is_deterministic_and_seeds_differ():
    assert generate(7) == generate(7) == render(generate_tree(7)) + "\n"
    assert generate(7) != generate(8)


def test_generated_programs_cover_the_thread_constructs():
    texts = [generate(seed) for seed in range(150)]
    everything = "".join(texts)
    for construct in ("spawn(", "join(", "Lock()", ".acquire();", ".release();",
                      "Array(", "deoptHere();", ").run", "fun run()", "group0()",
                      "print s", "== \"s\" or", "put(", "take()", "this.k", "join(spawn(",
                      "locks.get(next).acquire();", "return join(", "print \"unreachable\";",
                      "main();", "Node(", "+ \"", "alt;"):
        assert construct in everything, construct
    assert re.search(r"var s\d+turn = 0;", everything)     # a relay of prints
    loops = [int(n) for n in re.findall(r"for \(var i = 0; i < (\d+);", everything)]
    assert max(loops) >= 10000 and sum(n >= 2000 for n in loops) >= 20   # hot: OSR
    threads = [len(re.findall(r"spawn\(", text)) for text in texts]
    assert max(threads) >= 8 and min(threads) >= 1


def test_endings_are_mixed():
    endings = {"unreachable": 0, "Deadlock": 0, "normal": 0}
    for seed in range(60):
        text = generate(seed)
        if 'print "unreachable";' in text:
            endings["unreachable"] += 1
        elif "hold()" in text or "locks.get" in text or "return join(" in text:
            endings["Deadlock"] += 1
        else:
            endings["normal"] += 1
    assert all(endings.values()), endings


@pytest.mark.parametrize("seed", DIFFERENTIAL_SEEDS)
def test_a_fixed_sample_prints_the_same_in_every_tier(seed):
    text = generate(seed)
    expected = run(text, **MODES["interp"])
    assert "Traceback" not in expected[1]
    for mode in FAST_MODES:
        assert run(text, **MODES[mode]) == expected, (seed, mode)


def test_the_campaign_knows_the_kind_and_its_modes():
    kind = fuzz.KINDS["threads"]
    assert kind.generator == "offramp.tools.fuzz.thread_gen:generate"
    assert not kind.clox_comparable
    assert {"handshake1", "handshake7", "jit", "eager"} <= set(kind.default_modes)
    assert fuzz.MODES["handshake1"].options(3) == ["--tier=jit", "--handshake-stress=1"]
    assert fuzz.MODES["handshake7"].options(3) == ["--tier=eager", "--handshake-stress=7"]


def test_the_campaign_runs_a_threaded_seed(tmp_path):
    campaign = fuzz.Campaign(fuzz.KINDS["threads"], ["jit", "handshake7"], tmp_path,
                             shrink=False, timeout=120)
    assert fuzz.run_seed(campaign, generate, DIFFERENTIAL_SEEDS[0]) == []
    assert campaign.runs == {"interp": 1, "jit": 1, "handshake7": 1}


@pytest.mark.slow
@pytest.mark.parametrize("seed", SLOW_DIFFERENTIAL_SEEDS)
def test_a_larger_sample_prints_the_same_in_every_mode(seed):
    text = generate(seed)
    expected = run(text, **MODES["interp"])
    for mode in MODES:
        assert run(text, **MODES[mode]) == expected, (seed, mode)
