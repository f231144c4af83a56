"""Inlining with frame-state composition: deopts inside inlined code rebuild every frame."""
import pytest

from offramp.ir.text import print_module, print_version
from offramp.opt.inline import compose, inline_calls
from offramp.opt.pipeline import optimize
from offramp.runtime.vm import VM

from .helpers import frames_of, install, instr_ops, load, run

# h's speculative version guards k < 10; its deopt resumes h's baseline at a trap that lets
# the test look at the frames.  g and f call with waiting states, so both are inlinable.
THREE = """
.funcdef @h VERSION %v1 <@unary> {
  %entry(<@i64> %k):
    %d = MUL <@i64> %k 2 !30
    [%resumed] TRAP <@void> KEEPALIVE(%k %d) !31
    %r = ADD <@i64> %d 1 !32
    RET (%r) !33
}
.funcdef @h VERSION %v2 <@unary> {
  %entry(<@i64> %k):
    %d = MUL <@i64> %k 2 !30
    %ok = SLT <@i64> %k 10
    GUARD %ok ELSE DEOPT "k too large" [@h %v1 %entry 1 (%k=%k %d=%d)] !31
    %r = ADD <@i64> %d 1 !32
    RET (%r) !33
}
.funcdef @g VERSION %v1 <@unary> {
  %entry(<@i64> %m):
    %a = ADD <@i64> %m 1 !20
    %r = CALL <@unary> @h (%a) [@g %v1 %entry 1 (%m=%m)] !21
    %s = MUL <@i64> %r %m !22
    RET (%s)
}
.funcdef @f VERSION %v1 <@unary> {
  %entry(<@i64> %n):
    %b = SUB <@i64> %n 3
    %x = CALL <@unary> @g (%b) [@f %v1 %entry 1 (%n=%n)] !11
    %y = ADD <@i64> %x %n
    RET (%y)
}
"""


def expected(n):
    k = n - 2
    return (2 * k + 1) * (n - 3) + n


def recording_vm(module):
    """A VM whose trap handler records every frame (with its live values) and resumes."""
    vm = VM(module)
    stops = []
    live = {"h": ("k", "d"), "g": ("m",), "f": ("n",)}

    def handler(ctx):
        cursor, frames = ctx.cursor(), []
        for func, version, block, index in frames_of(ctx):
            frames.append((func, version, block, index,
                           {name: cursor.value(name) for name in live[func]}))
            if cursor.has_caller():
                cursor = cursor.next()
        stops.append(frames)
        return ctx.pass_values()
    vm.set_trap_handler(handler)
    return vm, stops


def test_deopt_in_h_inlined_into_g_inlined_into_f_rebuilds_three_frames():
    module = load(THREE)
    baseline = module.functions["f"].current
    v2 = install(module, inline_calls(module, baseline, "v2"))
    assert "CALL" not in instr_ops(v2)
    (guard,) = [i for b in v2.blocks for i in b.instrs if i.op == "GUARD"]
    state = guard.arg("state")
    assert state.depth() == 3
    assert [(s.func, s.version, s.block, s.index) for s in
            (state, state.parent, state.parent.parent)] == [
        ("h", "v1", "entry", 1), ("g", "v1", "entry", 1), ("f", "v1", "entry", 1)]

    vm, stops = recording_vm(module)
    assert vm.call("f", [5]) == expected(5)          # k = 3: the guard holds
    assert stops == [] and vm.interp.deopts == {}
    assert vm.call("f", [20]) == expected(20)        # k = 18: deopt inside h
    assert vm.interp.deopts == {"k too large": 1}
    assert stops == [[("h", "v1", "entry", 1, {"k": 18, "d": 36}),
                      ("g", "v1", "entry", 1, {"m": 17}),
                      ("f", "v1", "entry", 1, {"n": 20})]]


def test_inlined_deopt_rebuilds_the_same_stack_as_real_calls():
    module = load(THREE)
    baseline = module.functions["f"].current
    vm, stops = recording_vm(module)
    assert run(vm, baseline, [30]) == expected(30)    # real calls; h's v2 deopts alone
    real = list(stops)
    install(module, optimize(module, baseline, "v2", verify=True))
    vm, stops = recording_vm(module)
    assert vm.call("f", [30]) == expected(30)
    assert stops == real and len(real[0]) == 3


def test_input_version_is_not_changed():
    module = load(THREE)
    before = print_module(module)
    inline_calls(module, module.functions["f"].current, "v2")
    assert print_module(module) == before


def test_each_instruction_keeps_its_own_line_or_takes_its_calls():
    module = load(THREE)
    v2 = inline_calls(module, module.functions["f"].current, "v2")
    lines = {i.results[0]: i.line for b in v2.blocks for i in b.instrs if i.results}
    assert lines["b"] is None                  # the caller's own, unnumbered
    assert lines["g.1.a"] == 20 and lines["h.2.d"] == 30
    assert lines["h.2.ok"] == 21               # unnumbered in h: the line of g's call of h
    branches = [i.line for b in v2.blocks for i in b.instrs if i.op == "BRANCH"]
    assert branches == [11, 21, 33, None]      # into g, into h, h's RET, g's RET


def test_depth_budget_leaves_inner_call_with_composed_waiting_state():
    module = load(THREE)
    v2 = install(module, inline_calls(module, module.functions["f"].current, "v2",
                                      max_depth=1))
    (call,) = [i for b in v2.blocks for i in b.instrs if i.op == "CALL"]
    state = call.arg("state")
    assert (state.func, state.parent.func, state.parent.parent) == ("g", "f", None)
    vm, stops = recording_vm(module)
    assert vm.call("f", [25]) == expected(25)
    # h is a real call now: its deopt rebuilds h alone, under f's optimized frame.
    assert [(fr[0], fr[1]) for fr in stops[0]] == [("h", "v1"), ("f", "v2")]


def test_policy_and_missing_state_prevent_inlining():
    module = load(THREE + """
.funcdef @nostate VERSION %v1 <@unary> {
  %entry(<@i64> %n):
    %x = CALL <@unary> @g (%n)
    RET (%x)
}""")
    f = module.functions["f"].current
    assert inline_calls(module, f, "v2", lambda call, callee: False).blocks == f.blocks
    seen = []
    inline_calls(module, f, "v2", lambda call, callee: seen.append(callee.func) or False)
    assert seen == ["g"]
    v = inline_calls(module, module.functions["nostate"].current, "v2")
    assert instr_ops(v) == ["CALL", "RET"]


FIB = """
.funcdef @fib VERSION %v1 <@unary> {
  %entry(<@i64> %n):
    %small = SLT <@i64> %n 2
    BRANCH2 %small %base() %rec()
  %base():
    RET (%n)
  %rec():
    %a = SUB <@i64> %n 1
    %b = SUB <@i64> %n 2
    %fa = CALL <@unary> @fib (%a) [@fib %v1 %rec 2 (%b=%b)]
    %fb = CALL <@unary> @fib (%b) [@fib %v1 %rec 3 (%fa=%fa)]
    %s = ADD <@i64> %fa %fb
    RET (%s)
}
.funcdef @even VERSION %v1 <@unary> {
  %entry(<@i64> %n):
    %z = EQ <@i64> %n 0
    BRANCH2 %z %yes() %no()
  %yes():
    RET (1)
  %no():
    %m = SUB <@i64> %n 1
    %r = CALL <@unary> @odd (%m) [@even %v1 %no 1 ()]
    RET (%r)
}
.funcdef @odd VERSION %v1 <@unary> {
  %entry(<@i64> %n):
    %z = EQ <@i64> %n 0
    BRANCH2 %z %yes() %no()
  %yes():
    RET (0)
  %no():
    %m = SUB <@i64> %n 1
    %r = CALL <@unary> @even (%m) [@odd %v1 %no 1 ()]
    RET (%r)
}
"""


def test_recursion_is_never_inlined_into_itself():
    module = load(FIB)
    fib = inline_calls(module, module.functions["fib"].current, "v2")
    assert instr_ops(fib).count("CALL") == 2
    even = install(module, inline_calls(module, module.functions["even"].current, "v2"))
    calls = [i for b in even.blocks for i in b.instrs if i.op == "CALL"]
    assert [c.arg("callee").name for c in calls] == ["even"]   # odd inlined, even not again
    assert calls[0].arg("state").depth() == 2
    vm = VM(module)
    assert [vm.call("even", [n]) for n in range(7)] == [1, 0, 1, 0, 1, 0, 1]


def test_callee_inlined_twice_is_renamed_apart_and_multiple_returns_join():
    module = load("""
.funcsig @sink = (@i64) -> ()
.global @cell <@i64>
.funcdef @absdiff VERSION %v1 <@binary> {
  %entry(<@i64> %a <@i64> %b):
    %lt = SLT <@i64> %a %b
    BRANCH2 %lt %neg() %pos()
  %neg():
    %d = SUB <@i64> %b %a
    RET (%d)
  %pos():
    %d2 = SUB <@i64> %a %b
    RET (%d2)
}
.funcdef @store VERSION %v1 <@sink> {
  %entry(<@i64> %v):
    STORE <@i64> @cell 0 %v
    RET ()
}
.funcdef @main VERSION %v1 <@binary> {
  %entry(<@i64> %x <@i64> %y):
    %p = CALL <@binary> @absdiff (%x %y) [@main %v1 %entry 0 (%y=%y)]
    %q = CALL <@binary> @absdiff (%y 7) [@main %v1 %entry 1 (%p=%p)]
    CALL <@sink> @store (%q) [@main %v1 %entry 2 (%p=%p %q=%q)]
    %r = MUL <@i64> %p %q
    RET (%r)
}""")
    main = module.functions["main"].current
    v2 = install(module, inline_calls(module, main, "v2"))
    assert "CALL" not in instr_ops(v2)
    vm = VM(module)
    for x, y in [(1, 9), (9, 1), (-4, 3), (7, 7)]:
        want = abs(x - y) * abs(y - 7)
        assert vm.call("main", [x & (2**64 - 1), y & (2**64 - 1)]) == want
        assert vm.read_global("cell") == abs(y - 7)
        assert run(vm, main, [x & (2**64 - 1), y & (2**64 - 1)]) == want


LOOPY = """
.funcdef @sum VERSION %v1 <@unary> {
  %entry(<@i64> %n):
    BRANCH %head(0 0)
  %head(<@i64> %i <@i64> %acc):
    [%probe] TRAP <@void> KEEPALIVE(%i %acc)
    %more = SLT <@i64> %i %n
    BRANCH2 %more %body() %exit()
  %body():
    %acc2 = ADD <@i64> %acc %i
    %i2 = ADD <@i64> %i 1
    BRANCH %head(%i2 %acc2)
  %exit():
    RET (%acc)
}
.funcdef @sum VERSION %v2 <@unary> {
  %entry(<@i64> %n):
    BRANCH %head(0 0)
  %head(<@i64> %i <@i64> %acc):
    %more = SLT <@i64> %i %n
    BRANCH2 %more %body() %exit()
  %body():
    %ok = SLT <@i64> %i 6
    GUARD %ok ELSE DEOPT "long loop" [@sum %v1 %head 0 (%i=%i %acc=%acc %n=%n)]
    %acc2 = ADD <@i64> %acc %i
    %i2 = ADD <@i64> %i 1
    BRANCH %head(%i2 %acc2)
  %exit():
    RET (%acc)
}
.funcdef @user VERSION %v1 <@unary> {
  %entry(<@i64> %n):
    %t = CALL <@unary> @sum (%n) [@user %v1 %entry 0 (%n=%n)]
    %r = ADD <@i64> %t %n
    RET (%r)
}
"""


@pytest.mark.parametrize("n", [0, 3, 6, 10])
def test_inlined_loop_deopts_at_the_right_iteration(n):
    module = load(LOOPY)
    install(module, optimize(module, module.functions["user"].current, "v2", verify=True))
    vm = VM(module)
    probes = []

    def handler(ctx):
        probes.append((frames_of(ctx), ctx.cursor().keepalives()))
        return ctx.pass_values()
    vm.set_trap_handler(handler)
    assert vm.call("user", [n]) == n * (n - 1) // 2 + n
    if n <= 6:
        assert probes == [] and vm.interp.deopts == {}
    else:
        assert vm.interp.deopts == {"long loop": 1}
        assert probes[0] == ([("sum", "v1", "head", 0), ("user", "v1", "entry", 0)], (6, 15))
        assert len(probes) == n - 6 + 1


def test_compose_attaches_below_the_outermost_frame():
    module = load(THREE)
    module_text = print_version(module, module.functions["g"].current)
    assert "PARENT" not in module_text
    from offramp.ir.nodes import FrameState
    inner = FrameState("h", "v1", "entry", 1, (), FrameState("g", "v1", "entry", 1))
    outer = FrameState("f", "v1", "entry", 1)
    composed = compose(inner, outer)
    assert composed.depth() == 3 and composed.parent.parent is outer
    assert inner.depth() == 2      # frozen: the original is untouched


def test_waiting_states_of_traps_and_ccalls_in_the_body_compose_too():
    module = load("""
.extern @twice <@unary>
.funcdef @g VERSION %v1 <@unary> {
  %entry(<@i64> %m):
    %t = CCALL @twice (%m) [@g %v1 %entry 0 (%m=%m)]
    %u = [%stop] TRAP <@i64> KEEPALIVE(%t) [@g %v1 %entry 1 (%m=%m %t=%t)]
    %s = ADD <@i64> %u %m
    RET (%s)
}
.funcdef @f VERSION %v1 <@unary> {
  %entry(<@i64> %n):
    %x = CALL <@unary> @g (%n) [@f %v1 %entry 0 (%n=%n)]
    %y = MUL <@i64> %x %n
    RET (%y)
}""")
    f1 = module.functions["f"].current
    v2 = install(module, optimize(module, f1, "v2", verify=True))
    waiting = [i for b in v2.blocks for i in b.instrs if i.op in ("CCALL", "TRAP")]
    assert [(i.arg("state").func, i.arg("state").parent.func) for i in waiting] == \
        [("g", "f"), ("g", "f")]
    vm = VM(module, helpers={"twice": lambda v: 2 * v})
    seen = []

    def handler(ctx):
        seen.append((frames_of(ctx), ctx.cursor().keepalives()))
        return ctx.pass_values(ctx.cursor().keepalives()[0] + 1)
    vm.set_trap_handler(handler)
    assert vm.call("f", [4]) == (8 + 1 + 4) * 4 == run(vm, f1, [4])
    # Inlined (its state composed) or called, the trap stops in g's frame under f's.
    assert seen == [([("g", "v1", "entry", 1), ("f", "v1", "entry", 0)], (8,))] * 2


def test_pipeline_without_inlining_keeps_calls():
    module = load(THREE)
    stats = {}
    v2 = optimize(module, module.functions["f"], "v2", inline=False, stats=stats, verify=True)
    assert instr_ops(v2) == ["SUB", "CALL", "ADD", "RET"]
    assert stats == {"frame states before": 1, "frame states after": 1}
