"""Deoptimization out of native code, checked on IR text against the interpreter.

- a guard in `h` inlined into `g` inlined into `f` rebuilds three interpreter frames with
  the right values;
- doubles that live in XMM registers at a deopt exit come back exactly;
- a guard failing in a loop entered by OSR resumes at the right iteration;
- deopt-stress deoptimizes at every call and guard and changes no result;
- a guest error raised three native frames deep carries the whole stack.
"""
import io

import pytest

from offramp.config import Config
from offramp.interp.errors import GuestError
from offramp.ir.text import parse_module
from offramp.ir.verify import verify_module
from offramp.lox.driver import run_lox
from offramp.opt.inline import inline_calls
from offramp.opt.pipeline import install
from offramp.runtime.vm import VM

HEADER = """
.typedef @i1 = int<1>
.typedef @i64 = int<64>
.typedef @dbl = double
.typedef @void = void
.funcsig @unary = (@i64) -> (@i64)
.funcsig @dunary = (@dbl) -> (@dbl)
.funcsig @error_sig = (@i64) -> ()
.extern @error <@error_sig>
"""


def native_vm(body, **config):
    module = parse_module(HEADER + body, "test.ir")
    verify_module(module)
    from offramp.runtime.ir_runner import link_helpers, standard_helpers
    import io
    helpers = link_helpers(module, standard_helpers(io.StringIO()))
    return VM(module, Config(tier="eager", **config), helpers=helpers)


THREE_DEEP = """
.funcdef @h VERSION %v1 <@unary> {
  %entry(<@i64> %z):
    %z2 = MUL <@i64> %z 10
    %ok = SLT <@i64> %z 100
    GUARD %ok ELSE DEOPT "z too large" [@h %v1 %entry 3 (%z=%z %z2=%z2)]
    [%seen] TRAP <@void> KEEPALIVE(%z %z2)
    %r = ADD <@i64> %z2 1
    RET (%r)
}
.funcdef @g VERSION %v1 <@unary> {
  %entry(<@i64> %y):
    %y2 = ADD <@i64> %y 2
    %r = CALL <@unary> @h (%y2) [@g %v1 %entry 1 (%y=%y)]
    %s = ADD <@i64> %r %y
    RET (%s)
}
.funcdef @f VERSION %v1 <@unary> {
  %entry(<@i64> %x):
    %x3 = MUL <@i64> %x 3
    %r = CALL <@unary> @g (%x3) [@f %v1 %entry 1 (%x=%x)]
    %s = SUB <@i64> %r %x
    RET (%s)
}
"""


def test_guard_in_h_inlined_into_g_inlined_into_f_rebuilds_three_frames():
    vm = native_vm(THREE_DEEP)
    module = vm.module
    g_inlined = inline_calls(module, module.functions["g"].current, "v2")
    install(module, g_inlined)
    f_inlined = inline_calls(module, module.functions["f"].current, "v2")
    install(module, f_inlined)
    assert not any(i.op == "CALL" for b in f_inlined.blocks for i in b.instrs)
    stacks = []

    def handler(ctx):
        cursor, frames = ctx.cursor(), []
        while True:
            frames.append((cursor.func, cursor.version, cursor.index,
                           {k: v for k, v in cursor.values().items() if v is not None}))
            if not cursor.has_caller():
                break
            cursor = cursor.next()
        stacks.append(frames)
        return ctx.pass_values()
    vm.set_trap_handler(handler)
    # x = 40: y = 120, z = 122 >= 100: the guard fails inside the twice-inlined h.
    assert vm.call("f", [40]) == (1220 + 1) + 120 - 40
    assert vm.tiers.engine.deopts == {"z too large": 1}
    (frames,) = stacks
    assert [(f, v, i) for f, v, i, _ in frames[:3]] == [("h", "v1", 3), ("g", "v1", 1),
                                                       ("f", "v1", 1)]
    assert frames[0][3] == {"z": 122, "z2": 1220}
    assert frames[1][3]["y"] == 120
    assert frames[2][3]["x"] == 40


DOUBLES = """
.funcdef @mix VERSION %v1 <@dunary> {
  %entry(<@dbl> %a):
    %b = FMUL <@dbl> %a 1.5
    %c = FADD <@dbl> %b 0.25
    %d = FSUB <@dbl> %c %a
    %big = FOGT <@dbl> %d 100.0
    %ok = XOR <@i1> %big 1
    GUARD %ok ELSE DEOPT "d too big" [@mix %v1 %entry 6 (%b=%b %c=%c %d=%d)]
    %e = FMUL <@dbl> %d %c
    %f = FDIV <@dbl> %e %b
    RET (%f)
}
"""


@pytest.mark.parametrize("a", [0.5, 1e3, -3.0e5, 123456.789])
def test_doubles_in_xmm_registers_survive_a_deopt(a):
    interp = VM(parse_module(HEADER + DOUBLES), Config(tier="interp"))
    vm = native_vm(DOUBLES)
    assert vm.call("mix", [a]) == interp.call("mix", [a])
    assert vm.tiers.engine.deopts.get("d too big", 0) == (1 if a * 0.5 + 0.25 > 100 else 0)


def test_deopt_exit_values_live_in_stack_slots():
    """Deopt exits are statepoints: LLVM spills their values (doubles included) to stack
    slots, so no exit asks the register allocator for more registers than exist."""
    vm = native_vm(DOUBLES)
    vm.call("mix", [1e4])
    (code,) = vm.tiers.engine.codes
    guard_sites = [s for s in code.table.sites() if s.kind == "guard"]
    locations = [loc for s in guard_sites for f in s.frames for loc in f.locations]
    assert locations
    assert {loc.kind.name for loc in locations} <= {"INDIRECT", "CONSTANT"}


LOOP = """
.funcdef @sum VERSION %v1 <@unary> {
  %entry(<@i64> %n):
    BRANCH %head(0 0)
  %head(<@i64> %i <@i64> %acc):
    %more = SLT <@i64> %i %n
    BRANCH2 %more %body() %done()
  %body():
    %acc2 = ADD <@i64> %acc %i
    %i2 = ADD <@i64> %i 1
    BRANCH %head(%i2 %acc2)
  %done():
    RET (%acc)
}
.funcdef @sum VERSION %v2 <@unary> {
  %entry(<@i64> %n):
    BRANCH %head(0 0)
  %head(<@i64> %i <@i64> %acc):
    %more = SLT <@i64> %i %n
    BRANCH2 %more %body() %done()
  %body():
    %small = SLT <@i64> %i 700
    GUARD %small ELSE DEOPT "i reached 700" [@sum %v1 %body 0 (%i=%i %acc=%acc %n=%n)]
    %acc2 = ADD <@i64> %acc %i
    %i2 = ADD <@i64> %i 1
    BRANCH %head(%i2 %acc2)
  %done():
    RET (%acc)
}
"""


def test_guard_failing_after_osr_entry_resumes_at_the_right_iteration():
    module = parse_module(HEADER + LOOP)
    verify_module(module)
    # The interpreter runs %v1; the OSR entry clone is made of the guarded %v2.
    optimized = module.functions["sum"].versions.pop()
    vm = VM(module, Config(tier="jit", call_threshold=10**9, loop_threshold=50,
                           trace=frozenset()))

    def optimizer(vm_, func):
        if func.name.startswith("sum.osr."):
            from offramp.opt.osr import osr_entry
            clone, _ = osr_entry(module, optimized, "head")
            return clone.current
        return func.current
    vm.set_optimizer(optimizer)
    assert vm.call("sum", [1000]) == sum(range(1000))
    # Entered at iteration 50, left at 700; the interpreter re-enters the same clone every
    # loop_threshold iterations (750, ..., 1000), and its guard fails there at once (but at
    # 1000, where the loop ends).
    assert (vm.tiers.osr_entries, vm.tiers.osr_reentries) == (1, 6)
    assert vm.tiers.engine.deopts == {"i reached 700": 6}
    assert len(vm.tiers.engine.codes) == 1


def test_deopt_stress_at_every_call_and_guard_changes_nothing():
    expected = VM(parse_module(HEADER + THREE_DEEP), Config(tier="interp"))
    expected.set_trap_handler(lambda ctx: ctx.pass_values())
    vm = native_vm(THREE_DEEP, deopt_stress=1)
    vm.set_trap_handler(lambda ctx: ctx.pass_values())
    for x in (1, 5, 40):
        assert vm.call("f", [x]) == expected.call("f", [x])
    assert sum(vm.tiers.engine.deopts.values()) > 0


NESTED_ERROR = """
.funcdef @c VERSION %v1 <@unary> {
  %entry(<@i64> %k):
    CCALL @error (%k) !30
    RET (%k)
}
.funcdef @b VERSION %v1 <@unary> {
  %entry(<@i64> %k):
    %r = CALL <@unary> @c (%k) !20
    RET (%r)
}
.funcdef @a VERSION %v1 <@unary> {
  %entry(<@i64> %k):
    %r = CALL <@unary> @b (%k) !10
    RET (%r)
}
"""


def test_guest_error_three_native_frames_deep_has_the_whole_stack():
    vm = native_vm(NESTED_ERROR)
    with pytest.raises(GuestError) as info:
        vm.call("a", [7])
    assert info.value.message == "error 7"
    assert [(v.func, i.line) for v, i in info.value.stack] == [("a", 10), ("b", 20),
                                                               ("c", 30)]
    assert len(vm.tiers.engine.codes) == 3


INVALIDATE = """
.funcsig @void_sig = (@i64) -> ()
.extern @poke <@void_sig>
.funcdef @work VERSION %v1 <@unary> {
  %entry(<@i64> %n):
    BRANCH %head(0 0)
  %head(<@i64> %i <@i64> %acc):
    %more = SLT <@i64> %i %n
    BRANCH2 %more %body() %done()
  %body():
    CCALL @poke (%i)
    %acc2 = ADD <@i64> %acc %i
    %i2 = ADD <@i64> %i 1
    SAFEPOINT
    BRANCH %head(%i2 %acc2)
  %done():
    RET (%acc)
}
"""


def test_invalidated_code_leaves_lazily_at_its_next_post_call_check():
    module = parse_module(HEADER + INVALIDATE)
    verify_module(module)
    vm = None

    def poke(i):
        if i == 10:
            (code,) = vm.tiers.engine.codes
            vm.tiers.invalidate("work")
            assert code.invalid
    vm = VM(module, Config(tier="eager"), helpers={"poke": poke})
    assert vm.call("work", [50]) == sum(range(50))
    assert vm.tiers.engine.deopts == {"lazy deopt": 1}
    # The interpreter went on with the loop (re-entered by OSR: eager mode); a new call
    # compiles the function again.
    assert vm.call("work", [5]) == 10
    assert [c.version.func for c in vm.tiers.engine.codes] == ["work", "work.osr.head", "work"]


def many_live_values(n: int) -> str:
    """@f: n integers and n doubles, all live at a guard that fails for k < 0."""
    lines = []
    for i in range(n):
        lines.append(f"    %a{i} = ADD <@i64> %k {i}")
        lines.append(f"    %d{i} = SITOFP <@i64 @dbl> %a{i}")
    live = " ".join([f"%a{i}=%a{i}" for i in range(n)] + [f"%d{i}=%d{i}" for i in range(n)])
    isums = [f"    %s{i} = ADD <@i64> %s{i - 1} %a{i}" for i in range(1, n)]
    dsums = [f"    %e{i} = FADD <@dbl> %e{i - 1} %d{i}" for i in range(1, n)]
    return f"""
.funcdef @f VERSION %v1 <@unary> {{
  %entry(<@i64> %k):
{chr(10).join(lines)}
    %ok = SGE <@i64> %k 0
    GUARD %ok ELSE DEOPT "negative" [@f %v1 %entry {2 * n + 2} ({live})]
    %s0 = ADD <@i64> %a0 0
    %e0 = FADD <@dbl> %d0 0.0
{chr(10).join(isums + dsums)}
    %t = FPTOSI <@dbl @i64> %e{n - 1}
    %r = ADD <@i64> %s{n - 1} %t
    RET (%r)
}}"""


@pytest.mark.parametrize("k", [3, -3])
def test_deopt_exit_with_more_values_than_registers_compiles_at_o0(monkeypatch, k):
    # Found by the IR generator: a patchpoint's values must all be in registers under -O0
    # codegen's fast register allocator, which aborted the whole process ("ran out of
    # registers during register allocation"); such exits are statepoints now.
    from offramp.native import llvm_setup
    monkeypatch.setattr(llvm_setup, "FAST_CODEGEN_ABOVE", 0)
    vm = native_vm(many_live_values(20))
    expected = 2 * sum(k + i for i in range(20))
    assert vm.call("f", [k]) == expected
    assert vm.tiers.engine.deopts == ({"negative": 1} if k < 0 else {})


PENDING_RESULT = """
class Box { init(v) { this.v = v; } }
fun make(i) { return Box(i); }
fun run() {
  var total = 0;
  for (var i = 0; i < 40; i = i + 1) {
    var b = make(i);
    total = total + b.v;
  }
  return total;
}
print run();
"""


@pytest.mark.parametrize("threads", [False, True])
def test_a_call_result_pending_at_a_deopt_exit_is_a_root(threads):
    """At a deopt exit after a call the fresh object the call returned is held only by the
    exit's stack map (as the pending result) until the frames are rebuilt; a collection
    then — gc-stress collects at every deopt exit, and another thread may collect while
    this one waits for the VM lock there — must keep it."""
    source = PENDING_RESULT
    if threads:
        source = source.replace("print run();", "var t = spawn(run); print run(); print join(t);")
    out, err = io.StringIO(), io.StringIO()
    config = Config(tier="eager", gc_stress=True, deopt_stress=1)
    assert run_lox(source, "pending.lox", config, out, err) == 0, err.getvalue()
    assert out.getvalue() == ("780\n780\n" if threads else "780\n")
