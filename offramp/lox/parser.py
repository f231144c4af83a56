"""Lox parser: one pass from tokens to a resolved syntax tree, with clox's exact compile errors.

The structure is clox's compiler.c with bytecode emission replaced by tree building: a
recursive-descent parser for declarations and statements, and a Pratt parser for expressions
driven by one table (`RULES`) of (prefix, infix, precedence) rows.  Names are resolved while
parsing through `resolver.FunctionScope`, at the same points clox resolves them, because the
order of errors and the panic-mode cascade only match clox when resolution is interleaved
with parsing.  For the same reason the parser follows the size of the bytecode clox would
emit for each function (`emit` and the other emit_ methods, called where clox emits; sizes in
`bytecode`), so that it reports clox's bytecode-format limits -- too many constants, locals
or upvalues, jumps and loops too long -- on the programs and at the tokens clox does.  Each
expression node takes `self.previous.line` at the point where clox would emit its
instruction, which is the line clox reports runtime errors at (see `ast`).

Error reporting is clox's: `[line N] Error at 'lexeme': message`, `... Error at end: ...` for
EOF, `... Error: message` for scanner errors.  After an error the parser is in panic mode and
reports nothing more until `synchronize` reaches a statement boundary.  Like clox, a failed
`consume` does not advance, and parsing carries on with whatever the previous token was; the
tree built after an error is not meant to be run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

from offramp.lox import ast
from offramp.lox.ast import (
    Binding,
    FunctionKind,
    FunctionNode,
    GlobalBinding,
    Local,
    LocalBinding,
    UpvalueBinding,
)
from offramp.lox.bytecode import (
    BINARY_INSTRUCTIONS,
    JUMP_TOO_LARGE,
    LOOP_TOO_LARGE,
    MAX_JUMP,
    TOO_MANY_CONSTANTS,
    UNARY_INSTRUCTIONS,
)
from offramp.lox.nesting import MAX_NESTING, NestingTooDeep, recursion_room
from offramp.lox.resolver import ClassScope, FunctionScope
from offramp.lox.scanner import Scanner, Token, TokenType

MAX_PARAMETERS = 255
MAX_ARGUMENTS = 255

# The instructions reading and writing a variable, by where it lives.
GET_INSTRUCTIONS = {LocalBinding: "GET_LOCAL", UpvalueBinding: "GET_UPVALUE",
                    GlobalBinding: "GET_GLOBAL"}
SET_INSTRUCTIONS = {LocalBinding: "SET_LOCAL", UpvalueBinding: "SET_UPVALUE",
                    GlobalBinding: "SET_GLOBAL"}

# The keyword literals: their value and the instruction pushing it.
LITERALS = {TokenType.TRUE: (True, "TRUE"), TokenType.FALSE: (False, "FALSE"),
            TokenType.NIL: (None, "NIL")}

# Tokens after which, or before which, `synchronize` considers a statement boundary reached.
STATEMENT_STARTS = frozenset(
    {
        TokenType.CLASS,
        TokenType.FUN,
        TokenType.VAR,
        TokenType.FOR,
        TokenType.IF,
        TokenType.WHILE,
        TokenType.PRINT,
        TokenType.RETURN,
    }
)


class Precedence(IntEnum):
    """Binding power of infix operators, loosest first (clox's Precedence)."""

    NONE = 0
    ASSIGNMENT = 1
    OR = 2
    AND = 3
    EQUALITY = 4
    COMPARISON = 5
    TERM = 6
    FACTOR = 7
    UNARY = 8
    CALL = 9
    PRIMARY = 10


def parse_program(source: str) -> tuple[FunctionNode, list[str]]:
    """Parse and resolve a Lox program: the script function and clox's compile error lines.

    Parsing stops at the first place nested deeper than MAX_NESTING levels (see nesting.py);
    the script returned then is partial, and the errors say so."""
    parser = Parser(Scanner(source))
    with recursion_room():
        try:
            script = parser.parse_script()
        except NestingTooDeep:
            script = parser.script
    return script, parser.errors


class Parser:
    """Single-pass parser and resolver over a token stream (clox's Parser plus Compiler chain)."""

    def __init__(self, scanner: Scanner) -> None:
        self.scanner = scanner
        self.current = Token(TokenType.EOF, "", 1)
        self.previous = self.current
        self.errors: list[str] = []
        self.panic_mode = False
        self.function: FunctionScope | None = None
        self.klass: ClassScope | None = None
        self.script: FunctionNode | None = None
        self.depth = 0          # nesting levels open at the current token (nesting.py)

    # Errors and token handling.

    def error_at(self, token: Token, message: str) -> None:
        """Report `message` at `token` unless already panicking, then panic."""
        if self.panic_mode:
            return
        self.panic_mode = True
        if token.type is TokenType.EOF:
            where = " at end"
        elif token.type is TokenType.ERROR:
            where = ""
        else:
            where = f" at '{token.lexeme}'"
        self.errors.append(f"[line {token.line}] Error{where}: {message}")

    def error(self, message: str) -> None:
        """Report an error at the token just consumed."""
        self.error_at(self.previous, message)

    def error_at_current(self, message: str) -> None:
        """Report an error at the token about to be consumed."""
        self.error_at(self.current, message)

    def advance(self) -> None:
        """Move to the next token, reporting (and skipping) scanner error tokens."""
        self.previous = self.current
        while True:
            self.current = self.scanner.scan_token()
            if self.current.type is not TokenType.ERROR:
                return
            self.error_at_current(self.current.lexeme)

    def consume(self, kind: TokenType, message: str) -> None:
        """Consume a token of `kind`, or report `message` at the current token without advancing."""
        if self.current.type is kind:
            self.advance()
            return
        self.error_at_current(message)

    def check(self, kind: TokenType) -> bool:
        """Whether the current token is of `kind`."""
        return self.current.type is kind

    def match(self, kind: TokenType) -> bool:
        """Consume the current token if it is of `kind`."""
        if not self.check(kind):
            return False
        self.advance()
        return True

    def synchronize(self) -> None:
        """Leave panic mode, skipping tokens up to a likely statement boundary."""
        self.panic_mode = False
        while self.current.type is not TokenType.EOF:
            if self.previous.type is TokenType.SEMICOLON:
                return
            if self.current.type in STATEMENT_STARTS:
                return
            self.advance()

    def nest(self, levels: int = 1) -> None:
        """Open `levels` more nesting levels; past MAX_NESTING, report it and stop parsing."""
        self.depth += levels
        if self.depth > MAX_NESTING:
            self.error_at_current("Too much nesting.")
            raise NestingTooDeep

    # The bytecode clox would emit: only its size and constant count are kept (bytecode.py).

    def emit(self, *instructions: str) -> None:
        """Account for `instructions` in the current function's chunk."""
        self.function.chunk.emit(*instructions)

    def make_constant(self) -> None:
        """Add a constant to the current function's chunk (clox's makeConstant)."""
        if not self.function.chunk.add_constant():
            self.error(TOO_MANY_CONSTANTS)

    def emit_constant(self) -> None:
        """A literal's OP_CONSTANT and its constant."""
        self.make_constant()
        self.emit("CONSTANT")

    def emit_jump(self, instruction: str) -> int:
        """A forward jump; returns the chunk size after it, which `patch_jump` measures from."""
        self.emit(instruction)
        return self.function.chunk.size

    def patch_jump(self, after_jump: int) -> None:
        """Land the jump emitted at `after_jump` here; its offset must fit 16 bits."""
        if self.function.chunk.size - after_jump > MAX_JUMP:
            self.error(JUMP_TOO_LARGE)

    def emit_loop(self, loop_start: int) -> None:
        """A backward jump to `loop_start`; its offset (itself included) must fit 16 bits."""
        self.emit("LOOP")
        if self.function.chunk.size - loop_start > MAX_JUMP:
            self.error(LOOP_TOO_LARGE)

    def emit_closure(self, upvalues: int) -> None:
        """OP_CLOSURE of a function just parsed, with its `upvalues` operands."""
        self.function.chunk.emit_closure(upvalues)

    def emit_return(self) -> None:
        """The implicit return: the receiver from an initializer, else nil."""
        if self.function.node.kind is FunctionKind.INITIALIZER:
            self.emit("GET_LOCAL", "RETURN")
        else:
            self.emit("NIL", "RETURN")

    def end_scope(self) -> list[Local]:
        """Leave a block: its locals are popped, or closed if captured; returns them."""
        ended = self.function.end_scope()
        for local in ended:
            self.emit("CLOSE_UPVALUE" if local.captured else "POP")
        return ended

    def define_variable(self) -> None:
        """A declared variable gets its value: a local becomes readable, a global is defined."""
        if self.function.depth > 0:
            self.function.mark_initialized()
        else:
            self.emit("DEFINE_GLOBAL")

    def resolve(self, name: str) -> Binding:
        """Resolve `name` in the current function; a global's name is a constant."""
        binding = self.function.resolve(name)
        if isinstance(binding, GlobalBinding):
            self.make_constant()
        return binding

    # Functions and scopes.

    def begin_function(self, kind: FunctionKind, name: str) -> FunctionNode:
        """Start a function's scope with clox's implicit slot-zero local."""
        node = FunctionNode(name, kind, [], [], [], [], self.previous.line)
        self.function = FunctionScope(node, self.function, self.error)
        receiver = "" if kind is FunctionKind.FUNCTION else "this"   # clox's names
        self.function.add_local(receiver)
        self.function.live[0].depth = 0
        return node

    def end_function(self) -> FunctionNode:
        """Finish the current function with its implicit return and return to the enclosing one."""
        self.emit_return()
        node = self.function.node
        node.end_line = self.previous.line
        self.function = self.function.enclosing
        return node

    def parse_script(self) -> FunctionNode:
        """Parse the whole program as the top-level script function."""
        script = self.script = self.begin_function(FunctionKind.SCRIPT, "")
        self.advance()
        while not self.match(TokenType.EOF):
            script.body.append(self.declaration())
        return self.end_function()

    def parse_variable(self, message: str) -> Local | GlobalBinding:
        """Consume a variable name and declare it: a new local in a block, else a global."""
        self.consume(TokenType.IDENTIFIER, message)
        local = self.function.declare(self.previous.lexeme)
        if local is not None:
            return local
        self.make_constant()
        return GlobalBinding(self.previous.lexeme)

    # Declarations.

    def declaration(self) -> ast.Stmt:
        """A declaration or statement, resynchronizing after an error."""
        parse = DECLARATIONS.get(self.current.type)
        if parse is not None:
            self.nest()
            self.advance()
            stmt = parse(self)
            self.depth -= 1
        else:
            stmt = self.statement()
        if self.panic_mode:
            self.synchronize()
        return stmt

    def class_declaration(self) -> ast.Class:
        """`class Name (< Super)? { methods }`."""
        line = self.previous.line
        self.consume(TokenType.IDENTIFIER, "Expect class name.")
        class_name = self.previous.lexeme
        self.make_constant()
        local = self.function.declare(class_name)
        target = local if local is not None else GlobalBinding(class_name)
        self.emit("CLASS")
        self.define_variable()
        self.klass = ClassScope(self.klass)
        superclass, super_local = self.superclass_clause(class_name)
        self.named_variable(class_name, False)
        methods = self.class_body()
        self.emit("POP")
        if self.klass.has_superclass:
            self.end_scope()
        self.klass = self.klass.enclosing
        return ast.Class(class_name, target, superclass, methods, super_local, line)

    def class_body(self) -> list[FunctionNode]:
        """`{ methods }` of a class."""
        self.consume(TokenType.LEFT_BRACE, "Expect '{' before class body.")
        methods = []
        while not self.check(TokenType.RIGHT_BRACE) and not self.check(TokenType.EOF):
            methods.append(self.method())
        self.consume(TokenType.RIGHT_BRACE, "Expect '}' after class body.")
        return methods

    def superclass_clause(self, class_name: str) -> tuple[ast.Variable | None, Local | None]:
        """An optional `< Super`: the superclass reference and the scope-local `super` holding it."""
        if not self.match(TokenType.LESS):
            return None, None
        self.consume(TokenType.IDENTIFIER, "Expect superclass name.")
        superclass = self.variable(False)
        if self.previous.lexeme == class_name:
            self.error("A class can't inherit from itself.")
        self.function.begin_scope()
        super_local = self.function.add_local("super")
        self.function.mark_initialized()
        self.named_variable(class_name, False)
        self.emit("INHERIT")
        self.klass.has_superclass = True
        return superclass, super_local

    def method(self) -> FunctionNode:
        """A method in a class body; one named `init` is the initializer."""
        self.consume(TokenType.IDENTIFIER, "Expect method name.")
        self.make_constant()
        is_init = self.previous.lexeme == "init"
        method = self.function_body(FunctionKind.INITIALIZER if is_init else FunctionKind.METHOD)
        self.emit("METHOD")
        return method

    def fun_declaration(self) -> ast.FunctionDecl:
        """`fun name(params) { body }`; the name is usable inside the body for recursion."""
        line = self.previous.line
        target = self.parse_variable("Expect function name.")
        self.function.mark_initialized()
        function = self.function_body(FunctionKind.FUNCTION)
        self.define_variable()
        return ast.FunctionDecl(function, target, line)

    def function_body(self, kind: FunctionKind) -> FunctionNode:
        """Parameters and body of a function named by the token just consumed; the enclosing
        function creates its closure."""
        self.nest()
        node = self.begin_function(kind, self.previous.lexeme)
        self.function.begin_scope()
        self.consume(TokenType.LEFT_PAREN, "Expect '(' after function name.")
        if not self.check(TokenType.RIGHT_PAREN):
            self.parameters(node)
        self.consume(TokenType.RIGHT_PAREN, "Expect ')' after parameters.")
        self.consume(TokenType.LEFT_BRACE, "Expect '{' before function body.")
        node.body = self.block()
        self.depth -= 1
        function = self.end_function()
        self.make_constant()
        self.emit_closure(len(function.upvalues))
        return function

    def parameters(self, node: FunctionNode) -> None:
        """A comma-separated parameter list, each a local of the new function."""
        while True:
            if len(node.params) + 1 > MAX_PARAMETERS:
                self.error_at_current(f"Can't have more than {MAX_PARAMETERS} parameters.")
            node.params.append(self.parse_variable("Expect parameter name."))
            self.function.mark_initialized()
            if not self.match(TokenType.COMMA):
                return

    def var_declaration(self) -> ast.Var:
        """`var name (= initializer)?;`; a local is unreadable until its initializer is done."""
        line = self.previous.line
        target = self.parse_variable("Expect variable name.")
        initializer = None
        if self.match(TokenType.EQUAL):
            initializer = self.expression()
        else:
            self.emit("NIL")
        self.consume(TokenType.SEMICOLON, "Expect ';' after variable declaration.")
        self.define_variable()
        return ast.Var(target, initializer, line)

    # Statements.

    def statement(self) -> ast.Stmt:
        """A statement (no declarations: those are only allowed via `declaration`)."""
        parse = STATEMENTS.get(self.current.type)
        if parse is None:
            return self.expression_statement()
        self.nest()
        self.advance()
        stmt = parse(self)
        self.depth -= 1
        return stmt

    def block_statement(self) -> ast.Block:
        """`{ declarations }` as its own scope."""
        line = self.previous.line
        self.function.begin_scope()
        statements = self.block()
        return ast.Block(statements, line, self.end_scope())

    def block(self) -> list[ast.Stmt]:
        """Declarations up to the closing '}' (the '{' is already consumed)."""
        statements = []
        while not self.check(TokenType.RIGHT_BRACE) and not self.check(TokenType.EOF):
            statements.append(self.declaration())
        self.consume(TokenType.RIGHT_BRACE, "Expect '}' after block.")
        return statements

    def print_statement(self) -> ast.Print:
        """`print expr;`"""
        line = self.previous.line
        value = self.expression()
        self.consume(TokenType.SEMICOLON, "Expect ';' after value.")
        self.emit("PRINT")
        return ast.Print(value, line)

    def expression_statement(self) -> ast.ExpressionStmt:
        """`expr;`"""
        expr = self.expression()
        self.consume(TokenType.SEMICOLON, "Expect ';' after expression.")
        self.emit("POP")
        return ast.ExpressionStmt(expr, expr.line)

    def if_statement(self) -> ast.If:
        """`if (cond) stmt (else stmt)?`"""
        line = self.previous.line
        self.consume(TokenType.LEFT_PAREN, "Expect '(' after 'if'.")
        cond = self.expression()
        self.consume(TokenType.RIGHT_PAREN, "Expect ')' after condition.")
        then_jump = self.emit_jump("JUMP_IF_FALSE")
        self.emit("POP")
        then = self.statement()
        else_jump = self.emit_jump("JUMP")
        self.patch_jump(then_jump)
        self.emit("POP")
        else_ = self.statement() if self.match(TokenType.ELSE) else None
        self.patch_jump(else_jump)
        return ast.If(cond, then, else_, line)

    def while_statement(self) -> ast.While:
        """`while (cond) stmt`"""
        line = self.previous.line
        loop_start = self.function.chunk.size
        self.consume(TokenType.LEFT_PAREN, "Expect '(' after 'while'.")
        cond = self.expression()
        self.consume(TokenType.RIGHT_PAREN, "Expect ')' after condition.")
        exit_jump = self.emit_jump("JUMP_IF_FALSE")
        self.emit("POP")
        body = self.statement()
        self.emit_loop(loop_start)
        self.patch_jump(exit_jump)
        self.emit("POP")
        return ast.While(cond, body, line)

    def for_statement(self) -> ast.Block:
        """`for (init; cond; incr) stmt`, desugared to a scoped `while` (see `ast`)."""
        line = self.previous.line
        self.function.begin_scope()
        self.consume(TokenType.LEFT_PAREN, "Expect '(' after 'for'.")
        initializer = self.for_initializer()
        loop_start = self.function.chunk.size
        cond, exit_jump = ast.Literal(True, line), None
        if not self.match(TokenType.SEMICOLON):
            cond = self.expression()
            self.consume(TokenType.SEMICOLON, "Expect ';' after loop condition.")
            exit_jump = self.emit_jump("JUMP_IF_FALSE")
            self.emit("POP")
        increment = None
        if not self.match(TokenType.RIGHT_PAREN):
            body_jump = self.emit_jump("JUMP")
            increment_start = self.function.chunk.size
            increment = self.expression()
            self.emit("POP")
            self.consume(TokenType.RIGHT_PAREN, "Expect ')' after for clauses.")
            self.emit_loop(loop_start)
            loop_start = increment_start
            self.patch_jump(body_jump)
        body = self.statement()
        self.emit_loop(loop_start)
        if exit_jump is not None:
            self.patch_jump(exit_jump)
            self.emit("POP")
        if increment is not None:
            body = ast.Block([body, ast.ExpressionStmt(increment, increment.line)], line)
        loop = ast.While(cond, body, line)
        statements = [loop] if initializer is None else [initializer, loop]
        return ast.Block(statements, line, self.end_scope())

    def for_initializer(self) -> ast.Stmt | None:
        """The first clause of a `for`: nothing, a `var` declaration or an expression."""
        if self.match(TokenType.SEMICOLON):
            return None
        if self.match(TokenType.VAR):
            return self.var_declaration()
        return self.expression_statement()

    def return_statement(self) -> ast.Return:
        """`return (value)?;` -- not at top level, and no value in an initializer."""
        line = self.previous.line
        if self.function.node.kind is FunctionKind.SCRIPT:
            self.error("Can't return from top-level code.")
        if self.match(TokenType.SEMICOLON):
            self.emit_return()
            return ast.Return(None, line)
        if self.function.node.kind is FunctionKind.INITIALIZER:
            self.error("Can't return a value from an initializer.")
        value = self.expression()
        self.consume(TokenType.SEMICOLON, "Expect ';' after return value.")
        self.emit("RETURN")
        return ast.Return(value, line)

    # Expressions: the Pratt parser.

    def expression(self) -> ast.Expr:
        """A full expression, assignment included."""
        return self.parse_precedence(Precedence.ASSIGNMENT)

    def parse_precedence(self, precedence: Precedence) -> ast.Expr:
        """An expression whose operators bind at least as tightly as `precedence`.

        Each infix operator applied here nests the tree one level deeper (`a + b + c` is
        `(a + b) + c`), so it counts as a level until this expression is done."""
        self.nest()
        levels = 1
        self.advance()
        prefix = RULES.get(self.previous.type, NO_RULE).prefix
        if prefix is None:
            self.error("Expect expression.")
            self.depth -= levels
            return ast.Literal(None, self.previous.line)
        can_assign = precedence <= Precedence.ASSIGNMENT
        expr = prefix(self, can_assign)
        while precedence <= RULES.get(self.current.type, NO_RULE).precedence:
            self.nest()
            levels += 1
            self.advance()
            expr = RULES[self.previous.type].infix(self, expr, can_assign)
        if can_assign and self.match(TokenType.EQUAL):
            self.error("Invalid assignment target.")
        self.depth -= levels
        return expr

    def grouping(self, can_assign: bool) -> ast.Grouping:
        """`( expr )`"""
        expr = self.expression()
        self.consume(TokenType.RIGHT_PAREN, "Expect ')' after expression.")
        return ast.Grouping(expr, self.previous.line)

    def unary(self, can_assign: bool) -> ast.Unary:
        """`-x` or `!x`."""
        op = self.previous.lexeme
        right = self.parse_precedence(Precedence.UNARY)
        self.emit(UNARY_INSTRUCTIONS[op])
        return ast.Unary(op, right, self.previous.line)

    def binary(self, left: ast.Expr, can_assign: bool) -> ast.Binary:
        """A left-associative binary operator: the right operand binds one level tighter."""
        op = self.previous
        right = self.parse_precedence(Precedence(RULES[op.type].precedence + 1))
        self.emit(*BINARY_INSTRUCTIONS[op.lexeme])
        return ast.Binary(op.lexeme, left, right, self.previous.line)

    def and_(self, left: ast.Expr, can_assign: bool) -> ast.Logical:
        """`left and right`"""
        end_jump = self.emit_jump("JUMP_IF_FALSE")
        self.emit("POP")
        right = self.parse_precedence(Precedence.AND)
        self.patch_jump(end_jump)
        return ast.Logical("and", left, right, self.previous.line)

    def or_(self, left: ast.Expr, can_assign: bool) -> ast.Logical:
        """`left or right`"""
        else_jump = self.emit_jump("JUMP_IF_FALSE")
        end_jump = self.emit_jump("JUMP")
        self.patch_jump(else_jump)
        self.emit("POP")
        right = self.parse_precedence(Precedence.OR)
        self.patch_jump(end_jump)
        return ast.Logical("or", left, right, self.previous.line)

    def call(self, callee: ast.Expr, can_assign: bool) -> ast.Call:
        """`callee(args)`"""
        args = self.argument_list()
        self.emit("CALL")
        return ast.Call(callee, args, self.previous.line)

    def argument_list(self) -> list[ast.Expr]:
        """Arguments up to and including the closing ')'."""
        args: list[ast.Expr] = []
        if not self.check(TokenType.RIGHT_PAREN):
            while True:
                args.append(self.expression())
                if len(args) == MAX_ARGUMENTS + 1:
                    self.error(f"Can't have more than {MAX_ARGUMENTS} arguments.")
                if not self.match(TokenType.COMMA):
                    break
        self.consume(TokenType.RIGHT_PAREN, "Expect ')' after arguments.")
        return args

    def dot(self, obj: ast.Expr, can_assign: bool) -> ast.Expr:
        """`obj.name`, `obj.name = value` or the invocation `obj.name(args)`."""
        self.consume(TokenType.IDENTIFIER, "Expect property name after '.'.")
        name, line = self.previous.lexeme, self.previous.line
        self.make_constant()
        if can_assign and self.match(TokenType.EQUAL):
            value = self.expression()
            self.emit("SET_PROPERTY")
            return ast.Set(obj, name, value, self.previous.line)
        if self.match(TokenType.LEFT_PAREN):
            args = self.argument_list()
            self.emit("INVOKE")
            return ast.Call(ast.Get(obj, name, line), args, self.previous.line)
        self.emit("GET_PROPERTY")
        return ast.Get(obj, name, line)

    def number(self, can_assign: bool) -> ast.Literal:
        """A number literal (always a float, as in clox)."""
        self.emit_constant()
        return ast.Literal(float(self.previous.lexeme), self.previous.line)

    def string(self, can_assign: bool) -> ast.Literal:
        """A string literal without its quotes."""
        self.emit_constant()
        return ast.Literal(self.previous.lexeme[1:-1], self.previous.line)

    def literal(self, can_assign: bool) -> ast.Literal:
        """`true`, `false` or `nil`."""
        value, instruction = LITERALS[self.previous.type]
        self.emit(instruction)
        return ast.Literal(value, self.previous.line)

    def variable(self, can_assign: bool) -> ast.Variable | ast.Assign:
        """A variable reference or assignment named by the token just consumed."""
        return self.named_variable(self.previous.lexeme, can_assign)

    def named_variable(self, name: str, can_assign: bool) -> ast.Variable | ast.Assign:
        """Resolve `name`, then read it or, if assignable and followed by '=', assign it."""
        binding = self.resolve(name)
        if can_assign and self.match(TokenType.EQUAL):
            value = self.expression()
            self.emit(SET_INSTRUCTIONS[type(binding)])
            return ast.Assign(name, value, binding, self.previous.line)
        self.emit(GET_INSTRUCTIONS[type(binding)])
        return ast.Variable(name, binding, self.previous.line)

    def this_(self, can_assign: bool) -> ast.This:
        """`this`, only inside a class; it is the method's slot-zero local."""
        if self.klass is None:
            self.error("Can't use 'this' outside of a class.")
            return ast.This(GlobalBinding("this"), self.previous.line)
        binding = self.resolve("this")
        self.emit(GET_INSTRUCTIONS[type(binding)])
        return ast.This(binding, self.previous.line)

    def super_(self, can_assign: bool) -> ast.Super | ast.Call:
        """`super.name` or `super.name(args)`, only in a class with a superclass."""
        if self.klass is None:
            self.error("Can't use 'super' outside of a class.")
        elif not self.klass.has_superclass:
            self.error("Can't use 'super' in a class with no superclass.")
        self.consume(TokenType.DOT, "Expect '.' after 'super'.")
        self.consume(TokenType.IDENTIFIER, "Expect superclass method name.")
        name, line = self.previous.lexeme, self.previous.line
        self.make_constant()
        binding_this = self.resolve("this")
        self.emit(GET_INSTRUCTIONS[type(binding_this)])
        if self.match(TokenType.LEFT_PAREN):
            args = self.argument_list()
            method = ast.Super(name, self.resolve_super(), binding_this, line)
            self.emit("SUPER_INVOKE")
            return ast.Call(method, args, self.previous.line)
        method = ast.Super(name, self.resolve_super(), binding_this, line)
        self.emit("GET_SUPER")
        return method

    def resolve_super(self) -> Binding:
        """The class's `super` local (or what clox finds in its place after an error), read."""
        binding = self.resolve("super")
        self.emit(GET_INSTRUCTIONS[type(binding)])
        return binding


PrefixRule = Callable[[Parser, bool], ast.Expr]
InfixRule = Callable[[Parser, ast.Expr, bool], ast.Expr]


@dataclass(slots=True, frozen=True)
class ParseRule:
    """How a token parses at the start of an expression, after one, and how tightly it binds."""

    prefix: PrefixRule | None
    infix: InfixRule | None
    precedence: Precedence


NO_RULE = ParseRule(None, None, Precedence.NONE)

# The Pratt table (clox's `rules`); tokens absent here have NO_RULE.
RULES: dict[TokenType, ParseRule] = {
    TokenType.LEFT_PAREN: ParseRule(Parser.grouping, Parser.call, Precedence.CALL),
    TokenType.DOT: ParseRule(None, Parser.dot, Precedence.CALL),
    TokenType.MINUS: ParseRule(Parser.unary, Parser.binary, Precedence.TERM),
    TokenType.PLUS: ParseRule(None, Parser.binary, Precedence.TERM),
    TokenType.SLASH: ParseRule(None, Parser.binary, Precedence.FACTOR),
    TokenType.STAR: ParseRule(None, Parser.binary, Precedence.FACTOR),
    TokenType.BANG: ParseRule(Parser.unary, None, Precedence.NONE),
    TokenType.BANG_EQUAL: ParseRule(None, Parser.binary, Precedence.EQUALITY),
    TokenType.EQUAL_EQUAL: ParseRule(None, Parser.binary, Precedence.EQUALITY),
    TokenType.GREATER: ParseRule(None, Parser.binary, Precedence.COMPARISON),
    TokenType.GREATER_EQUAL: ParseRule(None, Parser.binary, Precedence.COMPARISON),
    TokenType.LESS: ParseRule(None, Parser.binary, Precedence.COMPARISON),
    TokenType.LESS_EQUAL: ParseRule(None, Parser.binary, Precedence.COMPARISON),
    TokenType.IDENTIFIER: ParseRule(Parser.variable, None, Precedence.NONE),
    TokenType.STRING: ParseRule(Parser.string, None, Precedence.NONE),
    TokenType.NUMBER: ParseRule(Parser.number, None, Precedence.NONE),
    TokenType.AND: ParseRule(None, Parser.and_, Precedence.AND),
    TokenType.OR: ParseRule(None, Parser.or_, Precedence.OR),
    TokenType.FALSE: ParseRule(Parser.literal, None, Precedence.NONE),
    TokenType.TRUE: ParseRule(Parser.literal, None, Precedence.NONE),
    TokenType.NIL: ParseRule(Parser.literal, None, Precedence.NONE),
    TokenType.SUPER: ParseRule(Parser.super_, None, Precedence.NONE),
    TokenType.THIS: ParseRule(Parser.this_, None, Precedence.NONE),
}

# Keywords that start a declaration, and the method parsing the rest of it.
DECLARATIONS: dict[TokenType, Callable[[Parser], ast.Stmt]] = {
    TokenType.CLASS: Parser.class_declaration,
    TokenType.FUN: Parser.fun_declaration,
    TokenType.VAR: Parser.var_declaration,
}

# Tokens that start a non-expression statement, and the method parsing the rest of it.
STATEMENTS: dict[TokenType, Callable[[Parser], ast.Stmt]] = {
    TokenType.PRINT: Parser.print_statement,
    TokenType.FOR: Parser.for_statement,
    TokenType.IF: Parser.if_statement,
    TokenType.RETURN: Parser.return_statement,
    TokenType.WHILE: Parser.while_statement,
    TokenType.LEFT_BRACE: Parser.block_statement,
}
