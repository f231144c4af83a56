"""The Mu trap model on IR text: compute-and-resume, keep-alive reads, early return,
pushed frames, thrown errors, watchpoints and misuse of the client API.

Every test runs in the interpreter and in eager mode (every function native from its first
call, every loop from its first iteration): native traps must behave exactly as
interpreted ones."""
import pytest

from offramp.config import Config
from offramp.interp.errors import GuestError
from offramp.ir.text import parse_module
from offramp.ir.verify import verify_module
from offramp.runtime.traps import ClientAPIError
from offramp.runtime.vm import VM

HEADER = """
.typedef @i1 = int<1>
.typedef @i8 = int<8>
.typedef @i16 = int<16>
.typedef @i32 = int<32>
.typedef @i64 = int<64>
.typedef @double = double
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


def test_trap_with_a_frame_state_runs_the_handler(tier):
    vm = load(tier, """
.funcdef @f VERSION %v1 <@unary> {
  %entry(<@i64> %n):
    %m = ADD <@i64> %n 1
    %x = [%stated] TRAP <@i64> KEEPALIVE(%m %n) [@f %v1 %entry 1 (%m=%m %n=%n)]
    %r = MUL <@i64> %x %m
    RET (%r)
}""")
    seen = []

    def handler(ctx):
        cursor = ctx.cursor()
        seen.append((cursor.func, cursor.block, cursor.index, cursor.keepalives()))
        return ctx.pass_values(cursor.keepalives()[1] * 10)
    vm.set_trap_handler(handler)
    assert vm.call("f", [4]) == 40 * 5
    assert seen == [("f", "entry", 1, (5, 4))]


def test_trap_in_a_version_whose_state_names_another_stops_in_the_running_version(tier):
    vm = load(tier, """
.funcdef @f VERSION %v1 <@unary> {
  %entry(<@i64> %n):
    %x = [%old] TRAP <@i64> KEEPALIVE(%n)
    %r = ADD <@i64> %x %n
    RET (%r)
}
.funcdef @f VERSION %v2 <@unary> {
  %entry(<@i64> %k):
    %k2 = ADD <@i64> %k 0
    %y = [%new] TRAP <@i64> KEEPALIVE(%k2) [@f %v1 %entry 0 (%n=%k2)]
    %r = ADD <@i64> %y %k2
    RET (%r)
}""")
    seen = []

    def handler(ctx):
        cursor = ctx.cursor()
        seen.append((cursor.version, cursor.instruction_name, cursor.keepalives()))
        return ctx.pass_values(100)
    vm.set_trap_handler(handler)
    assert vm.call("f", [3]) == 103
    assert seen == [("v2", "new", (3,))]


@pytest.mark.parametrize("ty, passed, expected", [
    ("i1", 1, 1), ("i8", 200, 201), ("i16", 40000, 40001), ("i32", 3_000_000_000, 3_000_000_001),
    ("i64", 2**63 + 5, 2**63 + 6), ("double", 2.5, 3.5)])
def test_trap_result_of_every_type_is_used(tier, ty, passed, expected):
    add = "FADD" if ty == "double" else "ADD"
    one = "1.0" if ty == "double" else "1"
    if ty == "i1":
        add, one = "XOR", "0"
    vm = load(tier, f"""
.funcsig @sig = (@{ty}) -> (@{ty})
.funcdef @f VERSION %v1 <@sig> {{
  %entry(<@{ty}> %a):
    %x = [%t] TRAP <@{ty}> KEEPALIVE(%a)
    %r = {add} <@{ty}> %x {one}
    RET (%r)
}}""")
    seen = []

    def handler(ctx):
        seen.append(ctx.cursor().keepalives())
        return ctx.pass_values(passed)
    vm.set_trap_handler(handler)
    start = 0.5 if ty == "double" else 1
    assert vm.call("f", [start]) == expected
    assert seen == [(start,)]


def test_void_trap_in_a_loop_sees_each_iteration_once(tier):
    vm = load(tier, """
.funcdef @f VERSION %v1 <@unary> {
  %entry(<@i64> %n):
    BRANCH %head(0 0)
  %head(<@i64> %i <@i64> %acc):
    %more = SLT <@i64> %i %n
    BRANCH2 %more %body(%i %acc) %done(%acc)
  %body(<@i64> %j <@i64> %a):
    %a2 = ADD <@i64> %a %j
    [%each] TRAP <@void> KEEPALIVE(%j %a2)
    %j2 = ADD <@i64> %j 1
    BRANCH %head(%j2 %a2)
  %done(<@i64> %s):
    RET (%s)
}
.funcdef @g VERSION %v1 <@unary> {
  %entry(<@i64> %n):
    %r = CALL <@unary> @f (%n)
    %r2 = ADD <@i64> %r 1000
    RET (%r2)
}""")
    seen = []

    def handler(ctx):
        cursor = ctx.cursor()
        stack = [cursor.func]
        while cursor.has_caller():
            cursor = cursor.next()
            stack.append(cursor.func)
        seen.append((ctx.cursor().keepalives(), stack))
        return ctx.pass_values()
    vm.set_trap_handler(handler)
    assert vm.call("g", [4]) == 1006
    assert seen == [((j, sum(range(j + 1))), ["f", "g"]) for j in range(4)]


def test_trap_three_calls_deep_sees_every_frame_and_their_keepalives(tier):
    vm = load(tier, """
.funcdef @h VERSION %v1 <@unary> {
  %entry(<@i64> %c):
    %c2 = MUL <@i64> %c 2
    %v = [%deep] TRAP <@i64> KEEPALIVE(%c %c2)
    %r = ADD <@i64> %v %c2
    RET (%r)
}
.funcdef @g VERSION %v1 <@unary> {
  %entry(<@i64> %b):
    %b1 = ADD <@i64> %b 1
    %r = CALL <@unary> @h (%b1) KEEPALIVE(%b)
    %s = SUB <@i64> %r %b
    RET (%s)
}
.funcdef @f VERSION %v1 <@unary> {
  %entry(<@i64> %a):
    %a1 = ADD <@i64> %a 1
    %r = CALL <@unary> @g (%a1) KEEPALIVE(%a1 %a)
    %s = MUL <@i64> %r 3
    RET (%s)
}""")
    stacks = []

    def handler(ctx):
        cursor, stack = ctx.cursor(), []
        while True:
            stack.append((cursor.func, cursor.block, cursor.index, cursor.keepalives()))
            if not cursor.has_caller():
                break
            cursor = cursor.next()
        stacks.append(stack)
        return ctx.pass_values(7)
    vm.set_trap_handler(handler)
    # a=1: a1=2, b=2, b1=3, c=3, c2=6; h returns 13, g 11, f 33
    assert vm.call("f", [1]) == 33
    assert stacks == [[("h", "entry", 1, (3, 6)), ("g", "entry", 1, (2,)),
                       ("f", "entry", 1, (2, 1))]]
    if tier == "eager":
        assert vm.tiers.engine.deopts == {"trap": 1}


@pytest.mark.parametrize("config", [{"tier": "interp"}, {"tier": "jit", "call_threshold": 2}])
def test_early_return_from_native_code_into_an_interpreted_caller(config):
    # With the jit, @inner is interpreted at its first call and native at its second,
    # while @outer stays interpreted: the handler pops native frames down to it.
    module = parse_module(HEADER + """
.funcdef @inner VERSION %v1 <@unary> {
  %entry(<@i64> %k):
    [%leave] TRAP <@void> KEEPALIVE(%k)
    RET (%k)
}
.funcdef @outer VERSION %v1 <@unary> {
  %entry(<@i64> %n):
    %a = CALL <@unary> @inner (%n)
    %b = CALL <@unary> @inner (%a)
    %r = ADD <@i64> %a %b
    RET (%r)
}""", "test.ir")
    verify_module(module)
    vm = VM(module, Config(**config))
    seen = []

    def handler(ctx):
        cursor = ctx.cursor()
        (k,) = cursor.keepalives()
        seen.append((cursor.func, cursor.next().func, k))
        ctx.pop_frames_to(cursor.next())
        return ctx.pass_values(k * 10)
    vm.set_trap_handler(handler)
    assert vm.call("outer", [3]) == 30 + 300
    assert seen == [("inner", "outer", 3), ("inner", "outer", 30)]
    if config["tier"] == "jit":
        assert vm.tiers.engine.deopts == {"trap": 1}


@pytest.mark.parametrize("enabled", [False, True])
def test_watchpoint_whose_targets_take_parameters(tier, enabled):
    vm = load(tier, """
.funcsig @dsig = (@i64) -> (@double)
.funcdef @f VERSION %v1 <@dsig> {
  %entry(<@i64> %n):
    %d = SITOFP <@i64 @double> %n
    %h = FMUL <@double> %d 0.5
    WATCHPOINT 9 <@double> %off(%n %h) %on(%h %n) KEEPALIVE(%h)
  %off(<@i64> %a <@double> %b):
    %a2 = SITOFP <@i64 @double> %a
    %s = FADD <@double> %a2 %b
    RET (%s)
  %on(<@double> %c <@i64> %k <@double> %fromtrap):
    %p = FMUL <@double> %c %fromtrap
    %k2 = SITOFP <@i64 @double> %k
    %q = FSUB <@double> %p %k2
    RET (%q)
}""")
    seen = []

    def handler(ctx):
        seen.append(ctx.cursor().keepalives())
        return ctx.pass_values(4.0)
    vm.set_trap_handler(handler)
    if enabled:
        vm.enable_watchpoint(9)
    assert vm.call("f", [3]) == (1.5 * 4.0 - 3.0 if enabled else 4.5)
    assert seen == ([(1.5,)] if enabled else [])


def test_trap_handler_error_unwinds_native_callers(tier):
    vm = load(tier, """
.funcdef @g VERSION %v1 <@unary> {
  %entry(<@i64> %k):
    [%fail] TRAP <@void> KEEPALIVE(%k) !12
    RET (%k)
}
.funcdef @f VERSION %v1 <@unary> {
  %entry(<@i64> %n):
    %r = CALL <@unary> @g (%n) !3
    %s = ADD <@i64> %r 1
    RET (%s)
}""")
    vm.set_trap_handler(lambda ctx: ctx.throw("no"))
    with pytest.raises(GuestError) as info:
        vm.call("f", [1])
    assert [instr.line for _, instr in info.value.stack] == [3, 12]
    vm.set_trap_handler(lambda ctx: ctx.pass_values())
    assert vm.call("f", [1]) == 2
