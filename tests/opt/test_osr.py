"""OSR entry clones: enter a loop at any iteration; deopts resume the right iteration."""
import pytest

from offramp.ir.text import parse_module, print_module
from offramp.ir.verify import verify_module
from offramp.opt.osr import held_by, osr_entry
from offramp.runtime.vm import VM

from tests.ir.test_analysis import NESTED_LOOPS

from .helpers import frames_of, load, run

# v1 is the baseline with a probe trap at the loop header; v2 the speculative version
# whose guard gives up at i = 50 and resumes v1's header (the probe) at that iteration.
LOOP = """
.funcdef @f VERSION %v1 <@binary> {
  %entry(<@i64> %n <@i64> %step):
    BRANCH %head(0 0)
  %head(<@i64> %i <@i64> %acc):
    [%probe] TRAP <@void> KEEPALIVE(%i %acc)
    %more = SLT <@i64> %i %n
    BRANCH2 %more %body() %exit()
  %body():
    %sq = MUL <@i64> %i %i
    %acc2 = ADD <@i64> %acc %sq
    %i2 = ADD <@i64> %i %step
    BRANCH %head(%i2 %acc2)
  %exit():
    RET (%acc)
}
.funcdef @f VERSION %v2 <@binary> {
  %entry(<@i64> %n <@i64> %step):
    BRANCH %head(0 0)
  %head(<@i64> %i <@i64> %acc):
    %more = SLT <@i64> %i %n
    BRANCH2 %more %body() %exit()
  %body():
    %small = SLT <@i64> %i 50
    GUARD %small ELSE DEOPT "i reached 50" [@f %v1 %head 0 (%i=%i %acc=%acc %n=%n %step=%step)]
    %sq = MUL <@i64> %i %i
    %acc2 = ADD <@i64> %acc %sq
    %i2 = ADD <@i64> %i %step
    BRANCH %head(%i2 %acc2)
  %exit():
    RET (%acc)
}
"""


def total(n, step=1):
    return sum(i * i for i in range(0, n, step))


def probing_vm(module, capture_at=None, live_names=()):
    """A VM recording every probe (frames, i, acc) and, once, the header's live values."""
    vm = VM(module)
    probes, captured = [], {}

    def handler(ctx):
        cursor = ctx.cursor()
        i, acc = cursor.keepalives()
        probes.append((frames_of(ctx), i, acc))
        if i == capture_at and not captured:
            captured.update({name: cursor.value(name) for name in live_names})
        return ctx.pass_values()
    vm.set_trap_handler(handler)
    return vm, probes, captured


def test_clone_signature_and_live_names():
    module = load(LOOP)
    v1 = module.functions["f"].version("v1")
    clone, live = osr_entry(module, v1, "head")
    assert live == ["i", "acc", "n", "step"]      # header parameters, then sorted others
    assert clone.name == "f.osr.head" and module.functions["f.osr.head"] is clone
    assert len(clone.sig.params) == 4 and clone.sig.results == module.functions["f"].sig.results
    entry = clone.current.blocks[0]
    assert [n for n, _ in entry.params][2:] == ["n", "step"]
    assert [b.label for b in clone.current.blocks[1:]] == ["head", "body", "exit"]
    verify_module(module)
    assert print_module(parse_module(print_module(module))) == print_module(module)
    again, _ = osr_entry(module, v1, "head")
    assert again.name == "f.osr.head.1"


@pytest.mark.parametrize("k", [0, 7, 19, 20])
def test_entering_at_an_interpreted_iteration_gives_the_same_result(k):
    module = load(LOOP.replace("%small = SLT <@i64> %i 50", "%small = SLT <@i64> %i 1000"))
    v1 = module.functions["f"].version("v1")
    clone, live = osr_entry(module, v1, "head")
    vm, probes, captured = probing_vm(module, capture_at=k, live_names=live)
    assert run(vm, v1, [20, 1]) == total(20)
    assert captured == {"i": k, "acc": total(k), "n": 20, "step": 1}
    probes.clear()
    assert vm.call(clone.name, [captured[n] for n in live]) == total(20)
    # The clone runs the rest of the loop: probes from iteration k on, in its own frame.
    assert [p[1] for p in probes] == list(range(k, 21))
    assert probes[0][0] == [(clone.name, "v1", "head", 0)]


@pytest.mark.parametrize("start", [0, 10, 49])
def test_guard_failing_after_osr_entry_resumes_that_iteration_in_the_original(start):
    module = load(LOOP)
    v2 = module.functions["f"].version("v2")
    clone, live = osr_entry(module, v2, "head")
    verify_module(module)
    vm, probes, _ = probing_vm(module)
    args = {"i": start, "acc": total(start), "n": 80, "step": 1}
    assert vm.call(clone.name, [args[n] for n in live]) == total(80)
    assert vm.interp.deopts == {"i reached 50": 1}
    # The first probe is v1's header at iteration 50, in a frame of the original f.
    assert probes[0] == ([("f", "v1", "head", 0)], 50, total(50))
    assert [p[1] for p in probes] == list(range(50, 81))


def test_osr_clone_without_deopt_never_leaves_it():
    module = load(LOOP)
    v2 = module.functions["f"].version("v2")
    clone, live = osr_entry(module, v2, "head")
    vm, probes, _ = probing_vm(module)
    args = {"i": 3, "acc": total(3), "n": 40, "step": 2}
    assert vm.call(clone.name, [args[n] for n in live]) == sum(i * i for i in range(0, 3)) + \
        sum(i * i for i in range(3, 40, 2))
    assert probes == [] and vm.interp.deopts == {}


def test_a_live_in_redefined_after_the_header_gets_a_header_parameter():
    """x is live into %head and defined in %a, which %head reaches: the clone's header
    takes x as a new parameter, from the entry on the first pass and from %a after."""
    module = load("""
.funcdef @f VERSION %v1 <@unary> {
  %entry(<@i64> %n):
    BRANCH %a(0)
  %a(<@i64> %i):
    %x = ADD <@i64> %i 1
    BRANCH %head()
  %head():
    %more = SLT <@i64> %x %n
    BRANCH2 %more %a(%x) %exit()
  %exit():
    RET (%x)
}""")
    baseline = module.functions["f"].current
    clone, live = osr_entry(module, baseline, "head")
    verify_module(module)
    assert live == ["n", "x"]
    assert [name for name, _ in clone.current.block("head").params] == ["x.osr"]
    # Where %a's definition does not reach (the header, the exit), x.osr holds x.
    assert held_by(clone.current, baseline) == {"a": {}, "head": {"x": "x.osr"},
                                                "exit": {"x": "x.osr"}}
    vm = VM(module)
    assert vm.call(clone.name, [9, 4]) == 9 and vm.call(clone.name, [3, 7]) == 7
    again, live = osr_entry(module, baseline, "a")
    assert live == ["i", "n"]
    assert VM(module).call(again.name, [4, 9]) == 9




@pytest.mark.parametrize("i,j", [(0, 0), (2, 3), (4, 6)])
def test_an_inner_loop_reading_the_outer_counter_is_entered_mid_way(i, j):
    module = load(NESTED_LOOPS)
    clone, live = osr_entry(module, module.functions["f"].current, "inner")
    verify_module(module)
    assert live == ["j", "a", "i", "m", "n"]
    n, m = 5, 7
    acc = sum(x * y for x in range(i) for y in range(m)) + sum(i * y for y in range(j))
    want = sum(x * y for x in range(n) for y in range(m))
    assert VM(module).call(clone.name, [j, acc, i, m, n]) == want


NESTED_FOUR_DEEP = """
fun calc(a, b, c) { return a * 100 + b * 10 + c; }
var total = 0;
for (var q = 0; q < 2; q = q + 1) {
  for (var r = 0; r < 3; r = r + 1) {
    for (var i = 0; i < 7; i = i + 1) {
      for (var j = 0; j < 7; j = j + 1) {
        total = total + calc(r, i, j) + q;
        if (j == 6 and i == 6) print total;
      }
    }
  }
}
print total;
"""


@pytest.mark.parametrize("tier", ["jit", "eager"])
def test_entry_at_an_inner_loop_sees_every_outer_loop_go_round(tier):
    """Entered at the innermost header, the clone must merge each outer counter at every
    header it passes (SSA rebuilt at the joins), not only at the entry's header: with
    one merge there, the outer counters stayed at their entry values and the outer
    loops never ended."""
    import io
    from offramp.config import Config
    from offramp.lox.driver import run_lox

    def run(**config):
        out, err = io.StringIO(), io.StringIO()
        status = run_lox(NESTED_FOUR_DEEP, "nested.lox", Config(**config), out, err)
        return status, out.getvalue(), err.getvalue()
    expected = run(tier="interp")
    assert expected[0] == 0 and len(expected[1].splitlines()) == 7
    assert run(tier=tier, verify_ir=True) == expected


THREE_DEEP = """
.funcdef @f VERSION %v1 <@binary> {
  %entry(<@i64> %n <@i64> %m):
    BRANCH %outer(0 0)
  %outer(<@i64> %i <@i64> %acc):
    %more_i = SLT <@i64> %i %n
    BRANCH2 %more_i %middle_start() %done()
  %middle_start():
    BRANCH %middle(0 %acc)
  %middle(<@i64> %j <@i64> %acc_j):
    %more_j = SLT <@i64> %j 2
    BRANCH2 %more_j %inner_start() %middle_done()
  %inner_start():
    BRANCH %inner(0 %acc_j)
  %inner(<@i64> %k <@i64> %acc_k):
    %more_k = SLT <@i64> %k %m
    BRANCH2 %more_k %inner_body() %inner_done()
  %inner_body():
    %t = ADD <@i64> %acc_k %i
    %k2 = ADD <@i64> %k 1
    BRANCH %inner(%k2 %t)
  %inner_done():
    %j2 = ADD <@i64> %j 1
    BRANCH %middle(%j2 %acc_k)
  %middle_done():
    %i2 = ADD <@i64> %i 1
    BRANCH %outer(%i2 %acc_j)
  %done():
    RET (%acc)
}
"""


def test_entry_at_the_innermost_of_three_loops_merges_the_counter_at_every_header():
    # Found by the IR generator: entering the innermost of three loops, the outer counter
    # %i (redefined by the outer loop) reaches the middle loop's header both from the
    # entry and from its own definition; one parameter of the OSR header handed the
    # middle loop a stale %i, and the jit looped for ever.  SSA is rebuilt at both.
    module = load(THREE_DEEP)
    clone, _ = osr_entry(module, module.functions["f"].current, "inner")
    verify_module(module)
    middle = clone.versions[0].block("middle")
    assert any(name.startswith("i.osr") for name, _ in middle.params)


def test_jit_runs_three_nested_loops_entered_by_osr_right():
    from offramp.config import Config
    module = load(THREE_DEEP)
    want = sum(i * 2 * 40 for i in range(3))
    for tier in ("interp", "jit", "eager"):
        assert VM(module, Config(tier=tier)).call("f", [3, 40]) == want, tier
