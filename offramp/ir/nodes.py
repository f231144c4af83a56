"""IR entities: modules, functions, versions, blocks, instructions, operands, frame states.

A Module holds named types and signatures, constants, globals, externs (runtime helpers
reached by CCALL) and functions.  A Function has a signature and one or more versions; calls
go to the current (last) version while a running frame keeps the version it started in.
A version is a list of blocks in SSA form with block parameters instead of phi nodes.

Instructions are one generic node whose operands follow the syntax row of their opcode in
`ops.OPS`: the table, not per-class fields, says what each position means, and the
constructor checks every operand against it so a malformed instruction cannot be built.
"""
import math
import struct
from dataclasses import dataclass, field

from .types import FuncSig

_DOUBLE = struct.Struct("<d")


@dataclass(frozen=True, slots=True)
class Var:
    """An SSA value of the enclosing version (`%name`)."""

    name: str


@dataclass(frozen=True, slots=True)
class Sym:
    """A module-level entity (`@name`): a constant, a global's address, or a function."""

    name: str


@dataclass(frozen=True, slots=True)
class Imm:
    """A literal whose type is that of its position (int or float in the text)."""

    value: int | float

    def __eq__(self, other):
        """Literals compare by type and bits, so that 0.0 != -0.0 and nan == nan round-trip;
        NaNs compare by sign only (the text keeps a NaN's sign, not its payload)."""
        if not isinstance(other, Imm) or type(self.value) is not type(other.value):
            return False
        if isinstance(self.value, float):
            return _float_key(self.value) == _float_key(other.value)
        return self.value == other.value

    def __hash__(self):
        if isinstance(self.value, float):
            return hash((float, _float_key(self.value)))
        return hash((type(self.value), self.value))


def _float_key(value: float):
    """What tells two float literals apart: their bits, or a NaN's sign."""
    if value != value:
        return ("nan", math.copysign(1.0, value))
    return _DOUBLE.pack(value)


Operand = Var | Sym | Imm


@dataclass(frozen=True, slots=True)
class Dest:
    """A branch target: a block label and the arguments bound to its parameters."""

    label: str
    args: tuple = ()


@dataclass(frozen=True, slots=True)
class FrameState:
    """The abstract state to resume in: version, resume point, live values, caller's state.

    `block`/`index` name the resume point in `func`'s version `version`.  For the innermost
    frame it is the next instruction to execute; for a parent (the caller of inlined code) it
    is the CALL whose result is pending, and resuming binds the callee's result to it.
    `values` pairs each live variable of that version with an operand of the version that
    holds this state.
    """

    func: str
    version: str
    block: str
    index: int
    values: tuple = ()
    parent: "FrameState | None" = None

    def _own(self) -> tuple:
        return (self.func, self.version, self.block, self.index, self.values)

    def __eq__(self, other):
        """Field by field down the parent chain, in a loop (no recursion per frame)."""
        if not isinstance(other, FrameState):
            return NotImplemented
        a, b = self, other
        while a is not None and b is not None:
            if a is b:
                return True
            if a._own() != b._own():
                return False
            a, b = a.parent, b.parent
        return a is None and b is None

    def __hash__(self):
        return hash(tuple(state._own() for state in self.chain()))

    def depth(self) -> int:
        """The number of frames this state rebuilds (a loop: chains may be thousands deep)."""
        return sum(1 for _ in self.chain())

    def chain(self):
        """This state and its parents, innermost first."""
        state = self
        while state is not None:
            yield state
            state = state.parent

    def operands(self) -> list:
        """Every operand read by this state and its parents."""
        return [value for state in self.chain() for _, value in state.values]


_OPS_MODULE = []


def _ops():
    """The instruction table's module (imported on first use: it imports this module)."""
    if not _OPS_MODULE:
        from . import ops
        _OPS_MODULE.append(ops)
    return _OPS_MODULE[0]


@dataclass(frozen=True, slots=True)
class Instr:
    """One instruction: opcode, defined SSA names, operands in the order of its syntax row."""

    op: str
    operands: tuple = ()
    results: tuple = ()
    name: str | None = None
    line: int | None = None
    opdef: object = field(default=None, init=False, repr=False, compare=False)
    """The table row that says what this instruction is (looked up once, when built)."""

    def __post_init__(self):
        ops = _ops()
        opdef = ops.OPS.get(self.op)
        if opdef is None:
            raise ValueError(f"unknown instruction {self.op!r}")
        ops.check_operands(opdef, self.operands)
        object.__setattr__(self, "opdef", opdef)

    def renamed(self, operands: tuple | None = None, results: tuple | None = None) -> "Instr":
        """This instruction with operands and/or results replaced, without checking them
        again: for passes that substitute values for values and names for names, so every
        position keeps its kind (checking each rebuilt instruction was a third of the
        optimizer's time)."""
        new = object.__new__(Instr)
        object.__setattr__(new, "op", self.op)
        object.__setattr__(new, "operands", self.operands if operands is None else operands)
        object.__setattr__(new, "results", self.results if results is None else results)
        object.__setattr__(new, "name", self.name)
        object.__setattr__(new, "line", self.line)
        object.__setattr__(new, "opdef", self.opdef)
        return new

    def at_line(self, line: int | None) -> "Instr":
        """This instruction attributed to source line `line`."""
        new = self.renamed()
        object.__setattr__(new, "line", line)
        return new

    def arg(self, name: str):
        """The operand in the position the table names `name`."""
        return self.operands[self.opdef.positions[name]]

    def value_operands(self) -> list:
        """Every value operand read, including keep-alives and frame-state values."""
        ops = _OPS_MODULE[0] if _OPS_MODULE else _ops()
        operands = self.operands
        plain = ops.PLAIN_READS.get(self.op)
        if plain is not None:
            return [operands[i] for i in plain]
        Kind = ops.Kind
        out = []
        for i, kind in ops.READ_POSITIONS[self.op]:
            operand = operands[i]
            if kind is Kind.VALUE:
                out.append(operand)
            elif kind is Kind.VALUES or kind is Kind.KEEPALIVE:
                out.extend(operand)
            elif kind is Kind.DEST:
                out.extend(operand.args)
            elif kind is Kind.CASES:
                for _, dest in operand:
                    out.extend(dest.args)
            elif operand is not None:
                out.extend(operand.operands())
        return out

    def dests(self) -> list:
        """The branch targets of a terminator, in syntax order."""
        out = []
        operands = self.operands
        for i, cases in self.opdef.dest_positions:
            if cases:
                out.extend(dest for _, dest in operands[i])
            else:
                out.append(operands[i])
        return out

    def state(self):
        """The frame state this instruction carries, if any."""
        i = self.opdef.state_position
        return None if i is None else self.operands[i]


@dataclass(slots=True)
class Block:
    """A basic block: a label, typed parameters, instructions ending in one terminator."""

    label: str
    params: list = field(default_factory=list)   # [(name, Type)]
    instrs: list = field(default_factory=list)


@dataclass(slots=True)
class FunctionVersion:
    """One body of a function; blocks[0] is the entry, whose parameters are the arguments.

    `unsafe` marks a version allowed to use the unsafe operations of `ops` (forging
    references or raw pointers, memory access through them): written `UNSAFE` in its
    `.funcdef` header, required by the verifier wherever one is used.
    `assumptions` are the keys of what the version takes for granted without checking
    (runtime/assumptions.py): such a version runs only as native code, whose frames the
    VM can make leave it when one breaks.  They are the runtime's (client objects), not
    part of the IR's meaning: the text format does not carry them, equality ignores them.
    `replays` are the GUARD and DEOPT instructions (by value) whose frame state is an
    earlier guard's (opt/states.py: a deopt there replays from the last valid state); the
    native tier counts their deopts (`--stats`).  Like `assumptions`, not printed and
    not compared.
    `native_only` marks a version the interpreter cannot run (it loads a funcref from a
    call record: inline_caches.py, kind `invoke`); like `assumptions`, not carried by the
    text format.
    """

    func: str
    name: str
    blocks: list = field(default_factory=list)
    unsafe: bool = False
    assumptions: frozenset = field(default=frozenset(), compare=False)
    replays: frozenset = field(default=frozenset(), compare=False)
    native_only: bool = field(default=False, compare=False)
    # label -> position in `blocks`, rebuilt when a block has moved (labels are unique, so
    # a block found at its recorded position is the one): `block()` in constant time.
    _positions: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def block(self, label: str) -> Block:
        """The block labelled `label` (KeyError if none)."""
        blocks = self.blocks
        k = self._positions.get(label, -1)
        if 0 <= k < len(blocks) and blocks[k].label == label:
            return blocks[k]
        self._positions = {b.label: k for k, b in enumerate(blocks)}
        k = self._positions.get(label)
        if k is not None:
            return blocks[k]
        raise KeyError(f"no block %{label} in @{self.func} VERSION %{self.name}")


@dataclass(slots=True)
class Function:
    """A function: a signature and its versions, the last one being current."""

    name: str
    sig: FuncSig
    versions: list = field(default_factory=list)

    @property
    def current(self) -> FunctionVersion:
        """The version new calls enter."""
        if not self.versions:
            raise LookupError(f"@{self.name} is declared but has no version")
        return self.versions[-1]

    @property
    def interpretable(self) -> FunctionVersion:
        """The version the interpreter runs for new calls: the newest that relies on no
        assumption (nothing could make an interpreter frame leave one that broke) and
        that it can run (not native-only)."""
        for version in reversed(self.versions):
            if not version.assumptions and not version.native_only:
                return version
        return self.current

    def version(self, name: str) -> FunctionVersion:
        """The version called `name`."""
        for v in self.versions:
            if v.name == name:
                return v
        raise KeyError(f"@{self.name} has no VERSION %{name}")


@dataclass(frozen=True, slots=True)
class ConstDef:
    """A named constant: `.const @name <@T> = literal`."""

    name: str
    type: object
    value: int | float

    def __eq__(self, other):
        """The value compares like an Imm (by type and bits), so nan and -0.0 round-trip."""
        return (isinstance(other, ConstDef) and self.name == other.name
                and self.type == other.type and Imm(self.value) == Imm(other.value))

    def __hash__(self):
        return hash((self.name, self.type, Imm(self.value)))


@dataclass(frozen=True, slots=True)
class GlobalDef:
    """A named global cell: `.global @name <@T>`; as an operand it is the cell's address."""

    name: str
    type: object


@dataclass(frozen=True, slots=True)
class ExternDef:
    """A runtime helper reachable by CCALL: `.extern @name <@sig>` (PURE: no effects;
    IC KIND: native code caches it, inline_caches.py)."""

    name: str
    sig: FuncSig
    pure: bool = False
    ic: str = ""


@dataclass(slots=True)
class Module:
    """A compilation unit: every named entity, in definition order (dicts keep order)."""

    types: dict = field(default_factory=dict)      # name -> Type or FuncSig
    consts: dict = field(default_factory=dict)     # name -> ConstDef
    globals: dict = field(default_factory=dict)    # name -> GlobalDef
    externs: dict = field(default_factory=dict)    # name -> ExternDef
    functions: dict = field(default_factory=dict)  # name -> Function
    positions: dict = field(default_factory=dict, compare=False, repr=False)
    """Where the parser read things, for messages: (func, version) -> (line, column) of the
    `.funcdef`, (func, version, block, index) -> (line, column) of an instruction."""

    def type_name(self, ty) -> str:
        """The first name under which `ty` (a type or signature) is defined."""
        for name, t in self.types.items():
            if t == ty:
                return name
        raise KeyError(f"type {ty} has no .typedef/.funcsig in this module")

    def symbol(self, name: str):
        """The constant, global, function or extern called `name` (KeyError if none)."""
        for table in (self.consts, self.globals, self.functions, self.externs):
            if name in table:
                return table[name]
        raise KeyError(f"no entity @{name}")

    def version(self, func: str, version: str) -> FunctionVersion:
        """The version `version` of function `func`."""
        return self.functions[func].version(version)
