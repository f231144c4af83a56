"""Compile-time scopes for the Lox parser: clox's Compiler struct and its name resolution.

clox resolves names in the same pass as it parses, and its resolution errors go through the
same panic-mode reporter as its syntax errors; both their order and which of them are
suppressed depend on that interleaving.  So the parser drives these scopes step by step
(declare, mark initialized, resolve) at exactly the points clox's compiler.c does, and every
error is reported through the parser's `report` callback.

A `FunctionScope` mirrors one clox `Compiler`: the stack of locals currently in scope
(`live`, with the block depth each was declared at, -1 until its initializer is done), the
current block depth, and the `FunctionNode` whose `locals` and `upvalues` it fills in.
Where clox searches those arrays linearly, tables keyed by name find the same answers in
constant time: `named` (each name's live locals, innermost last), `declared` (the names
declared in each open block) and `upvalue_index`.  clox's one-byte limits apply (bytecode.py):
past 256 locals or upvalues the error is reported and, as in clox, the local or upvalue is
not added.  `chunk` follows the size of the function's bytecode (see bytecode.py).
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
from offramp.lox.bytecode import (
    MAX_LOCALS,
    MAX_UPVALUES,
    TOO_MANY_LOCALS,
    TOO_MANY_UPVALUES,
    Chunk,
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
    chunk: Chunk = field(default_factory=Chunk)

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
        """Push a new, not yet initialized local named `name`; past MAX_LOCALS report it, and
        return a local that is not in scope (clox goes on without it)."""
        local = Local(name, self.node, index=len(self.node.locals), slot=len(self.live))
        if len(self.live) == MAX_LOCALS:
            self.report(TOO_MANY_LOCALS)
            return local
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
        if len(self.live) < MAX_LOCALS:
            self.declared[-1].add(name)
        return self.add_local(name)

    def mark_initialized(self) -> None:
        """Make the newest local readable: its initializer (or function name binding) is done.

        After a local could not be added (MAX_LOCALS), the newest local is an older one, maybe
        of an enclosing block: clox moves it into this block, so it ends with it."""
        if self.depth == 0:
            return
        newest = self.live[-1]
        if newest.depth not in (UNINITIALIZED, self.depth):
            if newest.depth > 0:
                self.declared[newest.depth - 1].discard(newest.local.name)
            self.declared[-1].add(newest.local.name)
        newest.depth = self.depth

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
        """Index of the upvalue (is_local, index), added unless this function already has it;
        past MAX_UPVALUES report it and use upvalue 0 (as clox does)."""
        position = self.upvalue_index.get((is_local, index))
        if position is None and len(self.node.upvalues) == MAX_UPVALUES:
            self.report(TOO_MANY_UPVALUES)
            return 0
        if position is None:
            position = self.upvalue_index[(is_local, index)] = len(self.node.upvalues)
            self.node.upvalues.append(UpvalueRef(is_local, index, local))
        return position


@dataclass(slots=True)
class ClassScope:
    """The class being parsed, for `this` and `super` checks; `enclosing` for nested classes."""

    enclosing: ClassScope | None
    has_superclass: bool = False
