"""Redundancy elimination: repeated pure computations, loads and guards go; effects stay."""
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from offramp.ir.nodes import Sym, Var
from offramp.ir.text import parse_module
from offramp.ir.verify import verify_module, verify_version
from offramp.opt.dce import eliminate_dead_code
from offramp.opt.redundancy import _Walk, eliminate_redundancy
from offramp.runtime.vm import VM

from .helpers import HEADER, instr_ops, load, run

MASK = (1 << 64) - 1


def cleaned(module, name="f"):
    """Redundancy elimination then DCE of @name's current version, both verified."""
    v = eliminate_redundancy(module, module.functions[name].current, "v2")
    verify_version(module, v)
    v = eliminate_dead_code(module, v, "v2")
    verify_version(module, v)
    return v


REPEATED_GUARD = """
.funcdef @f VERSION %v1 <@unary> {
  %entry(<@i64> %n):
    %a = MUL <@i64> %n 3
    %s = ADD <@i64> %a %a
    %r = SUB <@i64> %s 1
    RET (%r)
}
.funcdef @f VERSION %v2 <@unary> {
  %entry(<@i64> %n):
    %ok = SLT <@i64> %n 100
    GUARD %ok ELSE DEOPT "n too large" [@f %v1 %entry 0 (%n=%n)]
    %ok2 = SLT <@i64> %n 100
    GUARD %ok2 ELSE DEOPT "n too large again" [@f %v1 %entry 0 (%n=%n)]
    %a = MUL <@i64> %n 3
    %b = MUL <@i64> %n 3
    %s = ADD <@i64> %a %b
    %r = SUB <@i64> %s 1
    RET (%r)
}"""


def test_a_guard_implied_by_a_dominating_guard_goes_and_so_does_a_repeated_computation():
    module = load(REPEATED_GUARD)
    v3 = cleaned(module)
    assert instr_ops(v3).count("GUARD") == 1
    assert instr_ops(v3).count("MUL") == 1
    vm = VM(module)
    for n in (5, 50, 500):      # 500 fails the guard: the kept one deopts with its state
        assert run(vm, v3, [n]) == 6 * n - 1
    assert vm.interp.deopts == {"n too large": 1}


NEVER_EQUAL = """
.funcsig @trsig = (@tr @i64) -> (@tr)
.funcdef @f VERSION %v1 <@trsig> {
  %entry(<@tr> %x <@i64> %n):
    RET (%x)
}
.funcdef @f VERSION %v2 <@trsig> {
  %entry(<@tr> %x <@i64> %n):
    %neg = SLT <@i64> %n 0
    %b = SELECT <@tr> %neg 9222246136947933186 9222246136947933187
    %defined = NE <@tr> %b 9222246136947933188
    GUARD %defined ELSE DEOPT "undefined" [@f %v1 %entry 0 (%x=%x)]
    %d = SITOFP <@i64 @dbl> %n
    %boxed = TR64_FROM_FP %d
    %not_nil = NE <@tr> %boxed 9222246136947933185
    GUARD %not_nil ELSE DEOPT "nil" [@f %v1 %entry 0 (%x=%x)]
    %maybe_false = NE <@tr> %b 9222246136947933186
    GUARD %maybe_false ELSE DEOPT "false" [@f %v1 %entry 0 (%x=%x)]
    RET (%x)
}"""


def test_inequalities_with_constants_a_value_cannot_be_hold():
    """false/true vs undefined and a boxed double vs nil always differ; false/true vs false
    may not, so that guard stays."""
    module = load(NEVER_EQUAL)
    v3 = cleaned(module)
    reasons = [i.arg("reason") for b in v3.blocks for i in b.instrs if i.op == "GUARD"]
    assert reasons == ["false"]


GLOBALS = """
.global @a <@i64>
.global @b <@i64>
.extern @bump_a <@unary>
.funcdef @f VERSION %v1 <@unary> {
  %entry(<@i64> %n):
    STORE <@i64> @a 0 %n
    STORE <@i64> @b 0 7
    %x = LOAD <@i64> @a 0
    %y = LOAD <@i64> @b 0
    %z = LOAD <@i64> @a 0
    %c = CCALL @bump_a (%n)
    %w = LOAD <@i64> @a 0
    %s1 = ADD <@i64> %x %y
    %s2 = ADD <@i64> %s1 %z
    %s3 = MUL <@i64> %s2 %w
    RET (%s3)
}"""


def test_loads_are_forwarded_from_stores_and_repeated_loads_but_not_across_a_helper():
    module = load(GLOBALS)
    v2 = cleaned(module)
    assert instr_ops(v2).count("LOAD") == 1      # only the load after the helper stays

    def bump_a(k):
        vm.write_global("a", k + 1000)
        return 0
    vm = VM(module, helpers={"bump_a": bump_a})
    assert run(vm, v2, [5]) == (5 + 7 + 5) * 1005 == run(vm, module.functions["f"].current, [5])


LOOP = """
.global @cell <@i64>
.funcdef @f VERSION %v1 <@unary> {
  %entry(<@i64> %n):
    STORE <@i64> @cell 0 1
    BRANCH %head(0)
  %head(<@i64> %i):
    %x = LOAD <@i64> @cell 0
    %x2 = ADD <@i64> %x %x
    STORE <@i64> @cell 0 %x2
    %i2 = ADD <@i64> %i 1
    %more = SLT <@i64> %i2 %n
    BRANCH2 %more %head(%i2) %exit()
  %exit():
    %r = LOAD <@i64> @cell 0
    RET (%r)
}"""


def test_a_loop_header_does_not_take_a_load_from_before_the_loop():
    module = load(LOOP)
    v2 = cleaned(module)
    assert instr_ops(v2).count("LOAD") == 1      # the exit's load is the stored value
    vm = VM(module)
    assert run(vm, v2, [5]) == 32 == run(vm, module.functions["f"].current, [5])


DIAMOND = """
.global @cell <@i64>
.global @other <@i64>
.funcdef @f VERSION %v1 <@unary> {
  %entry(<@i64> %n):
    STORE <@i64> @cell 0 %n
    %neg = SLT <@i64> %n 0
    BRANCH2 %neg %left() %right()
  %left():
    STORE <@i64> @other 0 1
    BRANCH %join()
  %right():
    STORE <@i64> @other 0 2
    BRANCH %join()
  %join():
    %x = LOAD <@i64> @cell 0
    %y = LOAD <@i64> @other 0
    %s = ADD <@i64> %x %y
    RET (%s)
}"""


def test_a_join_keeps_the_loads_every_edge_agrees_on():
    module = load(DIAMOND)
    v2 = cleaned(module)
    join = next(b for b in v2.blocks if b.label == "join")
    loads = [i for i in join.instrs if i.op == "LOAD"]
    assert [i.arg("base") for i in loads] == [Sym("other")]
    vm = VM(module)
    for n in (-3, 4):
        assert run(vm, v2, [n]) == run(vm, module.functions["f"].current, [n])


ALIASING = """
.typedef @ref = ref
.typedef @ptr = ptr
.global @g <@tr>
.funcsig @probe = (@tr @tr @ptr) -> (@i64)
.funcdef @f VERSION %v1 <@probe> UNSAFE {
  %entry(<@tr> %p <@tr> %q <@ptr> %raw):
    %o = TR64_TO_REF %p
    %u = TR64_TO_REF %q
    RET (0)
}"""


def test_what_may_alias_follows_from_what_a_base_is():
    module = load(ALIASING)
    walk = _Walk(module, module.functions["f"].current)
    walk.note_bases()
    o, u, raw, g = Var("o"), Var("u"), Var("raw"), Sym("g")
    assert walk.may_alias(o, 0, o, 0) and not walk.may_alias(o, 0, o, 8)
    assert walk.may_alias(o, 0, u, 0) and not walk.may_alias(o, 0, u, 8)   # objects
    assert not walk.may_alias(o, 0, g, 0)                                 # heap vs static
    assert walk.may_alias(raw, 16, o, 0) and walk.may_alias(raw, 0, g, 0)  # unknown pointer


# ---------------------------------------------------------------------------- random

@st.composite
def memory_programs(draw):
    """Straight-line code over two globals: loads, stores, pure arithmetic, a helper call."""
    env, lines = ["n"], []
    for k in range(draw(st.integers(1, 14))):
        op = draw(st.sampled_from(["LOAD", "STORE", "ADD", "MUL", "CCALL"]))
        cell = draw(st.sampled_from(["a", "b"]))
        value = "%" + draw(st.sampled_from(env)) if draw(st.booleans()) else \
            str(draw(st.integers(-5, 5)))
        if op == "LOAD":
            lines.append(f"    %v{k} = LOAD <@i64> @{cell} 0")
        elif op == "STORE":
            lines.append(f"    STORE <@i64> @{cell} 0 {value}")
            continue
        elif op == "CCALL":
            lines.append(f"    %v{k} = CCALL @scramble ({value})")
        else:
            lines.append(f"    %v{k} = {op} <@i64> {value} %{draw(st.sampled_from(env))}")
        env.append(f"v{k}")
    terms = " ".join(f"%{e}" for e in env[-2:])
    lines.append(f"    %sum = ADD <@i64> {terms}" if len(env) > 1 else "    %sum = ADD <@i64> %n 0")
    lines.append("    RET (%sum)")
    return "\n".join([".global @a <@i64>", ".global @b <@i64>", ".extern @scramble <@unary>",
                      ".funcdef @f VERSION %v1 <@unary> {", "  %entry(<@i64> %n):",
                      "    STORE <@i64> @a 0 %n", "    STORE <@i64> @b 0 3", *lines, "}"])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(memory_programs(), st.integers(0, 50))
def test_random_loads_and_stores_keep_their_results(text, n):
    module = parse_module(HEADER + text, "random.ir")
    verify_module(module)
    original = module.functions["f"].current
    v2 = cleaned(module)

    def scramble(k):
        vm.write_global("a", (vm.read_global("a") * 3 + k) & MASK)
        vm.write_global("b", (vm.read_global("b") - k) & MASK)
        return (k * 2) & MASK
    results = []
    for version in (original, v2):
        vm = VM(module, helpers={"scramble": scramble})
        results.append((run(vm, version, [n]), vm.read_global("a"), vm.read_global("b")))
    assert results[0] == results[1]


FOLDED_ON_THE_WAY = """
.funcdef @f VERSION %v1 <@unary> {
  %entry(<@i64> %n):
    %k = ADD <@i64> 2 3
    %big = SGT <@i64> %k 4
    GUARD %big ELSE DEOPT "always holds" [@f %v1 %entry 0 (%n=%n)]
    %m = MUL <@i64> %n 3
    BRANCH2 %big %then(%m) %else(%n)
  %then(<@i64> %x):
    BRANCH %join(%x %k)
  %else(<@i64> %y):
    BRANCH %join(%y %k)
  %join(<@i64> %v <@i64> %w):
    %again = MUL <@i64> %n 3
    %r = ADD <@i64> %v %again
    %s = ADD <@i64> %r %w
    RET (%s)
}"""


def test_the_walk_folds_constants_and_follows_a_folded_branch_with_a_sweep():
    """2 + 3 folds, so the guard goes and the branch takes %then: %join is left one way in,
    and the sweep after the walk binds its parameters to what that edge passes."""
    module = load(FOLDED_ON_THE_WAY)
    original = module.functions["f"].current
    v2 = cleaned(module)
    ops = instr_ops(v2)
    assert "GUARD" not in ops and "BRANCH2" not in ops and ops.count("MUL") == 1
    assert all(not b.params for b in v2.blocks[1:])
    vm = VM(module)
    for n in (0, 7, -4):
        assert run(vm, v2, [n]) == run(vm, original, [n]) == (6 * n + 5) & MASK
    assert not vm.interp.deopts
