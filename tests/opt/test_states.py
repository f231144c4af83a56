"""Frame-state sharing: later guards replay from the first guard's state, still exactly."""
import pytest

from offramp.opt.dce import eliminate_dead_code
from offramp.opt.fold import fold_constants
from offramp.opt.inline import inline_calls
from offramp.opt.pipeline import optimize
from offramp.opt.states import count_states, share_states
from offramp.runtime.vm import VM

from .helpers import frames_of, install, load, run

# v1 stops at a named trap at each resume point, so a test sees where a deopt resumed.
GUARDS = """
.global @cell <@i64>
.funcdef @f VERSION %v1 <@binary> {
  %entry(<@i64> %a <@i64> %b):
    [%at_a] TRAP <@void> KEEPALIVE(%a %b)
    %s = ADD <@i64> %a %b
    [%at_s] TRAP <@void> KEEPALIVE(%s)
    %p = MUL <@i64> %s %a
    [%at_p] TRAP <@void> KEEPALIVE(%p)
    RET (%p)
}
.funcdef @f VERSION %v2 <@binary> {
  %entry(<@i64> %a <@i64> %b):
    %c1 = SLT <@i64> %a 100
    GUARD %c1 ELSE DEOPT "a big" [@f %v1 %entry 0 (%a=%a %b=%b)]
    %s = ADD <@i64> %a %b
    BARRIER
    %c2 = SLT <@i64> %s 100
    GUARD %c2 ELSE DEOPT "s big" [@f %v1 %entry 2 (%s=%s %a=%a)]
    %p = MUL <@i64> %s %a
    %c3 = SLT <@i64> %p 1000
    GUARD %c3 ELSE DEOPT "p big" [@f %v1 %entry 4 (%p=%p)]
    RET (%p)
}
"""


def guards_module(barrier: str = ""):
    return load(GUARDS.replace("    BARRIER\n", f"    {barrier}\n" if barrier else ""))


def trace_run(module, version, args):
    """(result, deopts, names of the traps reached in order) for one run."""
    vm = VM(module)
    stops = []
    vm.set_trap_handler(lambda ctx: stops.append(ctx.cursor().instruction_name)
                        or ctx.pass_values())
    return run(vm, version, args), vm.interp.deopts, stops


INPUTS = [(1, 2), (200, 1), (10, 95), (20, 30)]   # no deopt, at guard 1, 2 and 3


def test_guards_without_effects_between_share_the_first_state():
    module = guards_module()
    original = module.functions["f"].current
    v3 = install(module, share_states(module, original, "v3"))
    assert count_states(original) == 3 and count_states(v3) == 1
    guards = [i for i in v3.blocks[0].instrs if i.op == "GUARD"]
    assert all(g.arg("state") is guards[0].arg("state") for g in guards)
    assert [g.arg("reason") for g in guards] == ["a big", "s big", "p big"]
    for args in INPUTS:
        want, deopts, stops = trace_run(module, original, args)
        got, shared_deopts, shared_stops = trace_run(module, v3, args)
        assert got == want and shared_deopts == deopts
        # Replay: every deopt now resumes at the first guard's point, %at_a.
        assert shared_stops == (["at_a", "at_s", "at_p"] if deopts else [])
    assert trace_run(module, original, (10, 95))[2] == ["at_s", "at_p"]


@pytest.mark.parametrize("barrier", ["STORE <@i64> @cell 0 %s", "SAFEPOINT",
                                     "[%x] TRAP <@void>"])
def test_an_effect_between_guards_starts_a_new_stretch(barrier):
    module = guards_module(barrier)
    original = module.functions["f"].current
    v3 = install(module, share_states(module, original, "v3"))
    assert count_states(v3) == 2
    guards = [i for i in v3.blocks[0].instrs if i.op == "GUARD"]
    assert guards[1].arg("state") is not guards[0].arg("state")
    assert guards[2].arg("state") is guards[1].arg("state")
    for args in INPUTS:
        want, deopts, _ = trace_run(module, original, args)
        got, shared_deopts, _ = trace_run(module, v3, args)
        assert got == want and shared_deopts == deopts


CHAIN = """
.funcdef @f VERSION %v1 <@binary> {
  %entry(<@i64> %a <@i64> %b):
    [%at_a] TRAP <@void> KEEPALIVE(%a %b)
    %s = ADD <@i64> %a %b
    [%at_s] TRAP <@void> KEEPALIVE(%s %a)
    %p = MUL <@i64> %s %a
    [%at_p] TRAP <@void> KEEPALIVE(%p)
    RET (%p)
}
.funcdef @f VERSION %v2 <@binary> {
  %entry(<@i64> %a <@i64> %b):
    %c1 = SLT <@i64> %a 100
    GUARD %c1 ELSE DEOPT "a big" [@f %v1 %entry 0 (%a=%a %b=%b)]
    %s = ADD <@i64> %a %b
    BRANCH %next(%s)
  %next(<@i64> %t):
    %c2 = SLT <@i64> %t 100
    GUARD %c2 ELSE DEOPT "s big" [@f %v1 %entry 2 (%s=%t %a=%a)]
    %neg = SLT <@i64> %a 0
    BRANCH2 %neg %left() %right()
  %left():
    BRANCH %join()
  %right():
    BRANCH %join()
  %join():
    %p = MUL <@i64> %t %a
    %c3 = SLT <@i64> %p 1000
    GUARD %c3 ELSE DEOPT "p big" [@f %v1 %entry 4 (%p=%p)]
    RET (%p)
}
"""


def test_a_stretch_goes_on_through_a_branch_to_a_block_with_one_way_in():
    module = load(CHAIN)
    original = module.functions["f"].current
    v3 = install(module, share_states(module, original, "v3"))
    first, second, third = [i for b in v3.blocks for i in b.instrs if i.op == "GUARD"]
    assert second.arg("state") is first.arg("state")      # %next: one BRANCH in
    assert third.arg("state") is not first.arg("state")   # %join: two ways in
    for args in INPUTS:
        want, deopts, _ = trace_run(module, original, args)
        got, shared_deopts, _ = trace_run(module, v3, args)
        assert got == want and shared_deopts == deopts


def test_dce_after_sharing_drops_values_only_the_old_states_needed():
    module = load("""
.funcdef @f VERSION %v1 <@unary> {
  %entry(<@i64> %n):
    %x = MUL <@i64> %n 7
    %y = ADD <@i64> %x 1
    RET (%y)
}
.funcdef @f VERSION %v2 <@unary> {
  %entry(<@i64> %n):
    %ok = SLT <@i64> %n 100
    GUARD %ok ELSE DEOPT "first" [@f %v1 %entry 0 (%n=%n)]
    %x = MUL <@i64> %n 7
    %ok2 = SLT <@i64> %n 50
    GUARD %ok2 ELSE DEOPT "second" [@f %v1 %entry 1 (%x=%x)]
    RET (999)
}""")
    v2 = module.functions["f"].current
    shared = share_states(module, v2, "v3")
    v3 = install(module, eliminate_dead_code(module, shared, "v3"))
    assert "MUL" not in [i.op for i in v3.blocks[0].instrs]
    vm = VM(module)
    assert vm.call("f", [10]) == 999 and vm.call("f", [60]) == 421
    assert vm.interp.deopts == {"second": 1}


INLINED = """
.funcdef @h VERSION %v1 <@unary> {
  %entry(<@i64> %k):
    %d = MUL <@i64> %k 2
    [%at_h] TRAP <@void> KEEPALIVE(%k %d)
    %r = ADD <@i64> %d 1
    RET (%r)
}
.funcdef @h VERSION %v2 <@unary> {
  %entry(<@i64> %k):
    %d = MUL <@i64> %k 2
    %ok = SLT <@i64> %k 10
    GUARD %ok ELSE DEOPT "k too large" [@h %v1 %entry 1 (%k=%k %d=%d)]
    %r = ADD <@i64> %d 1
    RET (%r)
}
.funcdef @g VERSION %v1 <@unary> {
  %entry(<@i64> %m):
    [%at_g] TRAP <@void> KEEPALIVE(%m)
    %a = ADD <@i64> %m 1
    %r = CALL <@unary> @h (%a) [@g %v1 %entry 2 (%m=%m)]
    %s = MUL <@i64> %r %m
    RET (%s)
}
.funcdef @g VERSION %v2 <@unary> {
  %entry(<@i64> %m):
    %pos = SGT <@i64> %m 0
    GUARD %pos ELSE DEOPT "m not positive" [@g %v1 %entry 0 (%m=%m)]
    %a = ADD <@i64> %m 1
    %r = CALL <@unary> @h (%a) [@g %v1 %entry 2 (%m=%m)]
    %s = MUL <@i64> %r %m
    RET (%s)
}
.funcdef @f VERSION %v1 <@unary> {
  %entry(<@i64> %n):
    %b = SUB <@i64> %n 3
    %x = CALL <@unary> @g (%b) [@f %v1 %entry 1 (%n=%n)]
    %y = ADD <@i64> %x %n
    RET (%y)
}
"""


def test_pipeline_shares_states_across_inlined_frames_and_reports_counts():
    module = load(INLINED)
    f1 = module.functions["f"].current
    unshared = eliminate_dead_code(module, fold_constants(module, inline_calls(
        module, f1, "v2"), "v2"), "v2")
    stats = {}
    v2 = install(module, optimize(module, f1, "v2", stats=stats, verify=True))
    assert count_states(unshared) == 4      # g@0 and f below it; h@1, g@2, f below them
    assert stats == {"frame states before": 1, "frame states after": 2}
    assert len(v2.blocks) == 1

    def stacks(version, n):
        vm = VM(module)
        seen = []
        vm.set_trap_handler(lambda ctx: seen.append((ctx.cursor().instruction_name,
                                                     frames_of(ctx))) or ctx.pass_values())
        return run(vm, version, [n]), vm.interp.deopts, seen

    for n in (5, 10, 1, 2, 40):
        want, _, _ = stacks(f1, n)
        got, deopts, seen = stacks(v2, n)
        assert got == want
        if n - 2 >= 10:
            # h's guard failed but replays from g's guard: two frames, g from its start...
            assert seen[0] == ("at_g", [("g", "v1", "entry", 0), ("f", "v1", "entry", 1)])
            # ...where g's baseline calls h's current version, which deopts on its own.
            assert seen[1][0] == "at_h" and len(seen[1][1]) == 3
            assert deopts == {"k too large": 2}
        elif n - 3 <= 0:
            assert deopts == {"m not positive": 1}
            assert seen[0] == ("at_g", [("g", "v1", "entry", 0), ("f", "v1", "entry", 1)])
        else:
            assert deopts == {} and seen == []
