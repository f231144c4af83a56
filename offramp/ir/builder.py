"""Building IR from Python: modules with named types, and versions block by block.

Clients (the Lox compiler, tests) build IR here rather than by printing text.  Every
instruction goes through `Instr`'s check against the instruction table, and every fresh
SSA name is unique within its version.
"""
from contextlib import contextmanager

from .nodes import (Block, ConstDef, Dest, ExternDef, Function, FunctionVersion, GlobalDef,
                    Imm, Instr, Module, Sym, Var)
from .ops import Flag
from .types import FuncSig


class ModuleBuilder:
    """Adds named entities to a Module, reusing a type's name when it has one."""

    def __init__(self, module: Module | None = None):
        self.module = module if module is not None else Module()

    def typedef(self, name: str, ty):
        """Name a type (or signature); returns the type."""
        existing = self.module.types.get(name)
        if existing is not None and existing != ty:
            raise ValueError(f"@{name} is already defined as {existing}")
        self.module.types[name] = ty
        return ty

    def funcsig(self, name: str, params, results) -> FuncSig:
        """Name a signature built from parameter and result types (all already named)."""
        return self.typedef(name, FuncSig(tuple(params), tuple(results)))

    def const(self, name: str, ty, value) -> Sym:
        self.module.consts[name] = ConstDef(name, ty, value)
        return Sym(name)

    def global_cell(self, name: str, ty) -> Sym:
        self.module.globals[name] = GlobalDef(name, ty)
        return Sym(name)

    def extern(self, name: str, sig: FuncSig, pure: bool = False, ic: str = "") -> str:
        self.module.externs[name] = ExternDef(name, sig, pure, ic)
        return name

    def function(self, name: str, sig: FuncSig) -> Function:
        """Declare a function (or return the existing declaration)."""
        func = self.module.functions.get(name)
        if func is None:
            func = self.module.functions[name] = Function(name, sig)
        elif func.sig != sig:
            raise ValueError(f"@{name} is declared with another signature")
        return func

    def version(self, func_name: str, version_name: str,
                unsafe: bool = False) -> "VersionBuilder":
        """Start a new version of a declared function; it becomes current when added.
        `unsafe`: it may use the unsafe operations of `ops` (the verifier insists)."""
        func = self.module.functions[func_name]
        version = FunctionVersion(func_name, version_name, unsafe=unsafe)
        func.versions.append(version)
        return VersionBuilder(version)


class VersionBuilder:
    """Appends blocks and instructions to one function version."""

    def __init__(self, version: FunctionVersion):
        self.version = version
        self.block: Block | None = None
        self._counter = 0
        self.line: int | None = None
        # fn(block, index), called for every instruction appended: what a client records
        # per instruction (the Lox codegen: the source variables in scope there).
        self.on_emit = None

    def fresh(self, hint: str = "t") -> str:
        """A new SSA name."""
        self._counter += 1
        return f"{hint}{self._counter}"

    def new_block(self, label: str | None = None, params=()) -> Block:
        """Create a block (not yet current) with typed parameters [(name, Type)]."""
        block = Block(label or self.fresh("b"), list(params))
        self.version.blocks.append(block)
        return block

    def position_at_end(self, block: Block) -> None:
        self.block = block

    @property
    def terminated(self) -> bool:
        """Whether the current block already ends in a terminator."""
        return bool(self.block.instrs) and self.block.instrs[-1].opdef.has(Flag.TERMINATOR)

    def emit(self, op: str, *operands, results: int | tuple = 0, name: str | None = None):
        """Append an instruction; returns its result Var, a tuple of Vars, or None."""
        if isinstance(results, int):
            results = tuple(self.fresh() for _ in range(results))
        instr = Instr(op, tuple(operands), tuple(results), name, self.line)
        self.block.instrs.append(instr)
        if self.on_emit is not None:
            self.on_emit(self.block, len(self.block.instrs) - 1)
        if not results:
            return None
        vars_ = tuple(Var(r) for r in results)
        return vars_[0] if len(vars_) == 1 else vars_

    def value(self, op: str, *operands, name: str | None = None) -> Var:
        """Append an instruction with exactly one result."""
        return self.emit(op, *operands, results=1, name=name)

    @contextmanager
    def at_line(self, line: int | None):
        """Attribute the instructions emitted inside to a source line."""
        saved, self.line = self.line, line
        try:
            yield
        finally:
            self.line = saved


def dest(block_or_label, *args) -> Dest:
    """A branch target with arguments (Python numbers become literals)."""
    label = block_or_label if isinstance(block_or_label, str) else block_or_label.label
    return Dest(label, tuple(literal(a) for a in args))


def literal(x):
    """Operands pass through; Python numbers become Imm literals."""
    return Imm(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else x
