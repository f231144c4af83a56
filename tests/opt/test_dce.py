"""Dead-code elimination: uses by frame states and keep-alives keep values alive."""
from offramp.ir.nodes import Var
from offramp.opt.dce import eliminate_dead_code, removable
from offramp.ir.ops import OPS, Flag
from offramp.runtime.vm import VM

from .helpers import frames_of, install, instr_ops, load, run


def dce(module, func="f", name="v3"):
    return install(module, eliminate_dead_code(module, module.functions[func].current, name))


class _Kind:
    """Just enough of an instruction for `removable`: its table row."""

    def __init__(self, name):
        self.opdef = OPS[name]


def test_removable_kinds_are_the_pure_ones_and_loads():
    gone = {name for name in OPS if removable(_Kind(name))}
    # THREAD_LOCAL is not PURE (never folded: its value is the running thread's) but has
    # no effect either: unused, it goes.
    assert gone == {name for name, op in OPS.items() if op.has(Flag.PURE)} | {
        "LOAD", "THREAD_LOCAL"}


BASE = """
.global @cell <@i64>
.funcdef @f VERSION %v1 <@unary> {
  %entry(<@i64> %n):
    %d = MUL <@i64> %n 3
    %e = ADD <@i64> %d 1
    [%resume] TRAP <@void> KEEPALIVE(%n %e)
    RET (%e)
}
"""


def test_values_used_only_by_a_state_or_a_keepalive_stay():
    module = load(BASE + """
.funcdef @f VERSION %v2 <@unary> {
  %entry(<@i64> %n):
    %d = MUL <@i64> %n 3
    %e = ADD <@i64> %d 1
    %unused = SUB <@i64> %d %e
    %also = LOAD <@i64> @cell 0
    %ka = ADD <@i64> %n 1000
    [%look] TRAP <@void> KEEPALIVE(%ka)
    %ok = SLT <@i64> %n 10
    GUARD %ok ELSE DEOPT "big" [@f %v1 %entry 2 (%n=%n %e=%e)]
    %r = ADD <@i64> %n 1
    %r2 = MUL <@i64> %r 3
    %r3 = ADD <@i64> %r2 -2
    RET (%r3)
}""")
    v3 = dce(module)
    names = [r for i in v3.blocks[0].instrs for r in i.results]
    # %d and %e only feed the guard's state; %ka only the keep-alive: all stay.
    assert names == ["d", "e", "ka", "ok", "r", "r2", "r3"]
    vm = VM(module)
    stops = []

    def handler(ctx):
        stops.append((frames_of(ctx), ctx.cursor().keepalives()))
        return ctx.pass_values()
    vm.set_trap_handler(handler)
    assert vm.call("f", [4]) == 13
    assert vm.call("f", [20]) == 61
    assert vm.interp.deopts == {"big": 1}
    assert stops == [([("f", "v3", "entry", 3)], (1004,)),
                     ([("f", "v3", "entry", 3)], (1020,)),
                     ([("f", "v1", "entry", 2)], (20, 61))]


def test_side_effects_stay_even_when_results_are_unused():
    module = load("""
.global @cell <@i64>
.funcdef @g VERSION %v1 <@unary> {
  %entry(<@i64> %k):
    STORE <@i64> @cell 0 %k
    RET (%k)
}
.funcdef @f VERSION %v1 <@unary> {
  %entry(<@i64> %n):
    %x = CALL <@unary> @g (%n)
    %y = ADD <@i64> %x 1
    PROFILE 1 %n
    SAFEPOINT
    RET (%n)
}""")
    v3 = dce(module)
    assert instr_ops(v3) == ["CALL", "PROFILE", "SAFEPOINT", "RET"]
    vm = VM(module)
    assert vm.call("f", [42]) == 42 and vm.read_global("cell") == 42


def test_dead_parameters_go_with_their_arguments_and_dead_loop_values_with_them():
    module = load("""
.funcdef @f VERSION %v1 <@unary> {
  %entry(<@i64> %n):
    BRANCH %head(0 1 0)
  %head(<@i64> %i <@i64> %junk <@i64> %acc):
    %more = SLT <@i64> %i %n
    BRANCH2 %more %body(%junk) %exit(%junk %acc)
  %body(<@i64> %j):
    %junk2 = MUL <@i64> %j 3
    %acc2 = ADD <@i64> %acc %i
    %i2 = ADD <@i64> %i 1
    BRANCH %head(%i2 %junk2 %acc2)
  %exit(<@i64> %unused <@i64> %result):
    RET (%result)
  %orphan():
    RET (0)
}""")
    v3 = dce(module)
    assert [b.label for b in v3.blocks] == ["entry", "head", "body", "exit"]
    assert [n for n, _ in v3.block("head").params] == ["i", "acc"]
    assert v3.block("body").params == [] and [n for n, _ in v3.block("exit").params] == ["result"]
    assert "MUL" not in instr_ops(v3)
    vm = VM(module)
    assert [vm.call("f", [n]) for n in (0, 1, 5)] == [0, 0, 10]


def test_straight_line_blocks_merge():
    module = load("""
.funcdef @f VERSION %v1 <@unary> {
  %entry(<@i64> %n):
    %a = ADD <@i64> %n 1
    BRANCH %next(%a)
  %next(<@i64> %b):
    %c = MUL <@i64> %b 2
    BRANCH %last()
  %last():
    RET (%c)
}""")
    v3 = dce(module)
    assert len(v3.blocks) == 1 and instr_ops(v3) == ["ADD", "MUL", "RET"]
    assert v3.blocks[0].instrs[1].arg("a") == Var("a")
    assert VM(module).call("f", [4]) == 10


def test_watchpoint_trailing_parameter_is_kept():
    module = load("""
.funcdef @f VERSION %v1 <@unary> {
  %entry(<@i64> %n):
    WATCHPOINT 3 <@i64> %off(%n) %on(%n)
  %off(<@i64> %a):
    RET (%a)
  %on(<@i64> %b <@i64> %trapped):
    RET (%b)
}""")
    v3 = dce(module)
    assert [n for n, _ in v3.block("on").params] == ["b", "trapped"]
    vm = VM(module)
    vm.enable_watchpoint(3)
    vm.set_trap_handler(lambda ctx: ctx.pass_values(99))
    assert vm.call("f", [5]) == 5


def test_dce_does_not_change_its_input():
    module = load(BASE)
    original = module.functions["f"].current
    before = [(b.label, list(b.params), list(b.instrs)) for b in original.blocks]
    eliminate_dead_code(module, original, "v3")
    assert [(b.label, list(b.params), list(b.instrs)) for b in original.blocks] == before
    vm = VM(module)
    vm.set_trap_handler(lambda ctx: ctx.pass_values())
    assert run(vm, original, [2]) == 7
