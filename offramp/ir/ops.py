"""The instruction table: every instruction kind of the IR, declared once.

Each row gives the opcode, its syntax (the operands in text order, each with a kind and
the type it must have), the types it defines, its flags and a docstring.  The parser, the
printer, the verifier, the interpreter and (later) native lowering all dispatch on this
table; `tests/ir/test_ops_complete.py` fails when an opcode lacks any of them.

Text form of an instruction:  `%r = [%name] OP operands... !line`
- `[%name]` is the optional Mu-style instruction name (traps are identified by it);
- `!line` is the optional source line (for guest stack traces).

Operand kinds in the syntax rows:
| kind      | text                       | Python value                       |
|-----------|----------------------------|------------------------------------|
| TYPE      | `<@T>`                     | a Type                             |
| TYPES2    | `<@From @To>`              | (Type, Type)                       |
| SIG       | `<@sig>`                   | FuncSig                            |
| VALUE     | `%x`, `@c`, `42`, `1.5`    | Var / Sym / Imm                    |
| VALUES    | `(%a %b)`                  | tuple of operands                  |
| DEST      | `%block(%a %b)`            | Dest                               |
| CASES     | `{ 1: %b(..) 2: %c(..) }`  | tuple of (int, Dest)               |
| EXTERN    | `@helper`                  | str                                |
| INT       | `16`                       | int                                |
| REASON    | `"text"`                   | str                                |
| STATE     | `[@f %v1 %b 0 (%x=%a) PARENT [...]]` or omitted when optional | FrameState or None |
| KEEPALIVE | `KEEPALIVE(%a %b)` or nothing | tuple of operands               |
| WORD      | a fixed keyword such as `ELSE` | not stored                      |

Semantics that the table's docstrings pin down where LLVM would leave them undefined
(a guest program must never reach undefined behaviour): integer division by zero gives 0
and remainder by zero gives the dividend; signed MIN / -1 wraps to MIN and MIN % -1 is 0
(for every width); shifts use the amount modulo the width; FPTOSI saturates and maps NaN
to 0.

Safety.  IR that could forge a reference, a function reference or a raw pointer, or reach
memory through one, is *unsafe*; it may appear only in a version marked `UNSAFE` (the
`.funcdef` header; `FunctionVersion.unsafe`), and `offramp run FILE.ir` runs such a module
only with `--unsafe`.  What is unsafe (the verifier's rule 11 decides it per instruction):

- `TR64_TO_REF` (Flag.UNSAFE): it takes the low 48 bits of any word as an address;
- `LOAD`/`STORE` (Flag.MEMORY) whose base is not a `.global`: a ref or ptr base may be
  null, forged, or walked past its object;
- `LOAD`/`STORE` of a global as another type (except a LOAD of int<n> or double, and a
  STORE of one into an int<n> or double global): reading a word of one type as a ref, ptr,
  tagref64 or funcref, or writing plain bits into one, forges one;
- `LOAD`/`STORE` of a `funcref`: memory holds no checked function reference (a zeroed cell
  is no function);
- a `ptr` literal or `.const`: an integer made into a raw pointer;
- a `tagref64` literal or `.const` that is a boxed reference: a forged heap reference.

Everything else is memory safe in every tier.  Safe code reaches memory only through a
global's own cell, at an offset the verifier checks against the global's type (in every
version, safe or not: a LOAD/STORE of a `.global` outside its cell or misaligned is
rejected); a `ref` or `ptr` it holds is null, a global's address, or what a caller, helper
or trap handler gave it, and a `funcref` always names a function of its signature (the
interpreter checks a trap handler's values against the types the trap resumes with); a
DEOPT (or a GUARD, with its own values) cannot resume straight back at itself (rule 7).
Inside an UNSAFE version nothing is checked at run time in native code; the interpreter
still stops an access outside the heap with a run-time error (one to the wrong place
inside it goes unnoticed).
"""
import enum
from dataclasses import dataclass, field

from .types import (DOUBLE, I1, I64, PTR, REF, TAGREF64, DoubleType, FuncRefType, IntType,
                    PtrType, RefType, TagRef64Type, VoidType)


class Kind(enum.Enum):
    """What an operand position holds; see the module docstring for the text form."""

    TYPE = "type"
    TYPES2 = "types2"
    SIG = "sig"
    VALUE = "value"
    VALUES = "values"
    DEST = "dest"
    CASES = "cases"
    EXTERN = "extern"
    INT = "int"
    REASON = "reason"
    STATE = "state"
    KEEPALIVE = "keepalive"
    WORD = "word"


class Flag(enum.Flag):
    """Properties passes and tiers rely on."""

    NONE = 0
    PURE = enum.auto()         # no effects, result depends only on operands
    TERMINATOR = enum.auto()   # ends a block
    GUARD = enum.auto()        # checks a speculation; deopts when it fails
    SAFEPOINT = enum.auto()    # a place where GC, handshakes and lazy deopt may happen
    MAY_GC = enum.auto()       # may allocate, so every traced value must be findable
    MAY_DEOPT = enum.auto()    # may leave for the interpreter: needs a frame state
    SIDE_EFFECT = enum.auto()  # writes memory, calls, traps: not removable
    READS_MEMORY = enum.auto() # result depends on memory: not movable across writes
    CALL = enum.auto()         # transfers to another function and back
    TRAP = enum.auto()         # reaches the client's trap handler
    UNSAFE = enum.auto()       # forges a reference: only in UNSAFE versions (see Safety)
    MEMORY = enum.auto()       # reads or writes memory at base + offset: safe only on a
                               # global's own cell (see Safety)


@dataclass(frozen=True, slots=True)
class Spec:
    """One operand position: its name, kind, the type it must have, and if it is optional."""

    name: str
    kind: Kind
    expect: object = None      # fn(instr, ctx) -> Type | None (None: any type / not a value)
    optional: bool = False


@dataclass(frozen=True, slots=True)
class OpDef:
    """A row of the instruction table."""

    name: str
    syntax: tuple
    results: object            # fn(instr, ctx) -> tuple of Types
    flags: Flag
    doc: str
    bits: int = field(default=0, init=False, repr=False, compare=False)
    positions: dict = field(default=None, init=False, repr=False, compare=False)
    dest_positions: tuple = field(default=(), init=False, repr=False, compare=False)
    state_position: int | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self):
        # Derived once, for the questions passes ask of every instruction they look at: the
        # flags as a plain int (enum.Flag's `&` is a Python-level call), operand positions
        # by name, where branch targets and the frame state are.
        object.__setattr__(self, "bits", self.flags._value_)
        object.__setattr__(self, "positions",
                           {spec.name: i for i, spec in enumerate(self.syntax)})
        object.__setattr__(self, "dest_positions", tuple(
            (i, spec.kind is Kind.CASES) for i, spec in enumerate(self.syntax)
            if spec.kind in (Kind.DEST, Kind.CASES)))
        object.__setattr__(self, "state_position", next(
            (i for i, spec in enumerate(self.syntax) if spec.kind is Kind.STATE), None))

    def position(self, name: str) -> int:
        """The index of the operand called `name` in an instruction's operand tuple."""
        try:
            return self.positions[name]
        except KeyError:
            raise KeyError(f"{self.name} has no operand {name!r}") from None

    def has(self, flag: Flag) -> bool:
        """Whether this instruction kind has `flag`."""
        return (self.bits & flag._value_) != 0


# --- type rules: functions of (instr, ctx); ctx gives module, sig of the version, types of values

def of(name):
    """The type given as the operand `name` (a TYPE position)."""
    return lambda instr, ctx: instr.arg(name)


def fixed(ty):
    """Always `ty`."""
    return lambda instr, ctx: ty


def any_type(instr, ctx):
    """Any type is accepted."""
    return None


def from_type(instr, ctx):
    """The source type of a conversion."""
    return instr.arg("types")[0]


def no_results(instr, ctx):
    return ()


def same_as_type(instr, ctx):
    return (instr.arg("type"),)


def to_type(instr, ctx):
    return (instr.arg("types")[1],)


def sig_results(instr, ctx):
    return tuple(instr.arg("sig").results)


def extern_results(instr, ctx):
    return tuple(ctx.module.externs[instr.arg("callee")].sig.results)


def trap_results(instr, ctx):
    ty = instr.arg("type")
    return () if isinstance(ty, VoidType) else (ty,)


def result(ty):
    """Exactly one result of type `ty`."""
    return lambda instr, ctx: (ty,)


def base_type(instr, ctx):
    """LOAD/STORE bases are heap refs or raw pointers; the verifier checks which."""
    return None


def callee_type(instr, ctx):
    return FuncRefType(instr.arg("sig"))


V = Kind.VALUE


def S(name, kind, expect=None, optional=False):
    return Spec(name, kind, expect, optional)


def _binop(name, doc):
    return OpDef(name, (S("type", Kind.TYPE), S("a", V, of("type")), S("b", V, of("type"))),
                 same_as_type, Flag.PURE, doc)


def _cmp(name, doc):
    return OpDef(name, (S("type", Kind.TYPE), S("a", V, of("type")), S("b", V, of("type"))),
                 result(I1), Flag.PURE, doc)


def _conv(name, doc):
    return OpDef(name, (S("types", Kind.TYPES2), S("a", V, from_type)), to_type, Flag.PURE, doc)


def _tr64(name, operand_type, result_type, doc):
    return OpDef(name, (S("a", V, fixed(operand_type)),), result(result_type), Flag.PURE, doc)


CALL_FLAGS = Flag.CALL | Flag.SAFEPOINT | Flag.MAY_GC | Flag.MAY_DEOPT | Flag.SIDE_EFFECT

_ROWS = [
    _binop("ADD", "Integer addition, wrapping."),
    _binop("SUB", "Integer subtraction, wrapping."),
    _binop("MUL", "Integer multiplication, wrapping."),
    _binop("SDIV", "Signed division toward zero; by zero gives 0; MIN/-1 gives MIN."),
    _binop("SREM", "Signed remainder (sign of dividend); by zero gives the dividend."),
    _binop("UDIV", "Unsigned division; by zero gives 0."),
    _binop("UREM", "Unsigned remainder; by zero gives the dividend."),
    _binop("SHL", "Shift left by the amount modulo the width."),
    _binop("LSHR", "Logical shift right by the amount modulo the width."),
    _binop("ASHR", "Arithmetic shift right by the amount modulo the width."),
    _binop("AND", "Bitwise and."),
    _binop("OR", "Bitwise or."),
    _binop("XOR", "Bitwise exclusive or."),
    _binop("FADD", "Double addition."),
    _binop("FSUB", "Double subtraction."),
    _binop("FMUL", "Double multiplication."),
    _binop("FDIV", "Double division (IEEE: by zero gives an infinity or NaN)."),
    _binop("FREM", "Double remainder with the sign of the dividend (C fmod)."),
    OpDef("FNEG", (S("type", Kind.TYPE), S("a", V, of("type"))), same_as_type, Flag.PURE,
          "Double negation."),
    _cmp("EQ", "Bitwise equality (integers, refs, pointers, tagref64 words, funcrefs)."),
    _cmp("NE", "Bitwise inequality."),
    _cmp("SLT", "Signed less than."),
    _cmp("SLE", "Signed less or equal."),
    _cmp("SGT", "Signed greater than."),
    _cmp("SGE", "Signed greater or equal."),
    _cmp("ULT", "Unsigned less than."),
    _cmp("ULE", "Unsigned less or equal."),
    _cmp("UGT", "Unsigned greater than."),
    _cmp("UGE", "Unsigned greater or equal."),
    _cmp("FOEQ", "Ordered double equality (false if either is NaN)."),
    _cmp("FONE", "Ordered double inequality."),
    _cmp("FOLT", "Ordered double less than."),
    _cmp("FOLE", "Ordered double less or equal."),
    _cmp("FOGT", "Ordered double greater than."),
    _cmp("FOGE", "Ordered double greater or equal."),
    _cmp("FUNE", "Unordered double inequality (true if either is NaN)."),
    _cmp("FUNO", "True if either operand is NaN."),
    _conv("TRUNC", "Integer truncation to a narrower type."),
    _conv("ZEXT", "Integer zero extension."),
    _conv("SEXT", "Integer sign extension."),
    _conv("SITOFP", "Signed integer to double."),
    _conv("UITOFP", "Unsigned integer to double."),
    _conv("FPTOSI", "Double to signed integer, saturating; NaN gives 0."),
    _conv("BITCAST", "Reinterpret the bits: int<64> <-> double."),
    OpDef("SELECT", (S("type", Kind.TYPE), S("cond", V, fixed(I1)), S("a", V, of("type")),
                     S("b", V, of("type"))), same_as_type, Flag.PURE,
          "`a` if `cond` else `b`."),
    _tr64("TR64_IS_FP", TAGREF64, I1, "Whether a tagref64 holds a double."),
    _tr64("TR64_IS_REF", TAGREF64, I1, "Whether a tagref64 holds a heap reference."),
    _tr64("TR64_IS_INT", TAGREF64, I1, "Whether a tagref64 holds a small integer tag."),
    _tr64("TR64_TO_FP", TAGREF64, DOUBLE, "The double in a tagref64 (checked by TR64_IS_FP)."),
    OpDef("TR64_TO_REF", (S("a", V, fixed(TAGREF64)),), result(REF), Flag.PURE | Flag.UNSAFE,
          "The reference in a tagref64: the low 48 bits of any word (unchecked: UNSAFE)."),
    _tr64("TR64_TO_INT", TAGREF64, I64, "The small integer in a tagref64."),
    _tr64("TR64_FROM_FP", DOUBLE, TAGREF64, "Box a double (NaNs canonicalized)."),
    _tr64("TR64_FROM_REF", REF, TAGREF64, "Box a heap reference."),
    _tr64("TR64_FROM_INT", I64, TAGREF64, "Box a small integer (low 50 bits)."),
    OpDef("THREAD_LOCAL", (S("offset", Kind.INT),), result(PTR), Flag.UNSAFE,
          "The address of the word at `offset` in the running thread's native thread block "
          "(per-thread state: allocation buffers); raw thread state, so UNSAFE.  Not PURE: "
          "its value is the running thread's, never a constant to fold."),
    OpDef("LOAD", (S("type", Kind.TYPE), S("base", V, base_type), S("offset", Kind.INT)),
          same_as_type, Flag.READS_MEMORY | Flag.MEMORY,
          "Load a value of the given type from `base + offset` (base: ref or ptr; "
          "UNSAFE unless the base is a global, see Safety)."),
    OpDef("STORE", (S("type", Kind.TYPE), S("base", V, base_type), S("offset", Kind.INT),
                    S("value", V, of("type"))), no_results, Flag.SIDE_EFFECT | Flag.MEMORY,
          "Store `value` at `base + offset` (UNSAFE unless the base is a global, see Safety)."),
    OpDef("BRANCH", (S("dest", Kind.DEST),), no_results, Flag.TERMINATOR,
          "Jump to a block, binding its parameters."),
    OpDef("BRANCH2", (S("cond", V, fixed(I1)), S("iftrue", Kind.DEST), S("iffalse", Kind.DEST)),
          no_results, Flag.TERMINATOR, "Two-way conditional branch."),
    OpDef("SWITCH", (S("type", Kind.TYPE), S("value", V, of("type")), S("default", Kind.DEST),
                     S("cases", Kind.CASES)), no_results, Flag.TERMINATOR,
          "Multi-way branch on an integer."),
    OpDef("RET", (S("values", Kind.VALUES),), no_results, Flag.TERMINATOR,
          "Return zero or one value (matching the signature) to the caller."),
    OpDef("CALL", (S("sig", Kind.SIG), S("callee", V, callee_type), S("args", Kind.VALUES),
                   S("keepalive", Kind.KEEPALIVE), S("state", Kind.STATE, optional=True)),
          sig_results, CALL_FLAGS,
          "Call the current version of a function (a funcref value or `@f`).  The optional "
          "state is the caller's abstract state while the call is in progress: it resumes "
          "at the matching call of the target version, which receives this call's result."),
    OpDef("CCALL", (S("callee", Kind.EXTERN), S("args", Kind.VALUES),
                    S("keepalive", Kind.KEEPALIVE), S("state", Kind.STATE, optional=True)),
          extern_results, Flag.SAFEPOINT | Flag.MAY_GC | Flag.MAY_DEOPT | Flag.SIDE_EFFECT,
          "Call a runtime helper declared by `.extern` (effects unless the extern is PURE); "
          "the optional state is as for CALL."),
    OpDef("PATCHPOINT", (S("id", Kind.INT), S("sig", Kind.SIG), S("callee", V, callee_type),
                         S("args", Kind.VALUES), S("keepalive", Kind.KEEPALIVE),
                         S("state", Kind.STATE, optional=True)), sig_results,
          CALL_FLAGS, "A patchable call site (inline caches); in the interpreter, a CALL."),
    OpDef("TRAP", (S("type", Kind.TYPE), S("keepalive", Kind.KEEPALIVE),
                   S("state", Kind.STATE, optional=True)), trap_results,
          Flag.TRAP | Flag.SAFEPOINT | Flag.MAY_GC | Flag.MAY_DEOPT | Flag.SIDE_EFFECT,
          "Stop and call the client's trap handler, which may read the keep-alive values, "
          "inspect and change the stack, and resume passing the result."),
    OpDef("WATCHPOINT", (S("id", Kind.INT), S("type", Kind.TYPE), S("disabled", Kind.DEST),
                         S("enabled", Kind.DEST), S("keepalive", Kind.KEEPALIVE)), no_results,
          Flag.TERMINATOR | Flag.TRAP | Flag.SAFEPOINT | Flag.MAY_GC | Flag.MAY_DEOPT,
          "While watchpoint `id` is disabled, branch to `disabled`; when enabled, trap like "
          "TRAP and branch to `enabled` with the trap's result appended to its arguments."),
    OpDef("SAFEPOINT", (S("state", Kind.STATE, optional=True),), no_results,
          Flag.SAFEPOINT | Flag.MAY_GC | Flag.MAY_DEOPT | Flag.SIDE_EFFECT,
          "A poll: runs pending handshakes (GC, invalidation, debugger stops) here."),
    OpDef("BREAKPOINT", (S("id", Kind.INT), S("state", Kind.STATE, optional=True)),
          no_results, Flag.SAFEPOINT | Flag.MAY_GC | Flag.MAY_DEOPT | Flag.SIDE_EFFECT,
          "A debugger's breakpoint site: while breakpoint `id` is armed (or its thread is "
          "stepping), stop here for the debugger, a safepoint resuming after itself."),
    OpDef("GUARD", (S("cond", V, fixed(I1)), S("else", Kind.WORD), S("deopt", Kind.WORD),
                    S("reason", Kind.REASON), S("state", Kind.STATE)), no_results,
          Flag.GUARD | Flag.MAY_DEOPT | Flag.SIDE_EFFECT,
          "Continue if `cond` holds; otherwise deoptimize to `state`, recording `reason`."),
    OpDef("DEOPT", (S("reason", Kind.REASON), S("state", Kind.STATE)), no_results,
          Flag.TERMINATOR | Flag.MAY_DEOPT,
          "Deoptimize unconditionally to `state` (the deopt-here of tests)."),
    OpDef("PROFILE", (S("site", Kind.INT), S("value", V, any_type)), no_results,
          Flag.SIDE_EFFECT, "Record the observed class of `value` at profile site `site`."),
    OpDef("UNREACHABLE", (), no_results, Flag.TERMINATOR,
          "Never executed (e.g. after a helper that always raises); reaching it is a VM error."),
]

OPS = {row.name: row for row in _ROWS}

_READ_KINDS = (Kind.VALUE, Kind.VALUES, Kind.KEEPALIVE, Kind.DEST, Kind.CASES, Kind.STATE)
READ_POSITIONS = {row.name: tuple((i, spec.kind) for i, spec in enumerate(row.syntax)
                                  if spec.kind in _READ_KINDS) for row in _ROWS}
"""Opcode -> (operand index, kind) of every position that reads values: derived from OPS
once, for `Instr.value_operands` (the hottest question passes ask)."""

PLAIN_READS = {name: tuple(i for i, _ in reads) for name, reads in READ_POSITIONS.items()
               if all(kind is Kind.VALUE for _, kind in reads)}
"""Opcode -> operand indexes, for the opcodes that read single values only (most of them):
their value operands are those positions, with no nested structure to walk."""


def _operand_checks() -> dict:
    """Kind -> what an operand of that kind must be: a tuple of classes (an isinstance
    test) or a predicate (built once; nodes.py imports this module lazily)."""
    from .nodes import Dest, FrameState, Imm, Sym, Var
    from .types import FuncSig
    value = (Var, Sym, Imm)
    return {
        Kind.TYPE: lambda o: not isinstance(o, (FuncSig, tuple)) and o is not None,
        Kind.TYPES2: lambda o: isinstance(o, tuple) and len(o) == 2,
        Kind.SIG: (FuncSig,),
        Kind.VALUE: value,
        Kind.VALUES: lambda o: isinstance(o, tuple) and all(isinstance(x, value) for x in o),
        Kind.KEEPALIVE: lambda o: isinstance(o, tuple) and all(isinstance(x, value) for x in o),
        Kind.DEST: (Dest,),
        Kind.CASES: lambda o: isinstance(o, tuple) and all(
            isinstance(k, int) and isinstance(d, Dest) for k, d in o),
        Kind.EXTERN: (str,),
        Kind.INT: (int,),
        Kind.REASON: (str,),
        Kind.WORD: lambda o: o is None,
        Kind.STATE: (FrameState,),
    }


_ROW_CHECKS = {}


def _row_checks(opdef: OpDef) -> tuple:
    """(what the operand must be, optional) for each position of a row, built once."""
    row = _ROW_CHECKS.get(opdef.name)
    if row is None:
        if not _ROW_CHECKS:
            _ROW_CHECKS[None] = _operand_checks()
        checks = _ROW_CHECKS[None]
        row = _ROW_CHECKS[opdef.name] = tuple((checks[spec.kind], spec.optional)
                                              for spec in opdef.syntax)
    return row


def check_operands(opdef: OpDef, operands: tuple) -> None:
    """Reject an operand tuple that does not match the syntax row's arity and kinds."""
    row = _row_checks(opdef)
    if len(operands) != len(row):
        raise ValueError(f"{opdef.name} takes {len(row)} operands, got {len(operands)}")
    for i, ((check, optional), operand) in enumerate(zip(row, operands)):
        if check.__class__ is tuple:
            if isinstance(operand, check):
                continue
        elif check(operand):
            continue
        if not (optional and operand is None):
            spec = opdef.syntax[i]
            raise ValueError(f"{opdef.name}: operand {spec.name!r} ({spec.kind.value}) "
                             f"cannot be {operand!r}")


def value_type_ok(expected, actual) -> bool:
    """Whether a value of type `actual` may stand where `expected` is required."""
    return expected is None or expected == actual


def is_memory_base(ty) -> bool:
    """LOAD/STORE bases: heap references or raw pointers."""
    return isinstance(ty, (RefType, PtrType))


__all__ = ["OPS", "Kind", "Flag", "Spec", "OpDef", "check_operands", "value_type_ok",
           "is_memory_base", "IntType", "DoubleType", "TagRef64Type"]
