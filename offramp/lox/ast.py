"""Lox syntax tree with resolution annotations: the contract between the front end and code generation.

The parser resolves every name while it parses (as clox's single-pass compiler does), so the
tree says where each variable lives and the code generator never looks names up itself:

- A `Local` is one declared local variable, parameter, receiver (`this`) or class `super` slot.
  Each belongs to one `FunctionNode` and appears once in its `locals`, in declaration order;
  `Local.index` is that position (unique in the function, never reused), `Local.slot` is the
  stack slot clox would give it (reused once its block ends).  `locals[0]` is clox's implicit
  slot zero: named "this" for methods and initializers (the receiver, not in `params`), named
  "" (never referenced) for functions, and "this" for the script as in clox (referenced only
  by programs with compile errors: `super` outside a class).  `captured` is True when an inner
  function closes over the local, so it must live in a heap box.
- A reference (`Variable`, `Assign`, `This`, `Super`) carries a binding: `LocalBinding`
  (a local of the current function), `UpvalueBinding` (an index into the current function's
  `upvalues`) or `GlobalBinding` (a global looked up by name at run time).
- `FunctionNode.upvalues` lists what a closure captures when it is created, deduplicated as
  clox does: `UpvalueRef(is_local=True, index=i)` captures the enclosing function's local
  `locals[i]`, `is_local=False` captures the enclosing function's `upvalues[index]`.
- Declarations (`Var`, `FunctionDecl`, `Class`) name their target: a `Local` or a
  `GlobalBinding`.  A `Block` is one scope: `Block.locals` are the locals declared directly
  in it (by its `Var`, `FunctionDecl` and `Class` statements), in declaration order; they end
  with it (captured ones must be closed).  A `Class` with a superclass opens its own scope
  holding only `super_local`, around its methods.
- `for` is desugared: `Block([init, While(cond, Block([body, ExpressionStmt(increment)]))])`
  (the init, the increment and the inner block are omitted when absent; a missing condition is
  `Literal(True)`).  The loop variable is one local shared by all iterations, as in clox.
- A bare `return;` in an initializer returns the receiver (`locals[0]`), as does falling off
  its end.

Line numbers: every expression's `line` is the line clox attributes a runtime error in that
operation to, i.e. the line of the last token consumed when clox emits the instruction:
the operator's right operand's last token for `Unary`/`Binary`, the closing ')' for `Call`,
the property name for `Get` and `Super`, the last token of the assigned value for `Set` and
`Assign`, the name for `Variable`.  When a `Call` wraps a `Get` or `Super` (clox's
OP_INVOKE / OP_SUPER_INVOKE), errors of the whole invocation, "Undefined property" included,
belong to the `Call`'s line.  "Superclass must be a class." belongs to `Class.superclass.line`.
Statements carry the line of their keyword (or '{'), an expression statement that of its
expression; no statement raises a runtime error of its own.
`FunctionNode.line` is the line of its name and `end_line` that of its closing '}' (EOF for
the script), where clox emits the implicit return.

`dump(node)` prints any node as an s-expression for debugging and tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum


class FunctionKind(StrEnum):
    """What a function body is; decides slot zero and what `return` may do."""

    SCRIPT = "script"
    FUNCTION = "function"
    METHOD = "method"
    INITIALIZER = "initializer"


@dataclass(slots=True, eq=False)
class Local:
    """One local variable of one function; compared by identity."""

    name: str
    function: FunctionNode = field(repr=False)
    index: int
    slot: int
    captured: bool = False


@dataclass(slots=True, frozen=True)
class LocalBinding:
    """A reference to a local of the function it occurs in."""

    local: Local


@dataclass(slots=True, frozen=True)
class UpvalueBinding:
    """A reference through the current function's `upvalues[index]` to an outer local."""

    index: int
    local: Local


@dataclass(slots=True, frozen=True)
class GlobalBinding:
    """A reference to (or declaration of) a global variable, looked up by name."""

    name: str


Binding = LocalBinding | UpvalueBinding | GlobalBinding


@dataclass(slots=True, frozen=True)
class UpvalueRef:
    """One captured variable of a closure: an enclosing local or an enclosing upvalue."""

    is_local: bool
    index: int
    local: Local


@dataclass(slots=True)
class Literal:
    """A constant: None for nil, a bool, a float or a str."""

    value: None | bool | float | str
    line: int


@dataclass(slots=True)
class Grouping:
    """A parenthesised expression (kept for faithful dumps; evaluates as `expr`)."""

    expr: Expr
    line: int


@dataclass(slots=True)
class Unary:
    """Negation '-' or logical not '!'."""

    op: str
    right: Expr
    line: int


@dataclass(slots=True)
class Binary:
    """An arithmetic or comparison operator: + - * / == != < <= > >=."""

    op: str
    left: Expr
    right: Expr
    line: int


@dataclass(slots=True)
class Logical:
    """Short-circuit 'and' / 'or', yielding the deciding operand's value."""

    op: str
    left: Expr
    right: Expr
    line: int


@dataclass(slots=True)
class Variable:
    """A read of a named variable."""

    name: str
    binding: Binding
    line: int


@dataclass(slots=True)
class Assign:
    """An assignment to a named variable; its value is the assigned value."""

    name: str
    value: Expr
    binding: Binding
    line: int


@dataclass(slots=True)
class Call:
    """A call; with a `Get` or `Super` callee it is a method invocation."""

    callee: Expr
    args: list[Expr]
    line: int


@dataclass(slots=True)
class Get:
    """A property read `obj.name`."""

    obj: Expr
    name: str
    line: int


@dataclass(slots=True)
class Set:
    """A property write `obj.name = value`; its value is the assigned value."""

    obj: Expr
    name: str
    value: Expr
    line: int


@dataclass(slots=True)
class This:
    """The receiver of the enclosing method."""

    binding: Binding
    line: int


@dataclass(slots=True)
class Super:
    """`super.method`: the superclass's method bound to the current receiver."""

    method: str
    binding_super: Binding
    binding_this: Binding
    line: int


Expr = Literal | Grouping | Unary | Binary | Logical | Variable | Assign | Call | Get | Set | This | Super


@dataclass(slots=True)
class ExpressionStmt:
    """An expression evaluated for its effect; the value is discarded."""

    expr: Expr
    line: int


@dataclass(slots=True)
class Print:
    """`print expr;`"""

    expr: Expr
    line: int


@dataclass(slots=True)
class Var:
    """A variable declaration; `initializer` None means nil."""

    target: Local | GlobalBinding
    initializer: Expr | None
    line: int


@dataclass(slots=True)
class Block:
    """A scope: its statements and the locals declared directly in it, which end with it."""

    statements: list[Stmt]
    line: int
    locals: list[Local] = field(default_factory=list)


@dataclass(slots=True)
class If:
    """`if (cond) then else else_`; `else_` None when absent."""

    cond: Expr
    then: Stmt
    else_: Stmt | None
    line: int


@dataclass(slots=True)
class While:
    """`while (cond) body` (also the core of a desugared `for`)."""

    cond: Expr
    body: Stmt
    line: int


@dataclass(slots=True)
class Return:
    """`return value;`; `value` None for a bare return."""

    value: Expr | None
    line: int


@dataclass(slots=True, eq=False)
class FunctionNode:
    """A function body: the script, a function, a method or an initializer; compared by identity."""

    name: str
    kind: FunctionKind
    params: list[Local]
    body: list[Stmt]
    upvalues: list[UpvalueRef]
    locals: list[Local]
    line: int
    end_line: int = 0


@dataclass(slots=True)
class FunctionDecl:
    """`fun name(...) {...}`: a closure over `function` stored in `target`."""

    function: FunctionNode
    target: Local | GlobalBinding
    line: int


@dataclass(slots=True)
class Class:
    """A class declaration; `super_local` holds the superclass for the methods' `super`."""

    name: str
    target: Local | GlobalBinding
    superclass: Variable | None
    methods: list[FunctionNode]
    super_local: Local | None
    line: int


Stmt = ExpressionStmt | Print | Var | Block | If | While | Return | FunctionDecl | Class


def dump(node: object, indent: int = 0) -> str:
    """Render a node (or binding, local, list of statements) as an s-expression."""
    if isinstance(node, list):
        return _lines(node, indent)
    return _DUMPERS[type(node)](node, indent)


def _lines(statements: list, indent: int) -> str:
    """Statements one per line, each indented by `indent` levels."""
    pad = "  " * indent
    return "\n".join(pad + dump(stmt, indent) for stmt in statements)


def _nested(head: str, statements: list, indent: int) -> str:
    """`(head` then the statements indented one more level, then `)`."""
    if not statements:
        return f"({head})"
    return f"({head}\n{_lines(statements, indent + 1)})"


def _sexp(*parts: object, indent: int = 0) -> str:
    """`(a b c)` where non-string parts are dumped."""
    return "(" + " ".join(p if isinstance(p, str) else dump(p, indent) for p in parts) + ")"


def _literal(node: Literal, indent: int) -> str:
    """nil, true/false, numbers without a needless '.0', strings quoted."""
    value = node.value
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return '"' + value + '"'


def _binding(binding: Binding, indent: int) -> str:
    """`local:i`, `upvalue:i` or `global`."""
    if isinstance(binding, LocalBinding):
        return f"local:{binding.local.index}"
    if isinstance(binding, UpvalueBinding):
        return f"upvalue:{binding.index}"
    return "global"


def _target(target: Local | GlobalBinding | None, indent: int = 0) -> str:
    """A declaration target as `name@local:i` or `name@global`."""
    if isinstance(target, Local):
        return f"{target.name}@local:{target.index}"
    if isinstance(target, GlobalBinding):
        return f"{target.name}@global"
    return "-"


def _local(local: Local, indent: int) -> str:
    """A local with its index, slot and a `*` when captured."""
    star = "*" if local.captured else ""
    return f"{local.name or '_'}{star}#{local.index}/{local.slot}"


def _upvalue(ref: UpvalueRef, indent: int) -> str:
    """`local:i` or `upvalue:i`, then the captured variable's name."""
    where = "local" if ref.is_local else "upvalue"
    return f"{where}:{ref.index}={ref.local.name}"


def _function(node: FunctionNode, indent: int) -> str:
    """Header with params, locals and upvalues, then the body."""
    params = " ".join(p.name for p in node.params)
    local_names = " ".join(_local(local, indent) for local in node.locals)
    upvalues = " ".join(_upvalue(ref, indent) for ref in node.upvalues)
    head = f"{node.kind} {node.name or '<script>'} (params {params}) (locals {local_names}) (upvalues {upvalues})"
    return _nested(head, node.body, indent)


def _class(node: Class, indent: int) -> str:
    """Class header with its target and superclass, then its methods."""
    superclass = dump(node.superclass) if node.superclass else "-"
    head = f"class {node.name} {_target(node.target)} < {superclass} super={_target(node.super_local)}"
    return _nested(head, node.methods, indent)


def _if(node: If, indent: int) -> str:
    """`(if cond then else)` with the branches as nested statements."""
    branches = [node.then] if node.else_ is None else [node.then, node.else_]
    return _nested(f"if {dump(node.cond)}", branches, indent)


_DUMPERS: dict[type, Callable[[object, int], str]] = {
    Literal: _literal,
    Grouping: lambda n, i: _sexp("group", n.expr),
    Unary: lambda n, i: _sexp(n.op, n.right),
    Binary: lambda n, i: _sexp(n.op, n.left, n.right),
    Logical: lambda n, i: _sexp(n.op, n.left, n.right),
    Variable: lambda n, i: f"{n.name}@{_binding(n.binding, i)}",
    Assign: lambda n, i: _sexp("=", f"{n.name}@{_binding(n.binding, i)}", n.value),
    Call: lambda n, i: _sexp("call", n.callee, *n.args),
    Get: lambda n, i: _sexp("get", n.obj, n.name),
    Set: lambda n, i: _sexp("set", n.obj, n.name, n.value),
    This: lambda n, i: f"this@{_binding(n.binding, i)}",
    Super: lambda n, i: _sexp("super", n.method, _binding(n.binding_super, i), _binding(n.binding_this, i)),
    ExpressionStmt: lambda n, i: _sexp("expr", n.expr),
    Print: lambda n, i: _sexp("print", n.expr),
    Var: lambda n, i: _sexp("var", _target(n.target), *([n.initializer] if n.initializer else [])),
    Block: lambda n, i: _nested("block", n.statements, i),
    If: _if,
    While: lambda n, i: _nested(f"while {dump(n.cond)}", [n.body], i),
    Return: lambda n, i: _sexp("return", *([n.value] if n.value else [])),
    FunctionNode: _function,
    FunctionDecl: lambda n, i: f"(fun {_target(n.target)} {_function(n.function, i)})",
    Class: _class,
    Local: _local,
    UpvalueRef: _upvalue,
    LocalBinding: _binding,
    UpvalueBinding: _binding,
    GlobalBinding: _binding,
}
