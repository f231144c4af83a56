"""Random small functions over i64 (straight lines and diamonds): fold + DCE keep results."""
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from offramp.ir.text import parse_module
from offramp.ir.verify import verify_module, verify_version
from offramp.opt.dce import eliminate_dead_code
from offramp.opt.fold import fold_constants
from offramp.opt.pipeline import optimize
from offramp.runtime.vm import VM

from .helpers import HEADER, run

MASK = (1 << 64) - 1
literals = st.sampled_from([0, 1, -1, 2, 3, 7, 64, -(1 << 63), (1 << 63) - 1, MASK]) \
    | st.integers(-100, 100)


@st.composite
def programs(draw):
    """IR text of `@f (i64 i64) -> (i64)` built from random segments."""
    counter = [0]

    def fresh(hint):
        counter[0] += 1
        return f"{hint}{counter[0]}"

    def i64(env):
        if draw(st.booleans()):
            return "%" + draw(st.sampled_from(env))
        return str(draw(literals))

    def i1(bools):
        if bools and draw(st.booleans()):
            return "%" + draw(st.sampled_from(bools))
        return str(draw(st.sampled_from([0, 1])))

    def straight(env, bools, out, count):
        for _ in range(count):
            op = draw(st.sampled_from(["ADD", "SUB", "MUL", "XOR", "SLT", "SELECT"]))
            if op == "SLT":
                name = fresh("c")
                out.append(f"    %{name} = SLT <@i64> {i64(env)} {i64(env)}")
                bools.append(name)
                continue
            name = fresh("v")
            if op == "SELECT":
                out.append(f"    %{name} = SELECT <@i64> {i1(bools)} {i64(env)} {i64(env)}")
            else:
                out.append(f"    %{name} = {op} <@i64> {i64(env)} {i64(env)}")
            env.append(name)

    blocks = []
    label, params, body = "entry", "<@i64> %a <@i64> %b", []
    env, bools = ["a", "b"], []
    for _ in range(draw(st.integers(0, 3))):
        straight(env, bools, body, draw(st.integers(0, 4)))
        then, other, join = fresh("then"), fresh("else"), fresh("join")
        body.append(f"    BRANCH2 {i1(bools)} %{then}() %{other}()")
        blocks.append((label, params, body))
        joined = fresh("j")
        for arm in (then, other):
            arm_env, arm_bools, arm_body = list(env), list(bools), []
            straight(arm_env, arm_bools, arm_body, draw(st.integers(0, 3)))
            arm_body.append(f"    BRANCH %{join}({i64(arm_env)} {i64(env)})")
            blocks.append((arm, "", arm_body))
        passed = fresh("p")
        label, params, body = join, f"<@i64> %{joined} <@i64> %{passed}", []
        env = env + [joined, passed]
    straight(env, bools, body, draw(st.integers(0, 5)))
    body.append(f"    RET (%{draw(st.sampled_from(env[-3:]))})")   # depend on recent values
    blocks.append((label, params, body))
    text = [".funcdef @f VERSION %v1 <@binary> {"]
    for label, params, body in blocks:
        text.append(f"  %{label}({params}):")
        text.extend(body)
    text.append("}")
    return "\n".join(text)


inputs = st.lists(st.tuples(st.integers(0, MASK), st.integers(0, MASK)), min_size=1, max_size=3)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(), inputs)
def test_fold_and_dce_preserve_results(text, args):
    module = parse_module(HEADER + text, "random.ir")
    verify_module(module)
    original = module.functions["f"].current
    folded = fold_constants(module, original, "v2")
    verify_version(module, folded)
    cleaned = eliminate_dead_code(module, folded, "v2")
    verify_version(module, cleaned)
    optimized = optimize(module, original, "v3", verify=True)
    vm = VM(module)
    for a, b in args:
        want = run(vm, original, [a, b])
        assert run(vm, folded, [a, b]) == want
        assert run(vm, cleaned, [a, b]) == want
        assert run(vm, optimized, [a, b]) == want
    size = sum(len(b.instrs) for b in cleaned.blocks)
    assert size <= sum(len(b.instrs) for b in original.blocks)
