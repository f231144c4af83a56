"""Constant folding exact to the interpreter: constants, branches, guards, copies, states."""
import math

import pytest

from offramp.ir.nodes import Imm, Var
from offramp.opt.fold import fold_constants
from offramp.runtime.vm import VM

from .helpers import frames_of, install, instr_ops, load, run


def fold(module, func="f", name="v2"):
    return install(module, fold_constants(module, module.functions[func].current, name))


# (opcode, type name, a, b): edge cases the table pins down where LLVM would not.
BINARY_CASES = [
    ("ADD", "i64", 2**63 - 1, 1), ("SUB", "i64", 0, 1), ("MUL", "i64", 2**40, 2**40),
    ("SDIV", "i64", 7, 0), ("SDIV", "i64", -2**63, -1), ("SDIV", "i64", -7, 2),
    ("SREM", "i64", -7, 2), ("SREM", "i64", 5, 0), ("UDIV", "i64", -1, 2), ("UREM", "i64", 5, 0),
    ("SHL", "i64", 1, 65), ("LSHR", "i64", -1, 63), ("ASHR", "i64", -8, 66),
    ("AND", "i64", 12, 10), ("OR", "i64", 12, 10), ("XOR", "i64", -1, 5),
    ("ADD", "i8", 127, 1), ("MUL", "i8", -128, -1), ("SDIV", "i8", -128, -1),
    ("FADD", "dbl", 0.1, 0.2), ("FDIV", "dbl", 1.0, 0.0), ("FDIV", "dbl", -0.0, 0.0),
    ("FREM", "dbl", 5.5, 0.0), ("FREM", "dbl", -7.5, 2.0), ("FMUL", "dbl", -0.0, 3.0),
]
COMPARE_CASES = [
    ("SLT", "i64", -1, 0), ("ULT", "i64", -1, 0), ("SGE", "i8", -128, 127),
    ("EQ", "i64", 3, 3), ("NE", "i64", 3, 3), ("FOEQ", "dbl", math.nan, math.nan),
    ("FUNE", "dbl", math.nan, 1.0), ("FUNO", "dbl", 1.0, math.nan), ("FOLE", "dbl", -0.0, 0.0),
]
CONVERSIONS = [
    ("FPTOSI", "dbl", "i64", math.nan), ("FPTOSI", "dbl", "i64", 1e300),
    ("FPTOSI", "dbl", "i8", -1e10), ("SITOFP", "i64", "dbl", -3), ("UITOFP", "i64", "dbl", -1),
    ("TRUNC", "i64", "i8", 0x1FF), ("SEXT", "i8", "i64", -1), ("ZEXT", "i8", "i64", -1),
    ("BITCAST", "dbl", "i64", -0.0), ("BITCAST", "i64", "dbl", 0x7FF8000000000001),
]

TYPES = """
.typedef @i8 = int<8>
.funcsig @to_i64 = () -> (@i64)
.funcsig @to_i1 = () -> (@i1)
.funcsig @to_i8 = () -> (@i8)
.funcsig @to_dbl = () -> (@dbl)
.funcsig @to_tr = () -> (@tr)
"""


def lit(value):
    return repr(value) if isinstance(value, float) else str(value)


def folded_and_original(body, result_type):
    module = load(TYPES + f"""
.funcdef @f VERSION %v1 <@to_{result_type}> {{
  %entry():
{body}
}}""")
    original = module.functions["f"].current
    v2 = fold(module)
    vm = VM(module)
    return run(vm, original, []), run(vm, v2, []), v2


def same(a, b):
    return (a == b and (not isinstance(a, float) or math.copysign(1, a) == math.copysign(1, b))
            or (isinstance(a, float) and a != a and b != b))


@pytest.mark.parametrize("op,ty,a,b", BINARY_CASES + COMPARE_CASES)
def test_binary_folds_exactly_as_the_interpreter_computes(op, ty, a, b):
    result = "i1" if (op, ty, a, b) in COMPARE_CASES else ty
    want, got, v2 = folded_and_original(
        f"    %r = {op} <@{ty}> {lit(a)} {lit(b)}\n    RET (%r)", result)
    assert same(want, got)
    assert instr_ops(v2) == [op, "RET"] and isinstance(v2.blocks[0].instrs[-1].arg("values")[0], Imm)


@pytest.mark.parametrize("op,src,dst,a", CONVERSIONS)
def test_conversions_fold_exactly(op, src, dst, a):
    want, got, v2 = folded_and_original(
        f"    %r = {op} <@{src} @{dst}> {lit(a)}\n    RET (%r)", dst)
    assert same(want, got)
    assert isinstance(v2.blocks[0].instrs[-1].arg("values")[0], Imm)


def test_tagref_boxing_and_constants_fold():
    module = load(TYPES + """
.const @four <@dbl> = 4.0
.funcdef @f VERSION %v1 <@to_tr> {
  %entry():
    %w = TR64_FROM_FP 2.5
    %is = TR64_IS_FP %w
    %x = TR64_TO_FP %w
    %y = FMUL <@dbl> %x @four
    %z = SELECT <@dbl> %is %y 0.0
    %b = TR64_FROM_FP %z
    RET (%b)
}""")
    original = module.functions["f"].current
    v2 = fold(module)
    vm = VM(module)
    assert run(vm, v2, []) == run(vm, original, [])
    assert v2.blocks[0].instrs[-1].arg("values") == (Imm(run(vm, original, [])),)


def test_constant_branch_leaves_one_path_and_drops_the_other_block():
    module = load("""
.funcdef @f VERSION %v1 <@unary> {
  %entry(<@i64> %n):
    %c = SLT <@i64> 3 4
    BRANCH2 %c %yes(%n) %no()
  %yes(<@i64> %v):
    %r = ADD <@i64> %v 100
    RET (%r)
  %no():
    RET (0)
}""")
    v2 = fold(module)
    assert [b.label for b in v2.blocks] == ["entry", "yes"]
    assert v2.blocks[0].instrs[-1].op == "BRANCH"
    # %v received %n on its only edge: copy-propagated.
    assert v2.block("yes").instrs[0].arg("a") == Var("n")
    assert VM(module).call("f", [5]) == 105


def test_switch_on_a_constant_becomes_a_branch():
    module = load("""
.funcdef @f VERSION %v1 <@unary> {
  %entry(<@i64> %n):
    %k = ADD <@i64> 1 1
    SWITCH <@i64> %k %other() { 1: %one() 2: %two() }
  %one():
    RET (1)
  %two():
    RET (2)
  %other():
    RET (3)
}""")
    v2 = fold(module)
    assert [b.label for b in v2.blocks] == ["entry", "two"]
    assert VM(module).call("f", [0]) == 2


GUARDS = """
.funcdef @f VERSION %v1 <@unary> {
  %entry(<@i64> %n):
    [%resume] TRAP <@void> KEEPALIVE(%n)
    %r = ADD <@i64> %n 1
    RET (%r)
}
.funcdef @f VERSION %v2 <@unary> {
  %entry(<@i64> %n):
    %t = SLT <@i64> 1 2
    GUARD %t ELSE DEOPT "never" [@f %v1 %entry 0 (%n=%n)]
    %c = SGT <@i64> 1 2
    BRANCH2 %c %fast() %slow()
  %fast():
    %r = ADD <@i64> %n 1
    RET (%r)
  %slow():
    %k = MUL <@i64> %n 1
    %never = EQ <@i1> 1 0
    GUARD %never ELSE DEOPT "always" [@f %v1 %entry 0 (%n=%n)]
    %dead = ADD <@i64> %n 2
    RET (%dead)
}
"""


def test_true_guard_disappears_false_guard_becomes_deopt():
    module = load(GUARDS)
    original = module.functions["f"].current
    v3 = fold(module, name="v3")
    # Folded instructions stay for DCE to remove; the true guard and the tail are gone.
    assert instr_ops(v3) == ["SLT", "SGT", "BRANCH", "MUL", "EQ", "DEOPT"]
    assert [b.label for b in v3.blocks] == ["entry", "slow"]
    deopt = v3.blocks[-1].instrs[-1]
    assert deopt.arg("reason") == "always" and deopt.arg("state").values == (("n", Var("n")),)
    for version in (original, v3):
        vm = VM(module)
        stops = []
        vm.set_trap_handler(lambda ctx: stops.append(frames_of(ctx)) or ctx.pass_values())
        assert run(vm, version, [7]) == 8
        assert vm.interp.deopts == {"always": 1}
        assert stops == [[("f", "v1", "entry", 0)]]


def test_folding_reaches_frame_states_but_not_keepalives():
    module = load("""
.funcdef @f VERSION %v1 <@unary> {
  %entry(<@i64> %n):
    %k = ADD <@i64> %n 0
    [%look] TRAP <@void> KEEPALIVE(%k)
    RET (%k)
}
.funcdef @f VERSION %v2 <@unary> {
  %entry(<@i64> %n):
    %five = ADD <@i64> 2 3
    [%look] TRAP <@void> KEEPALIVE(%five)
    %ok = SLT <@i64> %n 10
    GUARD %ok ELSE DEOPT "big" [@f %v1 %entry 1 (%k=%five)]
    %r = ADD <@i64> %five 0
    RET (%r)
}""")
    v3 = fold(module, name="v3")
    trap, guard, ret = (v3.blocks[0].instrs[i] for i in (1, 3, 5))
    assert trap.arg("keepalive") == (Var("five"),)      # a keep-alive holds variables only
    assert guard.arg("state").values == (("k", Imm(5)),)
    assert ret.arg("values") == (Imm(5),)
    vm = VM(module)
    seen = []
    vm.set_trap_handler(lambda ctx: seen.append(ctx.cursor().keepalives()) or ctx.pass_values())
    assert vm.call("f", [3]) == 5 and vm.call("f", [30]) == 5
    # Two traps in v3, and the one v1 resumes at after the deopt (%k=5 from the state).
    assert seen == [(5,), (5,), (5,)] and vm.interp.deopts == {"big": 1}


def test_block_parameters_with_one_incoming_value_are_propagated():
    module = load("""
.funcdef @f VERSION %v1 <@binary> {
  %entry(<@i64> %a <@i64> %b):
    %c = SLT <@i64> %a %b
    BRANCH2 %c %left(%a 5) %right(%b 5)
  %left(<@i64> %x <@i64> %five):
    BRANCH %join(%a %five)
  %right(<@i64> %y <@i64> %five2):
    BRANCH %join(%a %five2)
  %join(<@i64> %p <@i64> %q):
    %r = MUL <@i64> %p %q
    %s = ADD <@i64> %r %x0
    RET (%s)
}""".replace(" %x0", " 1"))
    v2 = fold(module)
    join = v2.block("join")
    assert join.instrs[0].arg("a") == Var("a") and join.instrs[0].arg("b") == Imm(5)
    vm = VM(module)
    for a, b in [(1, 2), (2, 1)]:
        assert vm.call("f", [a, b]) == a * 5 + 1


def test_loop_parameter_fed_itself_and_one_constant_becomes_the_constant():
    module = load("""
.funcdef @f VERSION %v1 <@unary> {
  %entry(<@i64> %n):
    BRANCH %head(0 7)
  %head(<@i64> %i <@i64> %step):
    %more = SLT <@i64> %i %n
    BRANCH2 %more %body() %exit()
  %body():
    %i2 = ADD <@i64> %i %step
    BRANCH %head(%i2 %step)
  %exit():
    RET (%i)
}""")
    v2 = fold(module)
    assert v2.block("body").instrs[0].arg("b") == Imm(7)
    vm = VM(module)
    assert [vm.call("f", [n]) for n in (0, 1, 7, 8, 50)] == [0, 7, 7, 14, 56]


def test_folding_the_input_does_not_change_it():
    module = load(GUARDS)
    original = module.functions["f"].current
    before = [list(b.instrs) for b in original.blocks]
    fold_constants(module, original, "v3")
    assert [list(b.instrs) for b in original.blocks] == before
