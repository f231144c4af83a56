"""Safety in the IR: UNSAFE versions in the text, the verifier's rules 11 and 12, deopts that
would never end, and frame-state chains thousands deep (no recursion anywhere)."""
import pytest

from offramp.ir.nodes import FrameState
from offramp.ir.ops import OPS, Flag
from offramp.ir.text import parse_module, print_module
from offramp.ir.verify import VerifyError, verify_module

PRELUDE = """\
.typedef @i1 = int<1>
.typedef @i8 = int<8>
.typedef @i16 = int<16>
.typedef @i64 = int<64>
.typedef @dbl = double
.typedef @tr = tagref64
.typedef @r = ref
.typedef @p = ptr
.funcsig @nullary = () -> (@i64)
.typedef @fn = funcref<@nullary>
.funcsig @takes_ptr = (@p) -> (@i64)
.global @g <@i64>
.global @h <@i64>
.global @d <@dbl>
.global @t <@tr>
.global @gr <@r>
.global @gp <@p>
.global @gf <@fn>
.const @raw <@p> = 4096
.const @boxed <@tr> = 0xFFFC000000001000
.const @nil <@tr> = 0x7FFC000000000001
.funcdef @use_ptr VERSION %v1 <@takes_ptr> {
  %entry(<@p> %q):
    RET (0)
}
"""


def module_with(body: str, unsafe: bool = False):
    """PRELUDE and @f VERSION %v1 <@nullary> whose entry block holds `body` lines."""
    header = "<@nullary> UNSAFE {" if unsafe else "<@nullary> {"
    lines = "".join(f"    {line}\n" for line in body.strip().splitlines())
    return parse_module(PRELUDE + f".funcdef @f VERSION %v1 {header}\n  %entry():\n{lines}}}\n",
                        "safety.ir")


def rejected(body: str, *fragments: str, unsafe: bool = False) -> VerifyError:
    with pytest.raises(VerifyError) as info:
        verify_module(module_with(body, unsafe))
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)
    return info.value


# Unsafe uses: each is rejected in a plain version and accepted in an UNSAFE one.
UNSAFE_USES = {
    "forged ref": ("%w = TR64_FROM_INT 7\n%r = TR64_TO_REF %w\nRET (0)", "forges a reference"),
    "load through a ref": ("%r = LOAD <@r> @gr 0\n%v = LOAD <@i64> %r 0\nRET (%v)",
                           "LOAD through %r"),
    "null ptr load": ("%q = LOAD <@p> @gp 0\n%v = LOAD <@i64> %q 0\nRET (%v)",
                      "LOAD through %q"),
    "walking a pointer": ("%q = LOAD <@p> @gp 0\nSTORE <@i64> %q 8 1\nRET (0)",
                          "STORE through %q"),
    "ptr const as a base": ("%v = LOAD <@i64> @raw 0\nRET (%v)", "LOAD through @raw"),
    "ptr literal": ("%v = CALL <@takes_ptr> @use_ptr (4096)\nRET (%v)",
                    "literal 4096 forges a raw pointer"),
    "ptr const": ("%v = CALL <@takes_ptr> @use_ptr (@raw)\nRET (%v)",
                  "constant @raw 4096 forges a raw pointer"),
    "boxed ref literal": ("STORE <@tr> @t 0 -1\nRET (0)", "forges a heap reference"),
    "boxed ref const": ("STORE <@tr> @t 0 @boxed\nRET (0)", "forges a heap reference"),
    "tagref64 read as a ref": ("%r = LOAD <@r> @t 0\nRET (0)", "reinterprets a word"),
    "int written into a tagref64": ("STORE <@i64> @t 0 5\nRET (0)", "reinterprets a word"),
    "funcref from memory": ("%f = LOAD <@fn> @gf 0\n%v = CALL <@nullary> %f ()\nRET (%v)",
                            "LOAD of a funcref"),
}


@pytest.mark.parametrize("case", UNSAFE_USES, ids=str)
def test_an_unsafe_use_needs_an_unsafe_version(case):
    body, fragment = UNSAFE_USES[case]
    error = rejected(body, fragment, "only a version marked UNSAFE")
    assert (error.func, error.version, error.block) == ("f", "v1", "entry")
    assert (error.line, error.column) == (PRELUDE.count("\n") + 3 + error.index, 5)
    verify_module(module_with(body, unsafe=True))


SAFE_USES = [
    "STORE <@i64> @g 0 -1\n%v = LOAD <@i64> @g 0\nRET (%v)",
    "STORE <@i8> @g 7 5\n%v = LOAD <@i16> @g 6\n%w = ZEXT <@i16 @i64> %v\nRET (%w)",
    "%v = LOAD <@i64> @d 0\nSTORE <@dbl> @g 0 1.5\nRET (%v)",          # plain data punned
    "%r = LOAD <@r> @gr 0\n%b = TR64_FROM_REF %r\nSTORE <@tr> @t 0 %b\nRET (0)",
    "%q = LOAD <@p> @gp 0\nSTORE <@p> @gp 0 @g\n%v = CALL <@takes_ptr> @use_ptr (%q)\nRET (%v)",
    "STORE <@tr> @t 0 @nil\nSTORE <@tr> @t 0 1.5\n%v = LOAD <@i64> @t 0\nRET (%v)",
]


@pytest.mark.parametrize("body", SAFE_USES)
def test_safe_code_reaches_globals_through_their_own_cells(body):
    verify_module(module_with(body))


@pytest.mark.parametrize("body,fragment", [
    ("STORE <@i64> @g 8 42\nRET (0)", "offset 8 is outside global @g"),
    ("%v = LOAD <@i64> @g -8\nRET (%v)", "offset -8 is outside global @g"),
    ("%v = LOAD <@i16> @g 7\n%w = ZEXT <@i16 @i64> %v\nRET (%w)", "misaligned"),
    ("%v = LOAD <@i64> @g 100000000\nRET (%v)", "outside global @g"),
])
def test_global_access_stays_in_the_cell_even_in_unsafe_versions(body, fragment):
    rejected(body, fragment)
    rejected(body, fragment, unsafe=True)


def test_int_operands_fit_64_bits():
    rejected("%v = LOAD <@i64> %q 18446744073709551616\nRET (%v)".replace(
        "%q", "@raw"), "does not fit int<64>", unsafe=True)


def test_the_table_flags_the_operations_that_forge_or_reach_memory():
    assert {name for name, op in OPS.items() if op.has(Flag.UNSAFE)} == {"TR64_TO_REF",
                                                                      "THREAD_LOCAL"}
    assert {name for name, op in OPS.items() if op.has(Flag.MEMORY)} == {"LOAD", "STORE"}


# ---------------------------------------------------------------------------- text

def test_unsafe_round_trips_through_the_text():
    module = module_with("%w = TR64_FROM_INT 7\n%r = TR64_TO_REF %w\nRET (0)", unsafe=True)
    text = print_module(module)
    assert ".funcdef @f VERSION %v1 <@nullary> UNSAFE {" in text
    assert ".funcdef @use_ptr VERSION %v1 <@takes_ptr> {" in text
    again = parse_module(text)
    assert again == module and again.functions["f"].current.unsafe


def test_the_parser_records_where_versions_and_instructions_start():
    module = module_with("%v = LOAD <@i64> @g 0\nRET (%v)")
    first = PRELUDE.count("\n") + 1
    assert module.positions[("f", "v1")] == (first, 10)
    assert module.positions[("f", "v1", "entry", 1)] == (first + 3, 5)


# ---------------------------------------------------------------------------- deopts

def test_a_deopt_into_itself_is_rejected():
    rejected('DEOPT "again" [@f %v1 %entry 0 ()]', "it would deoptimize forever")


def test_a_deopt_coming_back_through_pure_code_and_branches_is_rejected():
    module = parse_module(PRELUDE + """
.funcdef @f VERSION %v1 <@nullary> {
  %entry():
    %x = ADD <@i64> 1 2
    BRANCH %next()
  %next():
    DEOPT "loop" [@f %v1 %entry 0 ()]
}""")
    with pytest.raises(VerifyError, match="deoptimize forever"):
        verify_module(module)


def test_deopts_that_bounce_between_versions_are_rejected():
    module = parse_module(PRELUDE + """
.funcdef @f VERSION %a <@nullary> {
  %entry():
    DEOPT "to b" [@f %b %entry 0 ()]
}
.funcdef @f VERSION %b <@nullary> {
  %entry():
    DEOPT "to a" [@f %a %entry 0 ()]
}""")
    with pytest.raises(VerifyError, match="deoptimize forever"):
        verify_module(module)


def test_a_deopt_to_code_that_may_leave_is_accepted():
    verify_module(parse_module(PRELUDE + """
.funcdef @f VERSION %v1 <@nullary> {
  %entry():
    %x = CALL <@nullary> @f ()
    DEOPT "retry" [@f %v1 %entry 0 ()]
}"""))


def test_a_guard_resuming_at_itself_with_its_own_values_is_rejected():
    module = parse_module(PRELUDE + """
.funcdef @f VERSION %v1 <@nullary> {
  %entry():
    %c = LOAD <@i1> @g 0
    BRANCH %check(%c)
  %check(<@i1> %k):
    GUARD %k ELSE DEOPT "self" [@f %v1 %check 0 (%k=%k)]
    RET (0)
}""")
    with pytest.raises(VerifyError, match="same values"):
        verify_module(module)
    module.functions["f"].versions[0].blocks[1].instrs[0] = parse_module(PRELUDE + """
.funcdef @f VERSION %v1 <@nullary> {
  %entry():
    BRANCH %check(1)
  %check(<@i1> %k):
    GUARD %k ELSE DEOPT "passes" [@f %v1 %check 0 (%k=1)]
    RET (0)
}""").functions["f"].versions[0].blocks[1].instrs[0]
    verify_module(module)


def test_the_outermost_state_returns_what_the_frame_it_replaces_returns():
    module = parse_module(PRELUDE + """
.funcsig @to_dbl = () -> (@dbl)
.funcdef @dd VERSION %v1 <@to_dbl> {
  %entry():
    RET (1.5)
}
.funcdef @f VERSION %v1 <@nullary> {
  %entry():
    DEOPT "into another result type" [@dd %v1 %entry 0 ()]
}""")
    with pytest.raises(VerifyError, match="outermost frame state resumes @dd"):
        verify_module(module)


# ---------------------------------------------------------------------------- deep states

def deep_module(depth: int) -> str:
    """@main deoptimizes into `depth` nested frames of @f waiting on its own call."""
    parents = " PARENT ".join(["[@f %v1 %entry 0 ()"] * depth)
    state = (f"[@f %v1 %entry 1 (%x=1) PARENT {parents} PARENT [@main %v1 %b 0 ()"
             + "]" * (depth + 2))
    return PRELUDE + f"""
.funcdef @f VERSION %v1 <@nullary> {{
  %entry():
    %x = CALL <@nullary> @f ()
    RET (%x)
}}
.funcdef @main VERSION %v1 <@nullary> {{
  %entry():
    DEOPT "deep" {state}
  %b():
    %c = CALL <@nullary> @f ()
    RET (%c)
}}
"""


def test_thousands_of_parent_states_parse_print_and_verify_without_recursion():
    module = parse_module(deep_module(5000))
    verify_module(module)
    state = module.functions["main"].current.blocks[0].instrs[0].state()
    assert state.depth() == 5002 and len(state.operands()) == 1
    again = parse_module(print_module(module))
    assert again == module
    assert hash(again.functions["main"].current.blocks[0].instrs[0].state()) == hash(state)


def test_deep_states_compare_in_a_loop():
    a = b = None
    for i in range(20000):
        a, b = FrameState("f", "v", "b", i, (), a), FrameState("f", "v", "b", i, (), b)
    assert a == b and hash(a) == hash(b)
    assert a != FrameState("f", "v", "b", 19999, (), b.parent.parent)
