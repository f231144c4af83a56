"""The Mu trap model on IR text: compute-and-resume, keep-alive reads, early return,
pushed frames, thrown errors, watchpoints and misuse of the client API."""
import pytest

from offramp.config import Config
from offramp.interp.errors import GuestError
from offramp.ir.text import parse_module
from offramp.ir.verify import verify_module
from offramp.runtime.traps import ClientAPIError
from offramp.runtime.vm import VM

HEADER = """
.typedef @i1 = int<1>
.typedef @i64 = int<64>
.typedef @void = void
.funcsig @unary = (@i64) -> (@i64)
.funcsig @nullary = () -> (@i64)
"""


@pytest.fixture(params=["interp", "eager"])
def tier(request):
    """Every test runs in the interpreter and with every function compiled natively."""
    return request.param


def load(tier: str, body: str) -> VM:
    module = parse_module(HEADER + body, "test.ir")
    verify_module(module)
    return VM(module, Config(tier=tier))


def test_trap_computes_a_value_and_resumes(tier):
    vm = load(tier, """
.funcdef @f VERSION %v1 <@unary> {
  %entry(<@i64> %n):
    %m = MUL <@i64> %n 3
    %x = [%ask] TRAP <@i64> KEEPALIVE(%m)
    %r = ADD <@i64> %x 1
    RET (%r)
}""")
    seen = []

    def handler(ctx):
        cursor = ctx.cursor()
        seen.append((cursor.func, cursor.version, cursor.instruction_name))
        (m,) = cursor.keepalives()
        return ctx.pass_values(m * 100)
    vm.set_trap_handler(handler)
    assert vm.call("f", [2]) == 601
    assert seen == [("f", "v1", "ask")]


def test_trap_reads_keepalive_values_of_every_frame(tier):
    vm = load(tier, """
.funcdef @inner VERSION %v1 <@unary> {
  %entry(<@i64> %k):
    %k2 = ADD <@i64> %k 5
    [%look] TRAP <@void> KEEPALIVE(%k %k2)
    RET (%k2)
}
.funcdef @outer VERSION %v1 <@unary> {
  %entry(<@i64> %n):
    %a = SUB <@i64> %n 1
    %r = CALL <@unary> @inner (%a) KEEPALIVE(%n %a)
    RET (%r)
}""")
    frames = []

    def handler(ctx):
        cursor = ctx.cursor()
        while True:
            frames.append((cursor.func, cursor.keepalives(), cursor.value(
                "k2" if cursor.func == "inner" else "a")))
            if not cursor.has_caller():
                break
            cursor = cursor.next()
        return ctx.pass_values()
    vm.set_trap_handler(handler)
    assert vm.call("outer", [10]) == 14
    assert frames == [("inner", (9, 14), 14), ("outer", (10, 9), 9)]


def test_trap_returns_early_from_a_frame(tier):
    vm = load(tier, """
.funcdef @callee VERSION %v1 <@unary> {
  %entry(<@i64> %k):
    [%bail] TRAP <@void>
    %never = ADD <@i64> %k 1000
    RET (%never)
}
.funcdef @caller VERSION %v1 <@unary> {
  %entry(<@i64> %n):
    %r = CALL <@unary> @callee (%n)
    %s = ADD <@i64> %r 1
    RET (%s)
}""")

    def handler(ctx):
        caller = ctx.cursor().next()
        ctx.pop_frames_to(caller)
        return ctx.pass_values(41)
    vm.set_trap_handler(handler)
    assert vm.call("caller", [7]) == 42


def test_trap_pops_every_frame_returns_from_the_call(tier):
    vm = load(tier, """
.funcdef @f VERSION %v1 <@nullary> {
  %entry():
    [%t] TRAP <@void>
    RET (1)
}""")

    def handler(ctx):
        ctx.thread.frames.clear()
        return ctx.pass_values(77)
    vm.set_trap_handler(handler)
    assert vm.call("f", []) == 77


def test_trap_handler_changes_a_variable_before_resuming(tier):
    vm = load(tier, """
.funcdef @f VERSION %v1 <@unary> {
  %entry(<@i64> %n):
    %m = ADD <@i64> %n 1
    [%edit] TRAP <@void> KEEPALIVE(%m)
    %r = MUL <@i64> %m 2
    RET (%r)
}""")

    def handler(ctx):
        ctx.cursor().set_value("m", 50)
        return ctx.pass_values()
    vm.set_trap_handler(handler)
    assert vm.call("f", [1]) == 100


def test_trap_pushes_a_frame_whose_result_goes_to_the_trap(tier):
    vm = load(tier, """
.funcdef @helper VERSION %v1 <@unary> {
  %entry(<@i64> %k):
    %r = MUL <@i64> %k %k
    RET (%r)
}
.funcdef @f VERSION %v1 <@unary> {
  %entry(<@i64> %n):
    %x = [%t] TRAP <@i64>
    %r = ADD <@i64> %x %n
    RET (%r)
}""")

    def handler(ctx):
        ctx.push_frame("helper", "v1", "entry", 0, {"k": 6})
        return ctx.pass_values()
    vm.set_trap_handler(handler)
    assert vm.call("f", [4]) == 40


def test_trap_throws_a_guest_error_with_the_stack(tier):
    vm = load(tier, """
.funcdef @f VERSION %v1 <@unary> {
  %entry(<@i64> %n):
    [%boom] TRAP <@void> !7
    RET (%n)
}""")
    vm.set_trap_handler(lambda ctx: ctx.throw("stopped by the client"))
    with pytest.raises(GuestError) as info:
        vm.call("f", [1])
    assert info.value.message == "stopped by the client"
    assert [instr.line for _, instr in info.value.stack] == [7]
    assert vm.main_thread.frames == []


def test_watchpoint_traps_only_when_enabled(tier):
    vm = load(tier, """
.funcdef @f VERSION %v1 <@unary> {
  %entry(<@i64> %n):
    WATCHPOINT 3 <@i64> %off(%n) %on(%n) KEEPALIVE(%n)
  %off(<@i64> %a):
    RET (%a)
  %on(<@i64> %b <@i64> %fromtrap):
    %r = ADD <@i64> %b %fromtrap
    RET (%r)
}""")
    vm.set_trap_handler(lambda ctx: ctx.pass_values(ctx.cursor().keepalives()[0] * 10))
    assert vm.call("f", [5]) == 5
    vm.enable_watchpoint(3)
    assert vm.call("f", [5]) == 55
    vm.disable_watchpoint(3)
    assert vm.call("f", [5]) == 5


def test_client_api_misuse_is_a_python_exception(tier):
    vm = load(tier, """
.funcdef @g VERSION %v1 <@unary> {
  %entry(<@i64> %k):
    [%t] TRAP <@void>
    RET (%k)
}""")
    errors = []

    def handler(ctx):
        cursor = ctx.cursor()
        for misuse in (lambda: cursor.next(),
                       lambda: ctx.push_frame("g", "v9", "entry", 0, {}),
                       lambda: ctx.push_frame("g", "v1", "nowhere", 0, {})):
            try:
                misuse()
            except ClientAPIError as e:
                errors.append(str(e))
        return ctx.pass_values()
    vm.set_trap_handler(handler)
    assert vm.call("g", [3]) == 3
    assert len(errors) == 3


def test_trap_without_handler_is_a_vm_error(tier):
    from offramp.interp.errors import VMError
    vm = load(tier, """
.funcdef @g VERSION %v1 <@nullary> {
  %entry():
    [%t] TRAP <@void>
    RET (0)
}""")
    with pytest.raises(VMError):
        vm.call("g", [])
