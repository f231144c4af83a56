"""The IR verifier: the invariants every module satisfies between passes.

`verify_module(module)` checks the module's definitions and every function version;
`verify_version(module, version)` checks one version and the frame states it holds.  The
first violation raises `VerifyError`, whose message starts with where it is: the function,
version, block and instruction index (and opcode); for a parsed module it also carries the
line and column (`Module.positions`).  `check_table()` checks the instruction
table itself.  Facts about values (types, liveness) come from `analysis`, so the verifier
and the passes cannot disagree about them.

Invariants (each has a negative test in tests/ir/test_verify.py):

1. Versions.  A function's versions have distinct names and record the function's name;
   every version has a block; the entry block (the first) has parameters of the
   signature's parameter types; block labels are unique within a version.
2. Terminators.  Every block ends in exactly one terminator (Flag.TERMINATOR) and has none
   elsewhere; every branch target names a block of the version.
3. SSA.  Every name is defined once per version (block parameters and instruction results
   together); every `%name` read (operands, branch arguments, keep-alives, frame-state
   values) is defined in the version.
4. Dominance.  Every use in a reachable block is dominated by its definition: a block
   parameter dominates its block; an instruction result is available after its instruction
   in its block and in the blocks its block strictly dominates.  Unreachable blocks are
   allowed and are checked for everything but this.
5. Types.  An instruction names no results or exactly as many as its kind defines.  A
   VALUE operand has the type its spec's `expect` gives (a literal fits that type: an int
   in range for int<n>, an int (the raw word) or float for tagref64, a float for double;
   no literal where ref, ptr, funcref or an unknown type is expected); LOAD/STORE bases are
   ref or ptr; VALUES operands match `VALUES_RULES` (RET: the signature's results;
   CALL/PATCHPOINT: the SIG's parameters, and the callee is a funcref of that SIG; CCALL:
   its extern's parameters); keep-alives are not literals; branch arguments match the
   target's parameters in number and type (WATCHPOINT's `enabled` target takes one more,
   trailing, of the trap's type unless that is void); a TYPE operand is of the class its
   opcode works on (`TYPE_RULES`: integer ops, compares and SWITCH int<n>, F-ops double,
   EQ/NE neither void nor double, ...) and SELECT/binop/compare operands equal it;
   conversions (`CONVERSIONS`): TRUNC narrows ints, ZEXT/SEXT widen, SITOFP/UITOFP go
   int to double, FPTOSI double to int, BITCAST between int<64> and double.
6. Symbols and names.  Definitions are stored under their own names; const, global,
   extern and function names are distinct; every `@name` value names a const, global or
   function; every CCALL names an extern; every type and signature mentioned (in
   definitions, nested in signatures and funcrefs, block parameters, instruction operands)
   is defined in module.types, and every name matches `[A-Za-z_][A-Za-z0-9_.]*`, so the
   module can be printed.
7. Frame states (GUARD, DEOPT, SAFEPOINT's optional one) and their parents.  The named
   function, version and block exist and 0 <= index <= len(block.instrs) - 1; the state
   names each variable once and gives exactly the variables live at its resume point in
   the target version (`analysis.live_at`), each with an operand of that variable's type.
   The innermost state resumes before instruction `index`.  A parent state resumes the
   caller of inlined code: its instruction is a CALL, PATCHPOINT or CCALL returning what
   the child state's function returns, and its variables are those live after the call,
   less the call's results (which the callee's result binds).  The optional state of a
   CALL, PATCHPOINT, CCALL or TRAP is *waiting*: its innermost frame resumes at a matching
   instruction (a call or helper call for either — an optimized version may do by a call
   of IR what its baseline does by a helper, as Lox's instance allocators do; a TRAP for a
   TRAP) with as many results, and gives the variables live after it, less its results
   (and, at a TRAP, its keep-alive variables: `analysis.waiting_live`).
   A CCALL handing no result over — one without results, or of an inline cache that
   `restarts` — may instead wait at a PROFILE (resuming after it).
8. The table (`check_table`).  Every MAY_GC kind is a SAFEPOINT; every TERMINATOR defines
   no results; every VALUE position has an `expect` rule; every kind with a STATE may
   deopt; every kind with a DEST or CASES is a terminator; this module has a rule for
   every TYPE, TYPES2 and VALUES position.
9. Literals.  A constant's literal fits its type (as in 5); SWITCH case keys are unique
   and fit the switched type.
10. Void.  `void` is only the type of a TRAP or WATCHPOINT that produces nothing: never a
   signature's parameter or result (no result is written `()`), a block parameter, or a
   constant's or global's type.
11. Safety (see `ops`).  A version not marked UNSAFE uses no unsafe operation: no
   Flag.UNSAFE instruction; no LOAD/STORE whose base is not a `.global`, of a funcref, or
   of a global as another type — except a LOAD of int<n> or double, and a STORE of one into
   an int<n> or double global; no ptr literal or constant; no tagref64 literal or constant
   that is a boxed reference.
12. Memory.  A LOAD/STORE of a `.global` (in any version) stays inside the global's cell
   and is aligned to its width; INT operands (offsets, ids) fit int<64>.
Rule 7 also asks that a state's outermost frame returns what the frame it replaces returns,
that a DEOPT does not resume where pure instructions, branches and DEOPTs lead straight back
to it, and that a GUARD does not resume at itself with its own values (either would
deoptimize forever).
"""
from .analysis import (dominates, dominators_in_order, live_at, liveness, symbol_type,
                       value_types, waiting_live)
from . import tagref
from .inline_caches import IC_KINDS, ic_signature_error
from .nodes import Imm, Sym, Var
from .ops import OPS, Flag, Kind, base_type, no_results, trap_results
from .text import NAME
from .types import (DOUBLE, I64, DoubleType, FuncRefType, FuncSig, IntType, PtrType, RefType,
                    TagRef64Type, VoidType, byte_width, is_plain_data)


class VerifyError(Exception):
    """A broken invariant; `func`, `version`, `block`, `index` and `op` say where, and
    `line`/`column` where that is in the text (when the module was parsed; else None)."""

    def __init__(self, message: str, func=None, version=None, block=None, index=None, op=None,
                 position=None):
        self.message, self.func, self.version = message, func, version
        self.block, self.index, self.op = block, index, op
        self.line, self.column = position or (None, None)
        where = []
        if func is not None:
            where.append(f"@{func}" + (f" VERSION %{version}" if version is not None else ""))
        if block is not None:
            where.append(f"block %{block}")
        if index is not None:
            where.append(f"instruction {index}" + (f" ({op})" if op else ""))
        super().__init__(", ".join(where) + ": " + message if where else message)


# ---------------------------------------------------------------------------- type rules

_TYPE_CLASSES = (IntType, DoubleType, RefType, PtrType, TagRef64Type, VoidType, FuncRefType)


def is_type(ty) -> bool:
    """Whether `ty` is a type (not a signature, not some other object)."""
    return isinstance(ty, _TYPE_CLASSES)


def literal_fits(ty, value) -> bool:
    """Whether a literal may stand where a value of type `ty` is required."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if isinstance(ty, IntType):
        return isinstance(value, int) and -(1 << (ty.bits - 1)) <= value < (1 << ty.bits)
    if isinstance(ty, TagRef64Type):
        return isinstance(value, float) or -(1 << 63) <= value < (1 << 64)
    if isinstance(ty, PtrType):     # a raw address: a VM's static word (never a heap ref)
        return isinstance(value, int) and 0 <= value < (1 << 64)
    return isinstance(ty, DoubleType) and isinstance(value, float)


def _rule(test, text):
    return (test, text)


_INT = _rule(lambda t: isinstance(t, IntType), "an integer type")
_DBL = _rule(lambda t: isinstance(t, DoubleType), "double")
_NONVOID = _rule(lambda t: is_type(t) and not isinstance(t, VoidType), "a non-void type")
_ANY = _rule(is_type, "a type")
_BITWISE = _rule(lambda t: is_type(t) and not isinstance(t, (VoidType, DoubleType)),
                 "a non-void, non-double type (compare doubles with FOEQ/FONE)")

# The class of type each opcode's TYPE operand must be.
TYPE_RULES = {
    **{op: _INT for op in ("ADD SUB MUL SDIV SREM UDIV UREM SHL LSHR ASHR AND OR XOR "
                           "SLT SLE SGT SGE ULT ULE UGT UGE SWITCH").split()},
    **{op: _DBL for op in ("FADD FSUB FMUL FDIV FREM FNEG "
                           "FOEQ FONE FOLT FOLE FOGT FOGE FUNE FUNO").split()},
    "EQ": _BITWISE, "NE": _BITWISE,
    "SELECT": _NONVOID, "LOAD": _NONVOID, "STORE": _NONVOID,
    "TRAP": _ANY, "WATCHPOINT": _ANY,
}


def _ints(test):
    return lambda a, b: isinstance(a, IntType) and isinstance(b, IntType) and test(a.bits, b.bits)


# What each conversion's `<@From @To>` must be.
CONVERSIONS = {
    "TRUNC": _rule(_ints(lambda a, b: b < a), "an integer type to a narrower one"),
    "ZEXT": _rule(_ints(lambda a, b: b > a), "an integer type to a wider one"),
    "SEXT": _rule(_ints(lambda a, b: b > a), "an integer type to a wider one"),
    "SITOFP": _rule(lambda a, b: isinstance(a, IntType) and isinstance(b, DoubleType),
                    "an integer type to double"),
    "UITOFP": _rule(lambda a, b: isinstance(a, IntType) and isinstance(b, DoubleType),
                    "an integer type to double"),
    "FPTOSI": _rule(lambda a, b: isinstance(a, DoubleType) and isinstance(b, IntType),
                    "double to an integer type"),
    "BITCAST": _rule(lambda a, b: (a, b) in ((I64, DOUBLE), (DOUBLE, I64)),
                     "int<64> to double or double to int<64>"),
}

# The types a VALUES operand must have, by (opcode, operand name).
VALUES_RULES = {
    ("RET", "values"): lambda instr, ctx: tuple(ctx.sig.results),
    ("CALL", "args"): lambda instr, ctx: tuple(instr.arg("sig").params),
    ("PATCHPOINT", "args"): lambda instr, ctx: tuple(instr.arg("sig").params),
    ("CCALL", "args"): lambda instr, ctx: tuple(ctx.module.externs[instr.arg("callee")].sig.params),
}

# Parameters a branch target takes beyond the branch's arguments, by (opcode, operand name).
EXTRA_DEST_PARAMS = {
    ("WATCHPOINT", "enabled"): trap_results,
}


# ---------------------------------------------------------------------------- the table

def check_table(table=None) -> None:
    """Invariant 8: the instruction table's flags and operand kinds agree with each other."""
    problems = []
    for op in (OPS if table is None else table).values():
        if op.has(Flag.MAY_GC) and not op.has(Flag.SAFEPOINT):
            problems.append(f"{op.name} may GC but is not a safepoint")
        if op.has(Flag.TERMINATOR) and op.results is not no_results:
            problems.append(f"{op.name} is a terminator but defines results")
        for spec in op.syntax:
            if spec.kind is Kind.VALUE and spec.expect is None:
                problems.append(f"{op.name}: value operand {spec.name!r} has no type rule")
            if spec.kind is Kind.STATE and not op.has(Flag.MAY_DEOPT):
                problems.append(f"{op.name} has a frame state but is not MAY_DEOPT")
            if spec.kind in (Kind.DEST, Kind.CASES) and not op.has(Flag.TERMINATOR):
                problems.append(f"{op.name} branches but is not a terminator")
            if spec.kind is Kind.TYPE and op.name not in TYPE_RULES:
                problems.append(f"{op.name}: no TYPE_RULES entry for its type operand")
            if spec.kind is Kind.TYPES2 and op.name not in CONVERSIONS:
                problems.append(f"{op.name}: no CONVERSIONS entry")
            if spec.kind is Kind.VALUES and (op.name, spec.name) not in VALUES_RULES:
                problems.append(f"{op.name}: no VALUES_RULES entry for {spec.name!r}")
    if problems:
        raise VerifyError("instruction table: " + "; ".join(problems))


# ---------------------------------------------------------------------------- module

def verify_module(module) -> None:
    """Check every definition and every function version of `module`."""
    _check_definitions(module)
    for func in module.functions.values():
        seen = set()
        for version in func.versions:
            if version.name in seen:
                raise VerifyError(f"duplicate VERSION %{version.name}", func.name)
            seen.add(version.name)
            if version.func != func.name:
                raise VerifyError(f"version records function @{version.func}",
                                  func.name, version.name)
            verify_version(module, version)


def verify_version(module, version) -> None:
    """Check one function version and the frame states it holds."""
    _VersionChecker(module, version).run()


def _show(module, ty) -> str:
    """A type as messages name it: by its name when it has one."""
    for name, t in module.types.items():
        if t == ty:
            return "@" + name
    if isinstance(ty, FuncSig):
        return f"({' '.join(_show(module, t) for t in ty.params)}) -> " \
               f"({' '.join(_show(module, t) for t in ty.results)})"
    if isinstance(ty, FuncRefType):
        return f"funcref<{_show(module, ty.sig)}>"
    return ty.text() if hasattr(ty, "text") else repr(ty)


def _check_name(name, what: str, **where) -> None:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise VerifyError(f"{what} {name!r} is not a valid name ({NAME.pattern})", **where)


def _check_named(module, ty, what: str, known: set, **where) -> None:
    """Invariant 6: `ty` and every type it mentions are defined in module.types."""
    if not (is_type(ty) or isinstance(ty, FuncSig)):
        raise VerifyError(f"{what}: {ty!r} is not a type", **where)
    if ty not in known:
        raise VerifyError(f"{what}: type {_show(module, ty)} is not defined in module.types "
                          f"(add a .typedef/.funcsig)", **where)
    if isinstance(ty, FuncSig):
        for inner in ty.params + ty.results:
            _check_named(module, inner, what, known, **where)
            if isinstance(inner, VoidType):
                raise VerifyError(f"{what}: void in signature {_show(module, ty)} "
                                  f"(no result is written ())", **where)
    elif isinstance(ty, FuncRefType):
        _check_named(module, ty.sig, what, known, **where)


def _check_definitions(module) -> None:
    """Invariants 6, 9 and 10 for module-level definitions."""
    known = set(module.types.values())
    for name, ty in module.types.items():
        _check_name(name, "type name")
        _check_named(module, ty, f"type @{name}", known)
    owners = {}
    tables = (("const", module.consts), ("global", module.globals),
              ("extern", module.externs), ("function", module.functions))
    for kind, table in tables:
        for key, d in table.items():
            if d.name != key:
                raise VerifyError(f"{kind} stored as @{key} is named @{d.name}")
            _check_name(key, f"{kind} name")
            if key in owners:
                raise VerifyError(f"@{key} is both a {owners[key]} and a {kind}")
            owners[key] = kind
    for c in module.consts.values():
        _check_named(module, c.type, f"const @{c.name}", known)
        if not is_type(c.type) or isinstance(c.type, VoidType):
            raise VerifyError(f"const @{c.name} has type {_show(module, c.type)}")
        if not literal_fits(c.type, c.value):
            raise VerifyError(f"const @{c.name}: literal {c.value!r} does not fit "
                              f"{_show(module, c.type)}")
    for g in module.globals.values():
        _check_named(module, g.type, f"global @{g.name}", known)
        if not is_type(g.type) or isinstance(g.type, VoidType):
            raise VerifyError(f"global @{g.name} has type {_show(module, g.type)}")
    for e in module.externs.values():
        if not isinstance(e.sig, FuncSig):
            raise VerifyError(f"extern @{e.name}: {e.sig!r} is not a signature")
        _check_named(module, e.sig, f"extern @{e.name}", known)
        problem = e.ic and ic_signature_error(e.ic, e.sig)
        if problem:
            raise VerifyError(f"extern @{e.name}: {problem}")
    for f in module.functions.values():
        if not isinstance(f.sig, FuncSig):
            raise VerifyError(f"function @{f.name}: {f.sig!r} is not a signature")
        _check_named(module, f.sig, f"function @{f.name}", known)


# ---------------------------------------------------------------------------- versions

class _VersionChecker:
    """Checks one version, invariant by invariant, failing at the first violation."""

    def __init__(self, module, version):
        self.module, self.version = module, version
        self.func = module.functions.get(version.func)
        self.known = set(module.types.values())
        self.ctx = None
        self._targets = {}   # id(target version) -> (live_in, TypeContext)

    def fail(self, message, block=None, index=None):
        op = None
        key = (self.version.func, self.version.name)
        if block is not None and index is not None:
            op = self.version.block(block).instrs[index].op
            key += (block, index)
        raise VerifyError(message, self.version.func, self.version.name, block, index, op,
                          self.module.positions.get(key))

    def instrs(self):
        for block in self.version.blocks:
            for i, instr in enumerate(block.instrs):
                yield block, i, instr

    def run(self):
        if self.func is None:
            self.fail(f"no function @{self.version.func} in the module")
        self.check_blocks()        # 1
        self.check_terminators()   # 2
        self.check_ssa()           # 3
        self.check_symbols()       # 6, 10
        self.ctx = value_types(self.module, self.version)
        self.check_types()         # 5, 9
        self.check_dominance()     # 4
        self.check_states()        # 7
        self.check_safety()        # 11, 12

    # 1
    def check_blocks(self):
        _check_name(self.version.name, "version name", func=self.version.func)
        if not self.version.blocks:
            self.fail("has no blocks")
        entry = self.version.blocks[0]
        got = tuple(ty for _, ty in entry.params)
        if got != tuple(self.func.sig.params):
            self.fail(f"entry block parameters ({' '.join(_show(self.module, t) for t in got)}) "
                      f"do not match the signature's "
                      f"({' '.join(_show(self.module, t) for t in self.func.sig.params)})",
                      entry.label)
        seen = set()
        for block in self.version.blocks:
            _check_name(block.label, "block label", func=self.version.func,
                        version=self.version.name)
            if block.label in seen:
                self.fail(f"duplicate block label %{block.label}", block.label)
            seen.add(block.label)

    # 2
    def check_terminators(self):
        labels = {b.label for b in self.version.blocks}
        for block in self.version.blocks:
            if not block.instrs or not block.instrs[-1].opdef.has(Flag.TERMINATOR):
                self.fail("does not end in a terminator", block.label)
            for i, instr in enumerate(block.instrs[:-1]):
                if instr.opdef.has(Flag.TERMINATOR):
                    self.fail("terminator before the end of the block", block.label, i)
            last = len(block.instrs) - 1
            for dest in block.instrs[-1].dests():
                if dest.label not in labels:
                    self.fail(f"branch to unknown block %{dest.label}", block.label, last)

    # 3
    def check_ssa(self):
        self.defs = {}   # name -> (block label, index; -1 for a block parameter)
        for block in self.version.blocks:
            for name, _ in block.params:
                self.define(name, block.label, -1)
            for i, instr in enumerate(block.instrs):
                for name in instr.results:
                    self.define(name, block.label, i)
        for block, i, instr in self.instrs():
            for operand in instr.value_operands():
                if isinstance(operand, Var) and operand.name not in self.defs:
                    self.fail(f"use of undefined %{operand.name}", block.label, i)

    def define(self, name, label, index):
        if index >= 0:
            _check_name(name, "result name", func=self.version.func,
                        version=self.version.name, block=label, index=index)
        else:
            _check_name(name, "parameter name", func=self.version.func,
                        version=self.version.name, block=label)
        if name in self.defs:
            first = self.defs[name]
            where = "a parameter of" if first[1] < 0 else f"instruction {first[1]} of"
            self.fail(f"%{name} is defined twice (first as {where} block %{first[0]})",
                      label, index if index >= 0 else None)
        self.defs[name] = (label, index)

    # 6, 10
    def check_symbols(self):
        for block in self.version.blocks:
            for name, ty in block.params:
                self.named(ty, f"parameter %{name}", block.label)
                if isinstance(ty, VoidType):
                    self.fail(f"parameter %{name} has type void", block.label)
        for block, i, instr in self.instrs():
            if instr.name is not None:
                _check_name(instr.name, "instruction name", func=self.version.func,
                            version=self.version.name, block=block.label, index=i)
            for spec, operand in zip(instr.opdef.syntax, instr.operands):
                if spec.kind in (Kind.TYPE, Kind.SIG):
                    self.named(operand, f"operand {spec.name!r}", block.label, i)
                elif spec.kind is Kind.TYPES2:
                    for ty in operand:
                        self.named(ty, f"operand {spec.name!r}", block.label, i)
                elif spec.kind is Kind.EXTERN and operand not in self.module.externs:
                    self.fail(f"CCALL of undeclared extern @{operand}", block.label, i)
            for operand in instr.value_operands():
                if isinstance(operand, Sym):
                    self.check_sym(operand.name, block.label, i)
            state = instr.state()
            while state is not None:
                _check_name(state.func, "frame-state function", func=self.version.func,
                            version=self.version.name, block=block.label, index=i)
                for name, _ in state.values:
                    _check_name(name, "frame-state variable", func=self.version.func,
                                version=self.version.name, block=block.label, index=i)
                state = state.parent

    def named(self, ty, what, label, index=None):
        try:
            _check_named(self.module, ty, what, self.known)
        except VerifyError as e:
            self.fail(e.message, label, index)

    def check_sym(self, name, label, index):
        _check_name(name, "symbol", func=self.version.func, version=self.version.name,
                    block=label, index=index)
        if name in self.module.externs:
            self.fail(f"@{name} is an extern, which is only reachable by CCALL, not a value",
                      label, index)
        if symbol_type(self.module, name) is None:
            self.fail(f"@{name} names no const, global or function", label, index)

    # 5, 9
    def check_types(self):
        for block, i, instr in self.instrs():
            where = (block.label, i)
            rtypes = tuple(instr.opdef.results(instr, self.ctx))
            if instr.results and len(instr.results) != len(rtypes):
                self.fail(f"names {len(instr.results)} results but {instr.op} defines "
                          f"{len(rtypes)}", *where)
            for spec, operand in zip(instr.opdef.syntax, instr.operands):
                checker = _OPERAND_CHECKS.get(spec.kind)
                if checker is not None:
                    checker(self, instr, spec, operand, where)

    def value_type(self, operand):
        """The type of a Var or Sym operand of this version (None for a literal)."""
        return None if isinstance(operand, Imm) else self.ctx.type_of(operand)

    def check_value(self, operand, expected, what, where, types=None):
        """A value operand has type `expected` (None: any type, but then no literal)."""
        if isinstance(operand, Imm):
            if expected is None:
                self.fail(f"{what}: a literal needs a position of known type", *where)
            if not literal_fits(expected, operand.value):
                self.fail(f"{what}: literal {operand.value!r} does not fit "
                          f"{_show(self.module, expected)}", *where)
            self.check_forgery(expected, operand.value, f"{what}: literal", where)
            return
        const = self.module.consts.get(operand.name) if isinstance(operand, Sym) else None
        if const is not None:
            self.check_forgery(const.type, const.value, f"{what}: constant @{const.name}", where)
        actual = self.value_type(operand) if types is None else types
        if actual is None:
            self.fail(f"{what}: {_text(operand)} has no type", *where)
        if expected is not None and actual != expected:
            self.fail(f"{what}: {_text(operand)} has type {_show(self.module, actual)}, "
                      f"expected {_show(self.module, expected)}", *where)

    def check_value_operand(self, instr, spec, operand, where):
        what = f"operand {spec.name!r}"
        if spec.expect is base_type:
            if isinstance(operand, Imm):
                self.fail(f"{what}: a literal cannot be a memory base", *where)
            actual = self.value_type(operand)
            if not isinstance(actual, (RefType, PtrType)):
                self.fail(f"{what}: memory base has type {_show(self.module, actual)}, "
                          f"expected ref or ptr", *where)
            return
        self.check_value(operand, spec.expect(instr, self.ctx), what, where)

    def check_values_operand(self, instr, spec, operand, where):
        expected = VALUES_RULES[(instr.op, spec.name)](instr, self.ctx)
        if len(operand) != len(expected):
            self.fail(f"operand {spec.name!r}: {len(operand)} values, expected "
                      f"{len(expected)}", *where)
        for k, (value, ty) in enumerate(zip(operand, expected)):
            self.check_value(value, ty, f"operand {spec.name!r} value {k}", where)

    def check_keepalive(self, instr, spec, operand, where):
        for value in operand:
            self.check_value(value, None, "keep-alive", where)

    def check_dest_operand(self, instr, spec, dest, where):
        extra = EXTRA_DEST_PARAMS.get((instr.op, spec.name))
        self.check_dest(dest, () if extra is None else tuple(extra(instr, self.ctx)),
                        f"operand {spec.name!r}", where)

    def check_dest(self, dest, extra, what, where):
        params = [ty for _, ty in self.version.block(dest.label).params]
        expected = params[:len(params) - len(extra)] if extra else params
        if extra and tuple(params[len(params) - len(extra):]) != tuple(extra):
            self.fail(f"{what}: %{dest.label} must take a last parameter of type "
                      f"{_show(self.module, extra[-1])} for the trap's value", *where)
        if len(dest.args) != len(expected):
            self.fail(f"{what}: %{dest.label} takes {len(expected)} arguments, "
                      f"given {len(dest.args)}", *where)
        for k, (arg, ty) in enumerate(zip(dest.args, expected)):
            self.check_value(arg, ty, f"{what}: argument {k} to %{dest.label}", where)

    def check_cases(self, instr, spec, cases, where):
        ty, seen = instr.arg("type"), set()
        for key, dest in cases:
            if key in seen:
                self.fail(f"duplicate SWITCH case {key}", *where)
            seen.add(key)
            if not literal_fits(ty, key):
                self.fail(f"SWITCH case {key} does not fit {_show(self.module, ty)}", *where)
            self.check_dest(dest, (), f"case {key}", where)

    def check_type_operand(self, instr, spec, ty, where):
        test, text = TYPE_RULES[instr.op]
        if not test(ty):
            self.fail(f"{instr.op} works on {text}, not {_show(self.module, ty)}", *where)

    def check_conversion(self, instr, spec, pair, where):
        test, text = CONVERSIONS[instr.op]
        if not test(*pair):
            self.fail(f"{instr.op} converts {text}, not {_show(self.module, pair[0])} to "
                      f"{_show(self.module, pair[1])}", *where)

    # 11, 12
    def check_safety(self):
        for block, i, instr in self.instrs():
            if instr.opdef.has(Flag.UNSAFE):
                self.unsafe(f"{instr.op} forges a reference from any word", (block.label, i))
            if instr.opdef.has(Flag.MEMORY):
                self.check_access(instr, (block.label, i))

    def check_access(self, instr, where):
        """A LOAD/STORE: of a global, inside its cell (12), as the global's type, or as plain
        data read from any global or written to a plain one; through anything else, only in
        an UNSAFE version (11)."""
        ty, base, offset = instr.arg("type"), instr.arg("base"), instr.arg("offset")
        glob = self.module.globals.get(base.name) if isinstance(base, Sym) else None
        if glob is None:
            self.unsafe(f"{instr.op} through {_text(base)}: a ref or ptr may be null, forged "
                        f"or walked past its object", where)
            return
        width = byte_width(ty)
        if offset < 0 or offset + width > byte_width(glob.type) or offset % width:
            self.fail(f"{instr.op} of {width} byte(s) at offset {offset} is outside global "
                      f"@{glob.name} ({byte_width(glob.type)} bytes of "
                      f"{_show(self.module, glob.type)}) or misaligned", *where)
        if isinstance(ty, FuncRefType):
            self.unsafe(f"{instr.op} of a funcref: memory holds no checked function "
                        f"reference", where)
        elif ty != glob.type and not (is_plain_data(ty) and (
                instr.op == "LOAD" or is_plain_data(glob.type))):
            self.unsafe(f"{instr.op} of {_show(self.module, ty)} at global @{glob.name} of "
                        f"type {_show(self.module, glob.type)} reinterprets a word as a "
                        f"reference or pointer", where)

    def check_forgery(self, ty, value, what, where):
        """A literal or constant of ptr type, or a tagref64 one that is a boxed reference,
        forges a pointer (11)."""
        if isinstance(ty, PtrType):
            self.unsafe(f"{what} {value!r} forges a raw pointer", where)
        elif (isinstance(ty, TagRef64Type) and isinstance(value, int)
              and tagref.is_ref(value & 0xFFFF_FFFF_FFFF_FFFF)):
            self.unsafe(f"{what} {value & 0xFFFF_FFFF_FFFF_FFFF:#x} forges a heap reference",
                        where)

    def unsafe(self, reason, where):
        """Rule 11: only a version marked UNSAFE may use an unsafe operation."""
        if not self.version.unsafe:
            self.fail(f"{reason}; only a version marked UNSAFE may do that", *where)

    def check_int_operand(self, instr, spec, value, where):
        if not -(1 << 63) <= value < (1 << 63):
            self.fail(f"operand {spec.name!r}: {value} does not fit int<64>", *where)

    # 4
    def check_dominance(self):
        order, idom = dominators_in_order(self.version)
        reached = set(order)
        for block, i, instr in self.instrs():
            if block.label not in reached:
                continue   # unreachable
            for operand in instr.value_operands():
                if not isinstance(operand, Var):
                    continue
                label, index = self.defs[operand.name]
                ok = (index < i) if label == block.label else \
                    dominates(label, block.label, idom)
                if not ok:
                    site = "a parameter of" if index < 0 else f"instruction {index} of"
                    self.fail(f"use of %{operand.name} is not dominated by its definition "
                              f"({site} block %{label})", block.label, i)

    # 7
    def check_states(self):
        for block, i, instr in self.instrs():
            state = instr.state()
            if state is not None:
                where = (block.label, i)
                waiting = instr if instr.op in WAITING_STATE_OPS else None
                child = None
                for frame in state.chain():   # a loop: chains may be thousands deep
                    child = self.check_state(frame, where, child,
                                             waiting if child is None else None)
                if child.sig.results != self.func.sig.results:
                    self.fail(f"the outermost frame state resumes @{child.name}, which returns "
                              f"{_show(self.module, child.sig)}, in place of this frame of "
                              f"@{self.func.name}, which returns "
                              f"{_show(self.module, self.func.sig)}", *where)
                if instr.op == "DEOPT":
                    self.check_progress(state, where)
                elif instr.op == "GUARD":
                    self.check_guard_progress(state, where)

    def restarts(self, instr) -> bool:
        """Whether `instr` is a CCALL of an inline cache whose frame state resumes before
        the operation (ir/inline_caches.py: `restarts`), handing no result over."""
        if instr.op != "CCALL":
            return False
        extern = self.module.externs.get(instr.arg("callee"))
        kind = IC_KINDS.get(extern.ic) if extern is not None and extern.ic else None
        return kind is not None and kind.restarts

    def check_state(self, state, where, child, waiting=None):
        """One frame of a state (`child`: the function of the frame inside it, None for the
        innermost); returns the frame's function."""
        role = "frame state" if child is None else "parent frame state"
        func = self.module.functions.get(state.func)
        if func is None:
            self.fail(f"{role} names unknown function @{state.func}", *where)
        target = next((v for v in func.versions if v.name == state.version), None)
        if target is None:
            self.fail(f"{role} names unknown @{state.func} VERSION %{state.version}", *where)
        block = next((b for b in target.blocks if b.label == state.block), None)
        if block is None:
            self.fail(f"{role} names unknown block %{state.block} of @{state.func} "
                      f"VERSION %{state.version}", *where)
        if not isinstance(state.index, int) or not 0 <= state.index < len(block.instrs):
            self.fail(f"{role} index {state.index} is outside block %{state.block} "
                      f"({len(block.instrs)} instructions)", *where)
        live_in, tctx = self.target_facts(target, where)
        if waiting is not None:
            there = block.instrs[state.index]
            handed = () if self.restarts(waiting) else waiting.results
            if WAITING_STATE_OPS.get(there.op) != WAITING_STATE_OPS[waiting.op] and \
                    not _profiles_in_place_of(waiting, handed, there):
                self.fail(f"{role} of a {waiting.op} resumes at {there.op}, not at a "
                          f"matching {waiting.op}", *where)
            if len(there.results) != len(handed):
                self.fail(f"{role}: %{state.block} {state.index} defines "
                          f"{len(there.results)} results, the {waiting.op} "
                          f"{len(handed)}", *where)
            live = waiting_live(target, block.label, state.index, live_in)
        elif child is None:
            live = live_at(target, block.label, state.index, live_in)
        else:
            call = block.instrs[state.index]
            if call.op == "CCALL":
                sig = self.module.externs[call.arg("callee")].sig
            elif call.opdef.has(Flag.CALL):
                sig = call.arg("sig")
            else:
                self.fail(f"{role} resumes at {call.op}, not a CALL, PATCHPOINT or CCALL",
                          *where)
            if tuple(sig.results) != tuple(child.sig.results):
                self.fail(f"{role}: the call at %{state.block} {state.index} returns "
                          f"{_show(self.module, sig)} but the inlined @{child.name} "
                          f"returns {_show(self.module, child.sig)}", *where)
            live = live_at(target, block.label, state.index + 1, live_in) - set(call.results)
        names = [name for name, _ in state.values]
        for name in names:
            if names.count(name) > 1:
                self.fail(f"{role} gives %{name} twice", *where)
        missing, extra = sorted(live - set(names)), sorted(set(names) - live)
        if missing or extra:
            self.fail(f"{role} for @{state.func} VERSION %{state.version} %{state.block} "
                      f"{state.index} must give exactly the live variables "
                      f"{_names(live)}; missing {_names(missing)}, not live {_names(extra)}",
                      *where)
        for name, operand in state.values:
            self.check_value(operand, tctx.types.get(name), f"{role} value %{name}", where)
        return func

    def check_guard_progress(self, state, where):
        """A GUARD must not resume at itself with the values it has: failing once, it would
        fail there again forever."""
        if ((state.func, state.version, state.block, state.index)
                == (self.version.func, self.version.name, *where)
                and all(operand == Var(name) for name, operand in state.values)):
            self.fail("the frame state resumes at this GUARD with the same values: failing, "
                      "it would deoptimize forever", *where)

    def check_progress(self, state, where):
        """A DEOPT must not resume where it comes straight back to itself (through pure
        instructions, branches and DEOPTs): that deoptimizes forever."""
        here = (self.version.func, self.version.name, *where)
        seen = {here}
        while True:
            target = self.module.version(state.func, state.version)
            label, index, visited = state.block, state.index, set()
            while True:
                block = next((b for b in target.blocks if b.label == label), None)
                if block is None or index >= len(block.instrs):
                    return   # a malformed target: its own verification says how
                instr = block.instrs[index]
                if instr.opdef.has(Flag.PURE):
                    index += 1
                elif instr.op == "BRANCH" and label not in visited:
                    visited.add(label)
                    label, index = instr.arg("dest").label, 0
                else:
                    break
            spot = (state.func, state.version, label, index)
            if spot == here:
                self.fail(f"the frame state resumes at @{state.func} VERSION %{state.version} "
                          f"%{state.block} {state.index}, which leads straight back to this "
                          f"{instr.op}: it would deoptimize forever", *where)
            if instr.op != "DEOPT" or spot in seen:
                return
            seen.add(spot)
            state = instr.arg("state")


    def target_facts(self, target, where):
        """Liveness and value types of a version a frame state resumes in (cached)."""
        key = id(target)
        if key not in self._targets:
            try:
                self._targets[key] = (liveness(target), value_types(self.module, target))
            except (KeyError, LookupError, AttributeError) as e:
                self.fail(f"frame state target @{target.func} VERSION %{target.name} is "
                          f"malformed ({e})", *where)
        return self._targets[key]


# Instructions whose optional state waits for their result, by the class they resume at.
WAITING_STATE_OPS = {"CALL": "call", "PATCHPOINT": "call", "CCALL": "call", "TRAP": "trap"}


def _profiles_in_place_of(call, handed, there) -> bool:
    """A CCALL handing no result over may wait at a PROFILE: compiled code that records a
    profile by calling the runtime where the resumed version has the PROFILE, or that
    runs an operation again on resuming (a restarting inline cache), resumes after it."""
    return call.op == "CCALL" and not handed and there.op == "PROFILE"

_OPERAND_CHECKS = {
    Kind.VALUE: _VersionChecker.check_value_operand,
    Kind.VALUES: _VersionChecker.check_values_operand,
    Kind.KEEPALIVE: _VersionChecker.check_keepalive,
    Kind.DEST: _VersionChecker.check_dest_operand,
    Kind.CASES: _VersionChecker.check_cases,
    Kind.TYPE: _VersionChecker.check_type_operand,
    Kind.TYPES2: _VersionChecker.check_conversion,
    Kind.INT: _VersionChecker.check_int_operand,
}


def _text(operand) -> str:
    return f"%{operand.name}" if isinstance(operand, Var) else f"@{operand.name}"


def _names(names) -> str:
    return "(" + " ".join(f"%{n}" for n in sorted(names)) + ")"


__all__ = ["VerifyError", "verify_module", "verify_version", "check_table",
           "literal_fits", "is_type", "TYPE_RULES", "CONVERSIONS", "VALUES_RULES",
           "EXTRA_DEST_PARAMS"]
