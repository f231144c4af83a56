"""Compile-time scopes for the Lox parser: clox's Compiler struct and its name resolution.

clox resolves names in the same pass as it parses, and its resolution errors go through the
same panic-mode reporter as its syntax errors; both their order and which of them are
suppressed depend on that interleaving.  So the parser drives these scopes step by step
(declare, mark initialized, resolve) at exactly the points clox's compiler.c does, and every
error is reported through the parser's `report` callback.

A `FunctionScope` mirrors one clox `Compiler`: the stack of locals currently in scope
(`live`, with the block depth each was declared at, -1 until its initializer is done), the
current block depth, and the `FunctionNode` whose `locals` and `upvalues` it fills in.
Where clox searches those arrays linearly (bounded by its 256-entry limits, which offramp
does not have), tables keyed by name find the same answers in constant time, so a block of
100,000 locals resolves in linear time: `named` (each name's live locals, innermost last),
`declared` (the names declared in each open block) and `upvalue_index`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from offramp.lox.ast import (
    Binding,
    FunctionNode,
    GlobalBinding,
    Local,
    LocalBinding,
    UpvalueBinding,
    UpvalueRef,
)

UNINITIALIZED = -1


@dataclass(slots=True)
class LiveLocal:
    """A local on the compile-time stack with the block depth it was declared at."""

    local: Local
    depth: int


@dataclass(slots=True)
class FunctionScope:
    """Scope state of one function being parsed; `enclosing` is the function around it."""

    node: FunctionNode
    enclosing: FunctionScope | None
    report: Callable[[str], None]
    live: list[LiveLocal] = field(default_factory=list)
    depth: int = 0
    named: dict[str, list[LiveLocal]] = field(default_factory=dict)
    declared: list[set[str]] = field(default_factory=list)
    upvalue_index: dict[tuple[bool, int], int] = field(default_factory=dict)

    def begin_scope(self) -> None:
        """Enter a block."""
        self.depth += 1
        self.declared.append(set())

    def end_scope(self) -> list[Local]:
        """Leave a block; return the locals declared in it, in declaration order."""
        self.depth -= 1
        self.declared.pop()
        ended = []
        while self.live and self.live[-1].depth > self.depth:
            live = self.live.pop()
            self.named[live.local.name].pop()
            ended.append(live.local)
        return ended[::-1]

    def add_local(self, name: str) -> Local:
        """Push a new, not yet initialized local named `name`."""
        local = Local(name, self.node, index=len(self.node.locals), slot=len(self.live))
        self.node.locals.append(local)
        live = LiveLocal(local, UNINITIALIZED)
        self.live.append(live)
        self.named.setdefault(name, []).append(live)
        return local

    def declare(self, name: str) -> Local | None:
        """Declare `name` in the current block (None at global scope, where names are late bound).

        (clox searches the block's locals; the only locals of this block are those declared
        in it, the uninitialized one included, so the block's set of names is the same test.)"""
        if self.depth == 0:
            return None
        if name in self.declared[-1]:
            self.report("Already a variable with this name in this scope.")
        self.declared[-1].add(name)
        return self.add_local(name)

    def mark_initialized(self) -> None:
        """Make the newest local readable: its initializer (or function name binding) is done."""
        if self.depth == 0:
            return
        self.live[-1].depth = self.depth

    def resolve(self, name: str) -> Binding:
        """Bind a reference to `name`: innermost local, else upvalue, else global."""
        local = self.resolve_local(name)
        if local is not None:
            return LocalBinding(local)
        index = self.resolve_upvalue(name)
        if index is not None:
            return UpvalueBinding(index, self.node.upvalues[index].local)
        return GlobalBinding(name)

    def resolve_local(self, name: str) -> Local | None:
        """The innermost live local named `name`, complaining if it is still uninitialized."""
        named = self.named.get(name)
        if not named:
            return None
        live = named[-1]
        if live.depth == UNINITIALIZED:
            self.report("Can't read local variable in its own initializer.")
        return live.local

    def resolve_upvalue(self, name: str) -> int | None:
        """Index of the upvalue reaching `name` in an enclosing function, capturing it on the way."""
        if self.enclosing is None:
            return None
        local = self.enclosing.resolve_local(name)
        if local is not None:
            local.captured = True
            return self.add_upvalue(True, local.index, local)
        index = self.enclosing.resolve_upvalue(name)
        if index is not None:
            return self.add_upvalue(False, index, self.enclosing.node.upvalues[index].local)
        return None

    def add_upvalue(self, is_local: bool, index: int, local: Local) -> int:
        """Index of the upvalue (is_local, index), added unless this function already has it."""
        position = self.upvalue_index.get((is_local, index))
        if position is None:
            position = self.upvalue_index[(is_local, index)] = len(self.node.upvalues)
            self.node.upvalues.append(UpvalueRef(is_local, index, local))
        return position


@dataclass(slots=True)
class ClassScope:
    """The class being parsed, for `this` and `super` checks; `enclosing` for nested classes."""

    enclosing: ClassScope | None
    has_superclass: bool = False
