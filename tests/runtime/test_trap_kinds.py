"""The Mu ticket's three cases — compute a value and resume, OSR by pop and push, early
return — with the trap in an interpreted frame, in a native frame, and in code inlined
three deep; the cursor says what each frame was when the thread stopped."""
import pytest

from offramp.config import Config
from offramp.ir.text import parse_module
from offramp.ir.verify import verify_module
from offramp.opt.inline import inline_calls
from offramp.opt.pipeline import install
from offramp.runtime.vm import VM

PROGRAM = """
.typedef @i64 = int<64>
.typedef @void = void
.funcsig @unary = (@i64) -> (@i64)
.funcdef @h VERSION %v1 <@unary> {
  %entry(<@i64> %z):
    %z2 = MUL <@i64> %z 10
    %v = [%ask] TRAP <@i64> KEEPALIVE(%z %z2) [@h %v1 %entry 1 (%z=%z %z2=%z2)]
    %r = ADD <@i64> %v %z2
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
.funcdef @e VERSION %v1 <@unary> {
  %entry(<@i64> %w):
    %r = CALL <@unary> @f (%w) [@e %v1 %entry 0 ()]
    %s = ADD <@i64> %r 1000
    RET (%s)
}
"""

# Where the trap is: the kinds of h, g, f, e's frames as the handler sees them.
PLACES = {
    "interp": ("interp", "interp", "interp", "interp"),
    "native": ("native", "native", "native", "native"),
    "inlined": ("inlined", "inlined", "native", "native"),
}


def vm_for(place: str) -> VM:
    module = parse_module(PROGRAM, "test.ir")
    verify_module(module)
    vm = VM(module, Config(tier="interp" if place == "interp" else "eager"))
    if place == "inlined":       # h into g, that into f: three frames in f's machine frame
        install(module, inline_calls(module, module.functions["g"].current, "v2"))
        install(module, inline_calls(module, module.functions["f"].current, "v2"))
    return vm


def stack_of(ctx) -> list:
    cursor, out = ctx.cursor(), []
    while True:
        out.append((cursor.func, cursor.kind))
        if not cursor.has_caller():
            return out
        cursor = cursor.next()


def compute_and_resume(ctx, seen):
    z, z2 = ctx.cursor().keepalives()
    return ctx.pass_values(z + z2)


def early_return(ctx, seen):
    ctx.pop_frames_to(ctx.cursor().next())          # h returns 777 to g at once
    return ctx.pass_values(777)


def osr_by_pop_and_push(ctx, seen):
    cursor = ctx.cursor()
    z, z2 = cursor.keepalives()
    if len(seen) > 1:            # the pushed frame trapped in turn: resume it
        return ctx.pass_values(z)
    ctx.pop_frames_to(cursor.next())
    ctx.push_frame("h", "v1", "entry", 0, {"z": z * 2})   # h again, from its start
    return ctx.pass_values()


CASES = {"compute": (compute_and_resume, lambda w: _expected(w, lambda z: z + 20 * z)),
         "early": (early_return, lambda w: 777 + 3 * w - w + 1000),
         "osr": (osr_by_pop_and_push, lambda w: _expected(w, lambda z: 2 * z + 20 * z))}


def _expected(w, h):
    y = 3 * w
    return h(y + 2) + y - w + 1000


@pytest.mark.parametrize("place", sorted(PLACES))
@pytest.mark.parametrize("case", sorted(CASES))
def test_mu_cases_with_the_trap_in_every_kind_of_frame(case, place):
    vm = vm_for(place)
    handle, expected = CASES[case]
    seen = []

    def handler(ctx):
        seen.append(stack_of(ctx))
        return handle(ctx, seen)
    vm.set_trap_handler(handler)
    assert vm.call("e", [5]) == expected(5)
    assert seen[0] == list(zip("hgfe", PLACES[place]))
    if case == "osr":            # the pushed frame is an interpreter frame, above g
        assert seen[1][0] == ("h", "interp")
    if place != "interp":
        assert vm.tiers.engine.deopts == {"trap": 1}
