"""The verifier: valid modules pass; each numbered invariant of verify.py has negative tests."""
import re
from pathlib import Path

import pytest

from offramp.ir import ops
from offramp.ir.nodes import (Block, ConstDef, FunctionVersion, GlobalDef, Instr, Var)
from offramp.ir.ops import OPS, Flag, Kind, OpDef, Spec
from offramp.ir.text import parse_module
from offramp.ir.types import I64, VOID, FuncSig
from offramp.ir.analysis import dominates, dominators_in_order
from offramp.ir.verify import VerifyError, check_table, verify_module, verify_version

GOLDEN = Path(__file__).parent / "golden"

PRELUDE = """\
.typedef @i1 = int<1>
.typedef @i8 = int<8>
.typedef @i64 = int<64>
.typedef @dbl = double
.typedef @tr = tagref64
.typedef @r = ref
.typedef @void = void
.funcsig @binop = (@i64 @i64) -> (@i64)
.funcsig @unary = (@i64) -> (@i64)
.typedef @unary_ref = funcref<@unary>
.const @ten <@i64> = 10
.global @g <@i64>
.extern @helper <@binop>
.funcdef @id VERSION %v1 <@unary> {
  %entry(<@i64> %x):
    RET (%x)
}
"""


def fn(body: str, extra: str = "") -> str:
    """A module with PRELUDE, `extra` definitions and @f VERSION %v1 <@binop> { body }."""
    return PRELUDE + extra + ".funcdef @f VERSION %v1 <@binop> {\n" + body + "\n}\n"


def entry(*lines: str) -> str:
    """A body of one entry block (%a %b) holding `lines`."""
    return "  %entry(<@i64> %a <@i64> %b):\n" + "".join(f"    {l}\n" for l in lines)


def fails(text_or_module, *fragments: str) -> VerifyError:
    """Verify, expecting a VerifyError whose message contains every fragment."""
    module = parse_module(text_or_module) if isinstance(text_or_module, str) else text_or_module
    with pytest.raises(VerifyError) as info:
        verify_module(module)
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)
    return info.value


# ---------------------------------------------------------------------------- valid modules

@pytest.mark.parametrize("path", sorted(GOLDEN.glob("*.ir")), ids=lambda p: p.name)
def test_golden_modules_verify(path):
    verify_module(parse_module(path.read_text(), str(path)))


def test_small_valid_module_passes():
    module = parse_module(fn(entry("%s = ADD <@i64> %a %b", "RET (%s)")))
    verify_module(module)
    verify_version(module, module.functions["f"].versions[0])


def test_unreachable_block_is_not_checked_for_dominance():
    verify_module(parse_module(fn(entry("%s = ADD <@i64> %a %b", "RET (%s)") +
                                  "  %dead():\n    %t = ADD <@i64> %u 1\n    RET (%t)\n"
                                  "  %dead2():\n    %u = ADD <@i64> %a 1\n    RET (%u)")))


def test_error_names_function_version_block_and_instruction():
    err = fails(fn(entry("%s = ADD <@i64> %a 1.5", "RET (%s)")))
    assert (err.func, err.version, err.block, err.index, err.op) == ("f", "v1", "entry", 0, "ADD")
    assert str(err).startswith("@f VERSION %v1, block %entry, instruction 0 (ADD): ")


def test_dominators_of_a_diamond():
    module = parse_module(fn(entry("%c = EQ <@i64> %a %b", "BRANCH2 %c %l() %r()") +
                             "  %l():\n    BRANCH %j()\n  %r():\n    BRANCH %j()\n"
                             "  %j():\n    RET (%a)\n  %dead():\n    RET (%a)"))
    order, idom = dominators_in_order(module.functions["f"].versions[0])
    dom = {b: {a for a in order if dominates(a, b, idom)} for b in order}
    assert dom == {"entry": {"entry"}, "l": {"entry", "l"}, "r": {"entry", "r"},
                   "j": {"entry", "j"}}


# ---------------------------------------------------------------------------- 1 versions

def test_1_entry_parameters_must_match_signature():
    fails(fn("  %entry(<@i64> %a):\n    RET (%a)"), "block %entry",
          "entry block parameters (@i64) do not match the signature's (@i64 @i64)")
    fails(fn("  %entry(<@i64> %a <@dbl> %b):\n    RET (%a)"), "do not match")


def test_1_block_labels_are_unique():
    fails(fn(entry("BRANCH %entry(%a %b)") + "  %entry(<@i64> %x <@i64> %y):\n    RET (%x)"),
          "duplicate block label %entry")


def test_1_version_has_blocks():
    fails(fn(""), "@f VERSION %v1: has no blocks")


def test_1_version_names_are_unique_and_record_their_function():
    module = parse_module(fn(entry("RET (%a)")))
    func = module.functions["f"]
    func.versions.append(FunctionVersion("f", "v1", func.versions[0].blocks))
    fails(module, "@f: duplicate VERSION %v1")
    func.versions[1] = FunctionVersion("id", "v2", func.versions[0].blocks)
    fails(module, "@f VERSION %v2: version records function @id")


# ---------------------------------------------------------------------------- 2 terminators

def test_2_block_ends_in_a_terminator():
    fails(fn(entry("%s = ADD <@i64> %a %b")), "block %entry: does not end in a terminator")
    fails(fn(entry("RET (%a)") + "  %empty():"), "block %empty: does not end in a terminator")


def test_2_no_terminator_before_the_end():
    fails(fn(entry("RET (%a)", "RET (%b)")), "block %entry, instruction 0 (RET): terminator "
                                             "before the end of the block")


def test_2_branch_targets_exist():
    fails(fn(entry("BRANCH %nowhere()")), "instruction 0 (BRANCH): branch to unknown block "
                                          "%nowhere")
    fails(fn(entry("SWITCH <@i64> %a %entry(%a %b) { 1: %gone() }")), "unknown block %gone")


# ---------------------------------------------------------------------------- 3 SSA

def test_3_names_are_defined_once():
    fails(fn(entry("%a = ADD <@i64> %a %b", "RET (%a)")),
          "instruction 0 (ADD): %a is defined twice (first as a parameter of block %entry)")
    fails(fn(entry("%s = ADD <@i64> %a %b", "BRANCH %next()") +
             "  %next():\n    %s = ADD <@i64> %a %b\n    RET (%s)"),
          "block %next, instruction 0 (ADD): %s is defined twice (first as instruction 0 of "
          "block %entry)")


def test_3_uses_are_defined():
    fails(fn(entry("RET (%nope)")), "instruction 0 (RET): use of undefined %nope")
    fails(fn(entry("%t = TRAP <@i64> KEEPALIVE(%ghost)", "RET (%t)")), "undefined %ghost")
    fails(fn(entry("DEOPT \"r\" [@f %v1 %entry 0 (%a=%phantom)]")), "undefined %phantom")


# ---------------------------------------------------------------------------- 4 dominance

def test_4_use_in_a_block_not_dominated_by_the_definition():
    fails(fn(entry("%c = EQ <@i64> %a %b", "BRANCH2 %c %l() %r()") +
             "  %l():\n    %x = ADD <@i64> %a 1\n    BRANCH %j()\n"
             "  %r():\n    BRANCH %j()\n  %j():\n    RET (%x)"),
          "block %j, instruction 0 (RET): use of %x is not dominated by its definition "
          "(instruction 0 of block %l)")


def test_4_use_before_definition_in_the_same_block():
    fails(fn(entry("%x = ADD <@i64> %y 1", "%y = ADD <@i64> %a 1", "RET (%x)")),
          "instruction 0 (ADD): use of %y is not dominated")
    fails(fn(entry("%x = ADD <@i64> %x 1", "RET (%x)")), "use of %x is not dominated")


def test_4_parameter_of_another_block():
    fails(fn(entry("BRANCH2 1 %l(%a) %r()") + "  %l(<@i64> %p):\n    RET (%p)\n"
             "  %r():\n    RET (%p)"), "block %r", "use of %p is not dominated by its "
                                       "definition (a parameter of block %l)")


# ---------------------------------------------------------------------------- 5 types

@pytest.mark.parametrize("line, fragment", [
    ("%x = ADD <@i64> %a %d", "operand 'b': %d has type @dbl, expected @i64"),
    ("%x = ADD <@i64> %a 1.5", "operand 'b': literal 1.5 does not fit @i64"),
    ("%x = TRUNC <@i64 @i8> 300", None),   # valid: 300 fits the source type i64
    ("%x = ADD <@i8> 300 1", "operand 'a': literal 300 does not fit @i8"),
    ("%x = FADD <@dbl> %d 1", "operand 'b': literal 1 does not fit @dbl"),
    ("%x = TR64_FROM_REF 0", "operand 'a': literal 0 does not fit @r"),
    ("%x = TR64_TO_INT 0.5", None),        # a float literal is a boxed double
    ("%x = TR64_TO_INT 0x7ffc000000000001", None),  # an int literal is the raw word
    ("%x = TR64_TO_INT 0x1ffffffffffffffff", "does not fit @tr"),
    ("%x = SELECT <@i64> %a %a %b", "operand 'cond': %a has type @i64, expected @i1"),
    ("%x = SELECT <@i64> 1 %a %d", "operand 'b': %d has type @dbl, expected @i64"),
    ("%x = EQ <@i64> %a @g", "operand 'b': @g has type ptr, expected @i64"),
    ("%x = LOAD <@i64> %a 0", "operand 'base': memory base has type @i64, expected ref or ptr"),
    ("%x = LOAD <@i64> 0 0", "a literal cannot be a memory base"),
    ("STORE <@i64> @g 0 %d", "operand 'value': %d has type @dbl"),
    ("%x = STORE <@i64> @g 0 %a", "names 1 results but STORE defines 0"),
    ("%x = CALL <@binop> @f (%a)", "operand 'args': 1 values, expected 2"),
    ("%x = CALL <@binop> @f (%a %d)", "operand 'args' value 1: %d has type @dbl"),
    ("%x = CALL <@unary> @f (%a)", "operand 'callee': @f has type funcref<@binop>, expected "
                                   "@unary_ref"),
    ("%x = PATCHPOINT 1 <@unary> @id (%d)", "operand 'args' value 0: %d has type @dbl"),
    ("%x = CCALL @helper (%a)", "operand 'args': 1 values, expected 2"),
    ("%x = CCALL @helper (%a 2.0)", "literal 2.0 does not fit @i64"),
    ("%x = TRAP <@i64> KEEPALIVE(%a 1)", "keep-alive: a literal needs a position of known type"),
    ("PROFILE 1 7", "operand 'value': a literal needs a position of known type"),
    ("%x = TRAP <@void>", "names 1 results but TRAP defines 0"),
    ("%x = ADD <@dbl> %d %d", "ADD works on an integer type, not @dbl"),
    ("%x = SLT <@dbl> %d %d", "SLT works on an integer type, not @dbl"),
    ("%x = FADD <@i64> %a %a", "FADD works on double, not @i64"),
    ("%x = EQ <@dbl> %d %d", "EQ works on a non-void, non-double type"),
    ("%x = LOAD <@void> @g 0", "LOAD works on a non-void type, not @void"),
    ("%x = TRUNC <@i8 @i64> %a", "TRUNC converts an integer type to a narrower one, not @i8 "
                                 "to @i64"),
    ("%x = ZEXT <@i64 @i8> %a", "ZEXT converts an integer type to a wider one"),
    ("%x = SEXT <@i64 @i64> %a", "SEXT converts an integer type to a wider one"),
    ("%x = SITOFP <@dbl @i64> %d", "SITOFP converts an integer type to double"),
    ("%x = UITOFP <@i64 @i64> %a", "UITOFP converts an integer type to double"),
    ("%x = FPTOSI <@i64 @i64> %a", "FPTOSI converts double to an integer type"),
    ("%x = BITCAST <@i8 @dbl> %a", "BITCAST converts int<64> to double or double to int<64>"),
])
def test_5_operand_types(line, fragment):
    text = fn(entry("%d = SITOFP <@i64 @dbl> %a", line, "RET (%a)"))
    if fragment is None:
        verify_module(parse_module(text))
    else:
        fails(text, "instruction 1", fragment)


def test_5_return_values_match_the_signature():
    fails(fn(entry("RET ()")), "instruction 0 (RET): operand 'values': 0 values, expected 1")
    fails(fn(entry("%d = SITOFP <@i64 @dbl> %a", "RET (%d)")), "%d has type @dbl, expected @i64")


def test_5_branch_arguments_match_target_parameters():
    fails(fn(entry("BRANCH %next(%a %b)") + "  %next(<@i64> %x):\n    RET (%x)"),
          "operand 'dest': %next takes 1 arguments, given 2")
    fails(fn(entry("%d = SITOFP <@i64 @dbl> %a", "BRANCH2 1 %next(%d) %next(%a)") +
             "  %next(<@i64> %x):\n    RET (%x)"),
          "operand 'iftrue': argument 0 to %next: %d has type @dbl, expected @i64")
    fails(fn(entry("SWITCH <@i64> %a %next(%a) { 3: %next() }") +
             "  %next(<@i64> %x):\n    RET (%x)"), "case 3: %next takes 1 arguments, given 0")


def test_5_watchpoint_enabled_target_takes_the_trap_value():
    ok = entry("WATCHPOINT 1 <@i64> %off() %on(%a)") + \
        "  %off():\n    RET (%a)\n  %on(<@i64> %x <@i64> %hit):\n    RET (%hit)"
    verify_module(parse_module(fn(ok)))
    fails(fn(entry("WATCHPOINT 1 <@i64> %off() %on(%a)") +
             "  %off():\n    RET (%a)\n  %on(<@i64> %x):\n    RET (%x)"),
          "operand 'enabled': %on takes 0 arguments, given 1")
    fails(fn(entry("WATCHPOINT 1 <@i64> %off() %on(%a)") +
             "  %off():\n    RET (%a)\n  %on(<@i64> %x <@dbl> %hit):\n    RET (%x)"),
          "%on must take a last parameter of type @i64 for the trap's value")
    verify_module(parse_module(fn(entry("WATCHPOINT 1 <@void> %off() %on(%a)") +
                                  "  %off():\n    RET (%a)\n  %on(<@i64> %x):\n    RET (%x)")))


# ---------------------------------------------------------------------------- 6 symbols

def test_6_symbols_name_values():
    fails(fn(entry("%x = ADD <@i64> %a @nope", "RET (%x)")),
          "instruction 0 (ADD): @nope names no const, global or function")
    fails(fn(entry("%x = ADD <@i64> %a @helper", "RET (%x)")), "@helper is an extern")
    fails(fn(entry("%x = CCALL @nope (%a)", "RET (%x)")), "CCALL of undeclared extern @nope")


def test_6_types_used_are_defined():
    module = parse_module(fn(entry("%x = TRUNC <@i64 @i8> %a", "RET (%a)")))
    del module.types["i8"]
    fails(module, "instruction 0 (TRUNC): operand 'types': type int<8> is not defined")
    module = parse_module(fn(entry("RET (%a)")))
    del module.types["i64"]
    fails(module, "type @binop: type int<64> is not defined in module.types")
    module = parse_module(fn(entry("RET (%a)")))
    module.globals["h"] = GlobalDef("h", FuncSig((), ()))
    fails(module, "global @h: type () -> () is not defined")


def test_6_block_parameter_types_are_defined():
    module = parse_module(fn(entry("BRANCH %next(%a)") + "  %next(<@i64> %x):\n    RET (%x)"))
    from offramp.ir.types import I32
    block = module.functions["f"].versions[0].blocks[1]
    block.params[0] = ("x", I32)
    fails(module, "block %next: parameter %x: type int<32> is not defined")


def test_6_definitions_are_stored_under_their_names_and_distinct():
    module = parse_module(fn(entry("RET (%a)")))
    module.consts["other"] = ConstDef("ten", I64, 1)
    fails(module, "const stored as @other is named @ten")
    module = parse_module(fn(entry("RET (%a)")))
    module.globals["ten"] = GlobalDef("ten", I64)
    fails(module, "@ten is both a const and a global")


def test_6_names_are_printable():
    module = parse_module(fn(entry("%s = ADD <@i64> %a %b", "RET (%s)")))
    version = module.functions["f"].versions[0]
    version.blocks[0].instrs[0] = Instr("ADD", (I64, Var("a"), Var("b")), ("bad name",))
    fails(module, "result name 'bad name' is not a valid name")


# ---------------------------------------------------------------------------- 7 frame states

SPEC = """\
.funcdef @base VERSION %v1 <@binop> {
  %entry(<@i64> %a <@i64> %b):
    %s = CALL <@binop> @callee (%a %b)
    %r = MUL <@i64> %s %b
    %t = ADD <@i64> %a %r
    RET (%t)
}
.funcdef @callee VERSION %v1 <@binop> {
  %entry(<@i64> %x <@i64> %y):
    %z = SUB <@i64> %x %y
    RET (%z)
}
"""


def deopt(state: str) -> str:
    return fn(entry(f'DEOPT "why" {state}'), SPEC)


def test_7_valid_states():
    verify_module(parse_module(deopt("[@base %v1 %entry 1 (%a=%a %s=%a %b=%b)]")))
    verify_module(parse_module(deopt(
        "[@callee %v1 %entry 0 (%x=%a %y=%b) PARENT [@base %v1 %entry 0 (%a=%a %b=%b)]]")))


@pytest.mark.parametrize("state, fragment", [
    ("[@nobody %v1 %entry 0 ()]", "frame state names unknown function @nobody"),
    ("[@base %v9 %entry 0 ()]", "frame state names unknown @base VERSION %v9"),
    ("[@base %v1 %nowhere 0 ()]", "frame state names unknown block %nowhere of @base"),
    ("[@base %v1 %entry 4 ()]", "frame state index 4 is outside block %entry (4 instructions)"),
    ("[@base %v1 %entry -1 ()]", "frame state index -1 is outside"),
    ("[@base %v1 %entry 0 (%a=%a)]", "must give exactly the live variables (%a %b); "
                                     "missing (%b), not live ()"),
    ("[@base %v1 %entry 3 (%t=%a %a=%a)]", "missing (), not live (%a)"),
    ("[@base %v1 %entry 0 (%a=%a %a=%b %b=%b)]", "frame state gives %a twice"),
    ("[@base %v1 %entry 2 (%a=%a %r=1.5)]", "frame state value %r: literal 1.5 does not fit "
                                            "@i64"),
    ("[@base %v1 %entry 2 (%a=%a %r=@g)]", "frame state value %r: @g has type ptr"),
    ("[@callee %v1 %entry 0 (%x=%a %y=%b) PARENT [@base %v1 %entry 1 (%a=%a %b=%b)]]",
     "parent frame state resumes at MUL, not a CALL, PATCHPOINT or CCALL"),
    ("[@callee %v1 %entry 0 (%x=%a %y=%b) PARENT [@base %v1 %entry 0 (%a=%a)]]",
     "parent frame state for @base VERSION %v1 %entry 0 must give exactly the live "
     "variables (%a %b); missing (%b)"),
    ("[@callee %v1 %entry 0 (%x=%a %y=%b) PARENT [@base %v1 %entry 0 (%a=%a %b=%b %s=%a)]]",
     "not live (%s)"),
    ("[@id %v1 %entry 0 (%x=%a) PARENT [@callee %v1 %entry 0 (%y=%b %x=%a)]]",
     "parent frame state resumes at SUB"),
    ("[@callee %v1 %entry 0 (%x=%a %y=%b) PARENT [@base %v1 %entry 0 (%a=%a %b=%b) "
     "PARENT [@nobody %v1 %entry 0 ()]]]", "parent frame state names unknown function @nobody"),
])
def test_7_frame_states(state, fragment):
    fails(deopt(state), "@f VERSION %v1, block %entry, instruction 0 (DEOPT)", fragment)


def test_7_parent_call_must_return_what_the_inlined_function_returns():
    extra = SPEC + """\
.funcsig @to_void = (@i64) -> ()
.funcdef @proc VERSION %v1 <@to_void> {
  %entry(<@i64> %p):
    RET ()
}
.funcdef @caller VERSION %v1 <@unary> {
  %entry(<@i64> %q):
    CALL <@to_void> @proc (%q)
    RET (%q)
}
"""
    fails(fn(entry('DEOPT "x" [@callee %v1 %entry 0 (%x=%a %y=%b) '
                   'PARENT [@caller %v1 %entry 0 (%q=%a)]]'), extra),
          "parent frame state: the call at %entry 0 returns @to_void but the inlined @callee "
          "returns @binop")


def test_7_guard_and_safepoint_states_are_checked():
    fails(fn(entry('GUARD 1 ELSE DEOPT "g" [@base %v1 %entry 0 ()]', "RET (%a)"), SPEC),
          "instruction 0 (GUARD)", "missing (%a %b)")
    fails(fn(entry("SAFEPOINT [@f %v1 %entry 1 ()]", "RET (%a)")), "instruction 0 (SAFEPOINT)",
          "missing (%a)")
    verify_module(parse_module(fn(entry("SAFEPOINT [@f %v1 %entry 1 (%a=%a)]", "RET (%a)"))))


PROFILED = """\
.funcsig @record = (@i64) -> ()
.extern @note <@record>
.funcdef @base2 VERSION %v1 <@binop> {
  %entry(<@i64> %a <@i64> %b):
    PROFILE 0 %a
    %s = ADD <@i64> %a %b
    RET (%s)
}
"""


def test_7_a_call_without_results_may_wait_at_a_profile():
    """Compiled code that profiles by calling the runtime where the baseline has a PROFILE
    resumes after that PROFILE (speculate.keep_profiling)."""
    verify_module(parse_module(fn(entry(
        "CCALL @note (%a) [@base2 %v1 %entry 0 (%a=%a %b=%b)]", "RET (%a)"), PROFILED)))
    fails(fn(entry("%x = CCALL @helper (%a %b) [@base2 %v1 %entry 0 (%a=%a %b=%b)]",
                   "RET (%x)"), PROFILED), "resumes at PROFILE, not at a matching CCALL")
    fails(fn(entry("%x = CALL <@unary> @id (%a) [@base2 %v1 %entry 0 (%a=%a %b=%b)]",
                   "RET (%x)"), PROFILED), "resumes at PROFILE, not at a matching CALL")


INVOKE = """\
.typedef @tr = tagref64
.typedef @p = ptr
.funcsig @looksig = (@tr @p) -> (@p)
.extern @look <@looksig> IC invoke
.global @name <@tr>
.funcsig @msig = (@tr) -> (@tr)
.funcdef @m VERSION %v1 <@msig> {
  %entry(<@tr> %o):
    PROFILE 0 %o
    RET (%o)
}
.funcdef @m VERSION %s1 <@msig> UNSAFE {
  %entry(<@tr> %o):
    %r = CCALL @look (%o @name) [@m %v1 %entry 0 (%o=%o)]
    RET (%o)
}
"""


def test_7_an_inline_cache_that_restarts_waits_at_a_profile_with_its_result():
    """An `invoke` cache's lookup resumes before itself (after the PROFILE preceding it in
    the baseline): its result is not handed over, so the PROFILE's no results match."""
    verify_module(parse_module(INVOKE))
    fails(INVOKE.replace("IC invoke", ""), "resumes at PROFILE, not at a matching CCALL")


# ---------------------------------------------------------------------------- 8 the table

def test_8_the_instruction_table_is_consistent():
    check_table()


def _row(name, syntax=(), results=ops.no_results, flags=Flag.NONE):
    return OpDef(name, tuple(syntax), results, flags, "test row")


@pytest.mark.parametrize("row, fragment", [
    (_row("GC", flags=Flag.MAY_GC), "GC may GC but is not a safepoint"),
    (_row("TERM", results=ops.same_as_type, flags=Flag.TERMINATOR),
     "TERM is a terminator but defines results"),
    (_row("VAL", [Spec("a", Kind.VALUE)]), "VAL: value operand 'a' has no type rule"),
    (_row("ST", [Spec("state", Kind.STATE)]), "ST has a frame state but is not MAY_DEOPT"),
    (_row("BR", [Spec("dest", Kind.DEST)]), "BR branches but is not a terminator"),
    (_row("TY", [Spec("type", Kind.TYPE)]), "TY: no TYPE_RULES entry"),
    (_row("CV", [Spec("types", Kind.TYPES2)]), "CV: no CONVERSIONS entry"),
    (_row("VS", [Spec("args", Kind.VALUES)]), "VS: no VALUES_RULES entry for 'args'"),
])
def test_8_table_violations_are_reported(row, fragment):
    with pytest.raises(VerifyError, match=re.escape(fragment)):
        check_table({**OPS, row.name: row})


# ---------------------------------------------------------------------------- 9 literals

def test_9_constants_fit_their_type():
    fails(PRELUDE + ".const @c <@i8> = 300", "const @c: literal 300 does not fit @i8")
    fails(PRELUDE + ".const @c <@dbl> = 1", "const @c: literal 1 does not fit @dbl")
    fails(PRELUDE + ".const @c <@r> = 0", "const @c: literal 0 does not fit @r")
    verify_module(parse_module(PRELUDE + ".const @c <@i8> = -128\n.const @d <@i8> = 255\n"
                                         ".const @e <@tr> = nan\n.const @h <@dbl> = -0.0"))


def test_9_switch_case_keys_are_unique_and_fit():
    fails(fn(entry("SWITCH <@i64> %a %entry(%a %b) { 1: %entry(%a %b) 1: %entry(%b %a) }")),
          "instruction 0 (SWITCH): duplicate SWITCH case 1")
    fails(fn(entry("%c = TRUNC <@i64 @i8> %a", "SWITCH <@i8> %c %entry(%a %b) "
                   "{ 256: %entry(%a %b) }")), "SWITCH case 256 does not fit @i8")


# ---------------------------------------------------------------------------- 10 void

def test_10_void_only_as_a_trap_type():
    fails(PRELUDE + ".funcsig @bad = () -> (@void)", "type @bad: void in signature")
    fails(PRELUDE + ".funcsig @bad = (@void) -> ()", "void in signature")
    fails(PRELUDE + ".const @c <@void> = 0", "const @c has type @void")
    fails(PRELUDE + ".global @c <@void>", "global @c has type @void")
    fails(fn(entry("BRANCH %next()") + "  %next(<@void> %v):\n    RET (%a)"),
          "block %next: parameter %v has type void")


def test_verify_version_alone_reports_an_unknown_function():
    module = parse_module(PRELUDE)
    version = FunctionVersion("ghost", "v", [Block("b", [], [Instr("UNREACHABLE")])])
    with pytest.raises(VerifyError, match="no function @ghost"):
        verify_version(module, version)


def test_void_result_signature_is_reported_through_functions_too():
    module = parse_module(PRELUDE)
    module.types["bad"] = FuncSig((), (VOID,))
    fails(module, "void in signature")
