"""The interpreter keeps ill-typed or out-of-heap values out of its steps: a trap handler's
values are checked against what the trap resumes with, an UNSAFE access outside the heap is
a guest error, and deoptimizing into thousands of frames needs no recursion."""
import pytest

from offramp.config import Config
from offramp.interp.errors import GuestError, VMError
from offramp.interp.semantics import checked_value
from offramp.ir.nodes import Function
from offramp.ir.text import parse_module
from offramp.ir.types import DOUBLE, I1, I8, I64, PTR, REF, TAGREF64, FuncRefType, FuncSig
from offramp.ir.verify import verify_module
from offramp.runtime.vm import VM

HEADER = """
.typedef @i1 = int<1>
.typedef @i8 = int<8>
.typedef @i64 = int<64>
.typedef @void = void
.typedef @p = ptr
.funcsig @nullary = () -> (@i64)
.typedef @fn = funcref<@nullary>
.funcsig @other = () -> (@i8)
.funcdef @seven VERSION %v1 <@nullary> {
  %entry():
    RET (7)
}
"""

CALLS_A_TRAPPED_FUNCREF = """
.funcdef @f VERSION %v1 <@nullary> {
  %entry():
    %g = [%which] TRAP <@fn>
    %r = CALL <@nullary> %g ()
    RET (%r)
}"""


def load(body: str) -> VM:
    module = parse_module(HEADER + body, "test.ir")
    verify_module(module)
    return VM(module, Config(tier="interp"))


def trapping(body: str, value) -> VM:
    """A VM whose trap handler resumes every trap with `value`."""
    vm = load(body)
    vm.set_trap_handler(lambda ctx: ctx.pass_values(value))
    return vm


def test_a_funcref_trap_result_must_be_a_function_of_its_signature():
    vm = trapping(CALLS_A_TRAPPED_FUNCREF, 0)
    with pytest.raises(VMError, match="not a function of the funcref's signature"):
        vm.call("f", [])
    other = Function("x", FuncSig((), (I8,)))
    with pytest.raises(VMError, match="not a function"):
        trapping(CALLS_A_TRAPPED_FUNCREF, other).call("f", [])
    vm = load(CALLS_A_TRAPPED_FUNCREF)
    vm.set_trap_handler(lambda ctx: ctx.pass_values(vm.module.functions["seven"]))
    assert vm.call("f", []) == 7


@pytest.mark.parametrize("value,fragment", [
    (256, "out of the range of int<8>"), ("7", "not a value of type int<8>"),
    (1.5, "not a value of type int<8>"), (None, "not a value"),
])
def test_an_integer_trap_result_must_fit_its_type(value, fragment):
    vm = trapping("""
.funcdef @f VERSION %v1 <@other> {
  %entry():
    %x = [%t] TRAP <@i8>
    RET (%x)
}""", value)
    with pytest.raises(VMError, match=fragment):
        vm.call("f", [])


def test_trap_results_are_converted_to_the_interpreters_form():
    vm = trapping("""
.funcdef @f VERSION %v1 <@other> {
  %entry():
    %x = [%t] TRAP <@i8>
    RET (%x)
}""", -1)
    assert vm.call("f", []) == 255


def test_a_handler_passes_as_many_values_as_the_trap_takes():
    vm = load("""
.funcdef @f VERSION %v1 <@nullary> {
  %entry():
    [%t] TRAP <@void>
    RET (1)
}""")
    vm.set_trap_handler(lambda ctx: ctx.pass_values(5))
    with pytest.raises(VMError, match="passed 1 value"):
        vm.call("f", [])


def test_an_early_return_from_every_frame_is_checked_against_the_call():
    vm = load("""
.funcdef @f VERSION %v1 <@nullary> {
  %entry():
    [%t] TRAP <@void>
    RET (1)
}""")

    def pop_all(ctx):
        ctx.thread.frames.clear()
        return ctx.pass_values(1.5)
    vm.set_trap_handler(pop_all)
    with pytest.raises(VMError, match="the result of @f"):
        vm.call("f", [])


@pytest.mark.parametrize("ty,value,expected", [
    (I1, True, 1), (I64, -1, 2**64 - 1), (DOUBLE, 3, 3.0), (TAGREF64, 1.5, 0x3FF8 << 48),
    (REF, 0, 0), (PTR, 2**63, 2**63),
])
def test_checked_value_accepts_what_a_type_can_hold(ty, value, expected):
    assert checked_value(ty, value) == expected


@pytest.mark.parametrize("ty,value", [
    (REF, 12345), (REF, 1 << 48), (REF, -8), (PTR, -1), (TAGREF64, 1 << 64),
    (FuncRefType(FuncSig((), (I64,))), 3), (I1, 2),
])
def test_checked_value_refuses_what_a_type_cannot_hold(ty, value):
    with pytest.raises(ValueError):
        checked_value(ty, value)


def test_an_unsafe_access_outside_the_heap_is_a_guest_error():
    vm = load("""
.global @gp <@p>
.funcdef @f VERSION %v1 <@nullary> UNSAFE {
  %entry():
    %q = LOAD <@p> @gp 0
    %v = LOAD <@i64> %q 24
    RET (%v)
}""")
    with pytest.raises(GuestError, match="LOAD of 8 byte.s. at address 0x18, outside the heap"):
        vm.call("f", [])


def test_an_int1_load_keeps_only_the_low_bit_as_native_code_does():
    vm = load("""
.global @g <@i64>
.funcdef @f VERSION %v1 <@nullary> {
  %entry():
    STORE <@i64> @g 0 42
    %b = LOAD <@i1> @g 0
    %w = ZEXT <@i1 @i64> %b
    RET (%w)
}""")
    assert vm.call("f", []) == 0


def test_deoptimizing_into_thousands_of_frames_needs_no_recursion():
    depth = 3000
    parents = " PARENT ".join(["[@g %v1 %entry 0 ()"] * depth)
    vm = load(f"""
.funcdef @g VERSION %v1 <@nullary> {{
  %entry():
    %x = CALL <@nullary> @g ()
    %y = ADD <@i64> %x 1
    RET (%y)
}}
.funcdef @f VERSION %v1 <@nullary> {{
  %entry():
    DEOPT "deep" [@g %v1 %entry 2 (%y=0) PARENT {parents} PARENT [@f %v1 %b 0 (){"]" * (depth + 2)}
  %b():
    %c = CALL <@nullary> @g ()
    RET (%c)
}}""")
    assert vm.call("f", []) == depth    # each waiting @g adds 1 to the innermost 0
