"""The interpreter tier on IR text: control flow, calls, deopt between versions, counters,
profiles, stack overflow, and frames a caller can inspect."""
import pytest

from offramp.config import Config
from offramp.interp.errors import GuestError
from offramp.ir.text import parse_module
from offramp.ir.verify import verify_module
from offramp.runtime.vm import VM

HEADER = """
.typedef @i1 = int<1>
.typedef @i64 = int<64>
.typedef @dbl = double
.typedef @void = void
.funcsig @unary = (@i64) -> (@i64)
.funcsig @binary = (@i64 @i64) -> (@i64)
"""


def load(body: str, config=None) -> VM:
    module = parse_module(HEADER + body, "test.ir")
    verify_module(module)
    return VM(module, config or Config(tier="interp"))


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
    %fa = CALL <@unary> @fib (%a)
    %fb = CALL <@unary> @fib (%b)
    %s = ADD <@i64> %fa %fb
    RET (%s)
}"""


def test_recursion_and_entry_counter():
    vm = load(FIB)
    assert vm.call("fib", [15]) == 610
    code = vm.interp.code_for(vm.module.functions["fib"].current)
    assert code.entry_count == 1973


def test_loop_counter_counts_header_entries():
    vm = load("""
.funcdef @count VERSION %v1 <@unary> {
  %entry(<@i64> %n):
    BRANCH %head(0)
  %head(<@i64> %i):
    %more = SLT <@i64> %i %n
    BRANCH2 %more %body() %exit()
  %body():
    %j = ADD <@i64> %i 1
    BRANCH %head(%j)
  %exit():
    RET (%i)
}""")
    assert vm.call("count", [25]) == 25
    code = vm.interp.code_for(vm.module.functions["count"].current)
    assert list(code.loop_counts.values()) == [26]


def test_block_arguments_are_a_parallel_copy():
    vm = load("""
.funcdef @swap VERSION %v1 <@binary> {
  %entry(<@i64> %a <@i64> %b):
    BRANCH %loop(%a %b 0)
  %loop(<@i64> %x <@i64> %y <@i64> %k):
    %done = EQ <@i64> %k 3
    %k2 = ADD <@i64> %k 1
    BRANCH2 %done %out(%x) %loop(%y %x %k2)
  %out(<@i64> %r):
    RET (%r)
}""")
    assert vm.call("swap", [1, 2]) == 2


DEOPT = """
.funcdef @callee VERSION %v1 <@unary> {
  %entry(<@i64> %k):
    %d = MUL <@i64> %k 2
    %r = ADD <@i64> %d 1
    RET (%r)
}
.funcdef @caller VERSION %v1 <@unary> {
  %entry(<@i64> %n):
    %c = CALL <@unary> @callee (%n)
    %r = ADD <@i64> %c 100
    RET (%r)
}
.funcdef @caller VERSION %v2 <@unary> {
  %entry(<@i64> %n):
    %ok = SLT <@i64> %n 10
    GUARD %ok ELSE DEOPT "n too large" [@callee %v1 %entry 1 (%d=999) PARENT [@caller %v1 %entry 0 ()]]
    %d = MUL <@i64> %n 2
    %r = ADD <@i64> %d 101
    RET (%r)
}"""


def test_guard_holds_in_the_optimized_version():
    vm = load(DEOPT)
    assert vm.call("caller", [3]) == 107
    assert vm.interp.deopts == {}


def test_failed_guard_rebuilds_inlined_frames():
    vm = load(DEOPT)
    # 999 is not what %v1 would compute: seeing it proves the state's values were used.
    assert vm.call("caller", [20]) == 999 + 1 + 100
    assert vm.interp.deopts == {"n too large": 1}


def test_deopt_frames_are_inspectable_at_a_trap():
    vm = load("""
.funcdef @leaf VERSION %v1 <@unary> {
  %entry(<@i64> %k):
    [%stop] TRAP <@void> KEEPALIVE(%k)
    RET (%k)
}
.funcdef @mid VERSION %v1 <@unary> {
  %entry(<@i64> %m):
    %r = CALL <@unary> @leaf (%m)
    RET (%r)
}
.funcdef @top VERSION %v1 <@unary> {
  %entry(<@i64> %t):
    %r = CALL <@unary> @mid (%t)
    RET (%r)
}
.funcdef @top VERSION %v2 <@unary> {
  %entry(<@i64> %t):
    %x = ADD <@i64> %t 1
    DEOPT "deopt-here" [@leaf %v1 %entry 0 (%k=%x) PARENT [@mid %v1 %entry 0 () PARENT [@top %v1 %entry 0 ()]]]
}""")
    stacks = []

    def handler(ctx):
        cursor, frames = ctx.cursor(), []
        while True:
            frames.append((cursor.func, cursor.version, cursor.block, cursor.index))
            if not cursor.has_caller():
                break
            cursor = cursor.next()
        stacks.append(frames)
        return ctx.pass_values()
    vm.set_trap_handler(handler)
    assert vm.call("top", [4]) == 5
    assert stacks == [[("leaf", "v1", "entry", 0), ("mid", "v1", "entry", 0),
                       ("top", "v1", "entry", 0)]]


def test_stack_overflow_is_a_guest_error_at_the_configured_depth():
    vm = load("""
.funcdef @forever VERSION %v1 <@unary> {
  %entry(<@i64> %n):
    %m = ADD <@i64> %n 1
    %r = CALL <@unary> @forever (%m) !3
    RET (%r)
}""", Config(tier="interp", max_frames=500))
    with pytest.raises(GuestError) as info:
        vm.call("forever", [0])
    assert info.value.message == "Stack overflow."
    assert len(info.value.stack) == 500
    assert vm.main_thread.frames == []


def test_default_depth_allows_thousands_of_frames():
    vm = load("""
.funcdef @down VERSION %v1 <@unary> {
  %entry(<@i64> %n):
    %z = EQ <@i64> %n 0
    BRANCH2 %z %done() %more()
  %done():
    RET (0)
  %more():
    %m = SUB <@i64> %n 1
    %r = CALL <@unary> @down (%m)
    %s = ADD <@i64> %r 1
    RET (%s)
}""")
    assert vm.call("down", [5000]) == 5000


def test_profile_records_classes():
    vm = load("""
.funcdef @p VERSION %v1 <@unary> {
  %entry(<@i64> %n):
    PROFILE 7 %n
    RET (%n)
}""")
    for i in range(3):
        vm.call("p", [i])
    code = vm.interp.code_for(vm.module.functions["p"].current)
    assert code.profiles == {7: {"int": 3}}


def test_globals_load_and_store_through_native_memory():
    vm = load("""
.global @counter <@i64>
.funcdef @bump VERSION %v1 <@unary> {
  %entry(<@i64> %n):
    %old = LOAD <@i64> @counter 0
    %new = ADD <@i64> %old %n
    STORE <@i64> @counter 0 %new
    RET (%new)
}""")
    vm.call("bump", [5])
    assert vm.call("bump", [6]) == 11
    assert vm.read_global("counter") == 11


def test_calls_enter_the_current_version_but_frames_keep_theirs():
    vm = load("""
.funcdef @f VERSION %v1 <@unary> {
  %entry(<@i64> %n):
    [%t] TRAP <@void>
    RET (1)
}""")
    from offramp.ir.text import parse_module as parse
    extra = parse(HEADER + """
.funcdef @f VERSION %v2 <@unary> {
  %entry(<@i64> %n):
    RET (2)
}""")
    versions = []

    def handler(ctx):
        versions.append(ctx.cursor().version)
        vm.module.functions["f"].versions.append(extra.functions["f"].versions[0])
        return ctx.pass_values()
    vm.set_trap_handler(handler)
    assert vm.call("f", [0]) == 1
    assert vm.call("f", [0]) == 2
    assert versions == ["v1"]


def test_a_rearmed_loop_reports_hot_at_its_next_iteration_and_counts_stay_true():
    """Tiering re-arms the loops a frame is in (a callee got hot there): the next back edge
    reports a hot loop although the count is far below the threshold."""
    from offramp.ir.text import parse_module
    from offramp.runtime.vm import VM
    module = parse_module(LOOP_FOR_REARM)
    vm = VM(module)
    vm.interp.loop_threshold = 1000
    reports = []

    def on_hot(thread, frame):
        reports.append(frame.code.loop_counts[frame.pc])
        return None

    def on_call(thread, func, args):
        frame = thread.frames[-1]
        if frame.code.loop_counts[frame.code.block_pc["head"]] == 5:
            assert vm.interp.rearm_hot_loops(frame) == (frame.code.block_pc["head"],)
        return None
    vm.interp.loop_hook, vm.interp.call_hook = on_hot, on_call
    assert vm.call("f", [10]) == 10
    assert reports == [6]


LOOP_FOR_REARM = """
.typedef @i1 = int<1>
.typedef @i64 = int<64>
.funcsig @unary = (@i64) -> (@i64)
.funcdef @id VERSION %v1 <@unary> {
  %entry(<@i64> %x):
    RET (%x)
}
.funcdef @f VERSION %v1 <@unary> {
  %entry(<@i64> %n):
    BRANCH %head(0)
  %head(<@i64> %i):
    %more = SLT <@i64> %i %n
    BRANCH2 %more %body() %done()
  %body():
    %j = CALL <@unary> @id (%i)
    %i2 = ADD <@i64> %j 1
    BRANCH %head(%i2)
  %done():
    RET (%i)
}
"""
