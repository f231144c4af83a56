"""Control-flow and liveness questions passes and tiers ask (offramp/ir/analysis.py)."""
from offramp.ir.analysis import live_at, live_before_each, liveness, loop_bodies
from offramp.ir.text import parse_module

NESTED = """
.typedef @i1 = int<1>
.typedef @i64 = int<64>
.funcsig @binary = (@i64 @i64) -> (@i64)
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
    %a2 = ADD <@i64> %a %j
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
    version = parse_module(NESTED).functions["f"].current
    assert loop_bodies(version) == {
        "outer": {"outer", "pre", "inner", "step", "next"},
        "inner": {"inner", "step"},
    }


def test_live_before_each_agrees_with_live_at_everywhere():
    version = parse_module(NESTED).functions["f"].current
    live_in = liveness(version)
    for block in version.blocks:
        every = live_before_each(version, block.label, live_in)
        assert len(every) == len(block.instrs) + 1
        for i in range(len(block.instrs) + 1):
            assert every[i] == live_at(version, block.label, i, live_in)
