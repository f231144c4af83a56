"""Control-flow and liveness questions passes and tiers ask (offramp/ir/analysis.py)."""
from offramp.ir.analysis import live_at, live_before_each, liveness, loop_bodies
from offramp.ir.text import parse_module

TYPES = """
.typedef @i1 = int<1>
.typedef @i64 = int<64>
.funcsig @binary = (@i64 @i64) -> (@i64)
"""

# An inner loop reading the outer loop's counter (also entered by OSR in tests/opt).
NESTED_LOOPS = """
.funcdef @f VERSION %v1 <@binary> {
  %entry(<@i64> %n <@i64> %m):
    BRANCH %outer(0 0)
  %outer(<@i64> %i <@i64> %acc):
    %more = SLT <@i64> %i %n
    BRANCH2 %more %pre() %done()
  %pre():
    BRANCH %inner(0 %acc)
  %inner(<@i64> %j <@i64> %a):
    %go = SLT <@i64> %j %m
    BRANCH2 %go %step() %next()
  %step():
    %ij = MUL <@i64> %i %j
    %a2 = ADD <@i64> %a %ij
    %j2 = ADD <@i64> %j 1
    BRANCH %inner(%j2 %a2)
  %next():
    %i2 = ADD <@i64> %i 1
    BRANCH %outer(%i2 %a)
  %done():
    RET (%acc)
}
"""


def test_loop_bodies_nest():
    version = parse_module(TYPES + NESTED_LOOPS).functions["f"].current
    assert loop_bodies(version) == {
        "outer": {"outer", "pre", "inner", "step", "next"},
        "inner": {"inner", "step"},
    }


def test_live_before_each_agrees_with_live_at_everywhere():
    version = parse_module(TYPES + NESTED_LOOPS).functions["f"].current
    live_in = liveness(version)
    for block in version.blocks:
        every = live_before_each(version, block.label, live_in)
        assert len(every) == len(block.instrs) + 1
        for i in range(len(block.instrs) + 1):
            assert every[i] == live_at(version, block.label, i, live_in)
