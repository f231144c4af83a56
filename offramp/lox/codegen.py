"""Lox syntax trees to offramp IR.

Conventions of the generated module (the Lox runtime in `runtime.py` is the other half):
- Every Lox value is a `tagref64` (`@tr`).  Every Lox function, method and the script is an
  IR function `@lox.fnN.name` with signature `@lox.sigA = (@tr closure, @tr this, @tr x A)
  -> (@tr)`; `this` is the receiver for methods and initializers, nil otherwise.
- Local variables are SSA values: assignments rebind the name, and control-flow joins and
  loop headers take block parameters for the locals that differ or are assigned in the loop.
  A captured local lives in a heap box created where it is declared.
- Globals are IR globals `@lox.global.NAME` holding UNDEFINED until defined; string
  literals are IR globals `@lox.str.N` that the runtime fills with interned strings.
- Every generic operation is a CCALL of a runtime helper `@lox.*` (the interpreter runs them
  directly; the native tier specializes them).  A call is `callee_code.A`/`callee_closure`/
  `callee_this` helpers (which also raise the call errors) followed by an IR CALL, so every
  Lox call is an IR frame: stack traces, stack depth and deoptimization see them all.
- With `profile=True` (every tier but the interpreter-only one), `PROFILE site %v` precedes
  the helpers speculation rewrites (speculate.py): on both operands of arithmetic and
  comparisons (the one operand of negation), on the object of every get/set_property, on
  the superclass of a `super.m(...)` call and on the callee of every call.  The PROFILEs of
  a helper immediately precede it; site ids are unique within the version.  Literals are
  not profiled (their class is known).
- A method call `x.m(...)` looks `m` up with `lox.get_method` (clox's OP_INVOKE), a plain
  property read with `lox.get_property` (OP_GET_PROPERTY): they differ in their error on a
  value that is not an instance, as clox's do.  Each method call's arity also declares `lox.invoke.A`
  (the one-lookup inline cache the speculator uses where it cannot speculate).
"""
from dataclasses import dataclass, field

from ..ir import tagref
from ..ir.builder import ModuleBuilder, dest
from ..ir.nodes import Imm, Sym, Var
from ..ir.types import I1, I64, PTR, TAGREF64, VOID, FuncRefType
from . import ast
from .assumptions import watch_global
from .ast import FunctionKind
from .locks import FAST_PATHS as LOCK_FAST_PATHS, build_lock_native
from .natives import NATIVES
from .nesting import recursion_room

NIL, TRUE, FALSE = Sym("lox.nil"), Sym("lox.true"), Sym("lox.false")


@dataclass(slots=True)
class CodeInfo:
    """What the runtime needs to know about one compiled Lox function."""

    code_id: int
    ir_name: str
    name: str
    kind: FunctionKind
    arity: int
    upvalue_count: int


@dataclass(slots=True)
class LoxProgram:
    """A compiled Lox program: the IR module and its tables for the runtime."""

    module: object
    script: str
    codes: list = field(default_factory=list)        # CodeInfo by code_id
    strings: dict = field(default_factory=dict)      # global name -> literal text
    globals: dict = field(default_factory=dict)      # Lox global name -> IR global name
    # IR function -> block label -> per instruction of its baseline, the source locals in
    # scope there: ((name, operand holding it, whether that is the local's box), ...).
    scopes: dict = field(default_factory=dict)


class Scope(dict):
    """The locals in scope (ast.Local -> the operand holding each, or its box), with the
    tuple of them that each instruction records — made again only after a change."""

    __slots__ = ("_recorded",)

    def __init__(self, *args):
        super().__init__(*args)
        self._recorded = None

    def __setitem__(self, key, value):
        self._recorded = None
        super().__setitem__(key, value)

    def pop(self, key, default=None):
        self._recorded = None
        return super().pop(key, default)

    def recorded(self) -> tuple:
        if self._recorded is None:
            self._recorded = tuple((local.name, value, local.captured)
                                   for local, value in self.items())
        return self._recorded


# Helpers: name -> (parameter types, result type or None, pure).  Arity-specific call
# helpers (`lox.callee_code.A`) are declared on demand.
TR, TR2, TR3 = (TAGREF64,), (TAGREF64,) * 2, (TAGREF64,) * 3
HELPERS = {
    "lox.add": (TR2, TAGREF64, False), "lox.sub": (TR2, TAGREF64, False),
    "lox.mul": (TR2, TAGREF64, False), "lox.div": (TR2, TAGREF64, False),
    "lox.neg": (TR, TAGREF64, False), "lox.not": (TR, TAGREF64, True),
    "lox.less": (TR2, TAGREF64, False), "lox.less_equal": (TR2, TAGREF64, False),
    "lox.greater": (TR2, TAGREF64, False), "lox.greater_equal": (TR2, TAGREF64, False),
    "lox.equal": (TR2, TAGREF64, True), "lox.not_equal": (TR2, TAGREF64, True),
    "lox.truthy": (TR, I1, True),
    "lox.print": (TR, None, False),
    "lox.get_global": ((PTR, PTR), TAGREF64, False),
    "lox.set_global": ((PTR, PTR, TAGREF64), None, False),
    "lox.define_global": ((PTR, TAGREF64), None, False),
    "lox.box_new": (TR, TAGREF64, False), "lox.box_get": (TR, TAGREF64, False),
    "lox.box_set": (TR2, None, False),
    "lox.upvalue": ((TAGREF64, I64), TAGREF64, False),
    "lox.class_new": ((PTR,), TAGREF64, False),
    "lox.inherit": (TR2, None, False),
    "lox.method": ((TAGREF64, PTR, TAGREF64), None, False),
    "lox.get_property": ((TAGREF64, PTR), TAGREF64, False),
    "lox.get_method": ((TAGREF64, PTR), TAGREF64, False),
    "lox.set_property": ((TAGREF64, PTR, TAGREF64), None, False),
    "lox.get_super": ((TAGREF64, TAGREF64, PTR), TAGREF64, False),
    "lox.callee_closure": (TR, TAGREF64, False),
    "lox.callee_this": (TR, TAGREF64, False),
    "lox.instantiate": (TR, TAGREF64, False),
    "lox.profile": ((I64, TAGREF64), None, False),
}


# Helpers native code caches (ir/inline_caches.py): field reads and writes by shape.
INLINE_CACHED = {"lox.get_property": "get_field", "lox.set_property": "set_field"}


def lox_sig_name(arity: int) -> str:
    return f"lox.sig{arity}"


class ModuleCodegen:
    """Owns the module being built and the tables shared by all functions."""

    def __init__(self, profile: bool = False, debug: bool = False):
        self.profile = profile
        self.debug = debug              # a BREAKPOINT (id: the line) at every statement
        self.mb = ModuleBuilder()
        mb = self.mb
        mb.typedef("tr", TAGREF64)
        mb.typedef("i1", I1)
        mb.typedef("i64", I64)
        mb.typedef("ptr", PTR)
        mb.typedef("void", VOID)
        mb.const("lox.nil", TAGREF64, tagref.NIL)
        mb.const("lox.true", TAGREF64, tagref.TRUE)
        mb.const("lox.false", TAGREF64, tagref.FALSE)
        self.program = LoxProgram(mb.module, "")
        self._string_globals = {}
        self._call_helpers = set()
        self.call_arities = set()       # argument counts of the program's calls

    def sig(self, arity: int):
        """The signature of Lox functions of `arity` parameters."""
        name = lox_sig_name(arity)
        sig = self.mb.module.types.get(name)
        if sig is None:
            sig = self.mb.funcsig(name, [TAGREF64] * (arity + 2), [TAGREF64])
            self.mb.typedef(f"lox.fnref{arity}", FuncRefType(sig))
        return sig

    def helper(self, name: str) -> str:
        """Declare a runtime helper on first use."""
        if name not in self.mb.module.externs:
            params, result, pure = HELPERS[name]
            sig = self._helper_sig(params, result)
            self.mb.extern(name, sig, pure, INLINE_CACHED.get(name, ""))
        return name

    def _helper_sig(self, params, result):
        from ..ir.types import FuncSig
        sig = FuncSig(tuple(params), (result,) if result is not None else ())
        if sig not in self.mb.module.types.values():
            self.mb.typedef(f"lox.hsig{len(self.mb.module.types)}", sig)
        return sig

    def callee_code_helper(self, arity: int) -> str:
        """`lox.callee_code.A`: check a callee for an A-argument call, return its code."""
        name = f"lox.callee_code.{arity}"
        self.call_arities.add(arity)
        if name not in self.mb.module.externs:
            sig = self.sig(arity)
            hsig = self._helper_sig((TAGREF64,), FuncRefType(sig))
            self.mb.extern(name, hsig)
        return name

    def invoke_helper(self, arity: int) -> str:
        """`lox.invoke.A`: a method call's (closure, code, this) from one lookup, as a
        call record (an inline cache of kind `invoke`, ir/inline_caches.py).  Declared for
        the speculator, which uses it at method calls it has no speculation for; the
        baseline never calls it."""
        name = f"lox.invoke.{arity}"
        if name not in self.mb.module.externs:
            self.mb.extern(name, self._helper_sig((TAGREF64, PTR), PTR), False, "invoke")
        return name

    def closure_new_helper(self, count: int) -> str:
        """`lox.closure_new.N`: a closure of code id with its N captured boxes."""
        name = f"lox.closure_new.{count}"
        if name not in self.mb.module.externs:
            self.mb.extern(name, self._helper_sig((I64,) + (TAGREF64,) * count, TAGREF64))
        return name

    def string(self, text: str) -> Sym:
        """The IR global that will hold the interned string `text`."""
        g = self._string_globals.get(text)
        if g is None:
            g = f"lox.str.{len(self._string_globals)}"
            self.mb.global_cell(g, TAGREF64)
            self._string_globals[text] = g
            self.program.strings[g] = text
        return Sym(g)

    def global_var(self, name: str) -> Sym:
        """The IR global holding Lox global `name`."""
        g = self.program.globals.get(name)
        if g is None:
            g = self.program.globals[name] = f"lox.global.{name}"
            self.mb.global_cell(g, TAGREF64)
            self.mb.global_cell(watch_global(name), I64)   # assumptions.py
        return Sym(g)

    def function(self, node: ast.FunctionNode) -> CodeInfo:
        """Compile a function (and, through its body, every function nested in it)."""
        code_id = len(self.program.codes)
        ir_name = f"lox.fn{code_id}.{node.name or 'script'}"
        info = CodeInfo(code_id, ir_name, node.name, node.kind, len(node.params),
                        len(node.upvalues))
        self.program.codes.append(info)
        self.mb.function(ir_name, self.sig(len(node.params)))
        FunctionCodegen(self, node, info).compile()
        return info


    def natives(self):
        """IR functions for every native of the table, and for class calls without init."""
        for native in NATIVES:
            params = [TAGREF64] * native.arity
            self.mb.extern(native.helper, self._helper_sig(
                ([TAGREF64] if native.receiver else []) + params, TAGREF64))
            self.native_function(native, native.arity)
        self.mb.function(RETURN_THIS, self.sig(0))
        vb = self.mb.version(RETURN_THIS, "v1")
        vb.position_at_end(vb.new_block("entry", [("closure", TAGREF64), ("this", TAGREF64)]))
        vb.emit("RET", (Var("this"),))


    def native_function(self, native, argc: int):
        """The IR function calling `native` with `argc` arguments (the extra ones unused)."""
        name = native.ir_name_for(argc)
        self.mb.function(name, self.sig(argc))
        args = [(f"a{i}", TAGREF64) for i in range(argc)]
        params = [("closure", TAGREF64), ("this", TAGREF64)] + args
        if native.helper in LOCK_FAST_PATHS:
            build_lock_native(self.mb.version(name, "v1", unsafe=True), native.helper, params)
            return
        vb = self.mb.version(name, "v1")
        vb.position_at_end(vb.new_block("entry", params))
        operands = ([Var("this")] if native.receiver else []) + \
            [Var(n) for n, _ in args[:native.arity]]
        r = vb.emit("CCALL", native.helper, tuple(operands), (), None, results=1)
        vb.emit("RET", (r,))

    def wide_natives(self):
        """For each call arity the program uses, a wrapper of every native taking fewer."""
        for argc in sorted(self.call_arities):
            for native in NATIVES:
                if argc > native.arity:
                    self.native_function(native, argc)


RETURN_THIS = "lox.rt.return_this"


def compile_program(script: ast.FunctionNode, profile: bool = False,
                    debug: bool = False) -> LoxProgram:
    """Compile a resolved script into a LoxProgram (with PROFILE sites when `profile`,
    with a breakpoint site at every statement and loop test when `debug`).

    The walk recurses once per nesting level, which the parser keeps within MAX_NESTING."""
    cg = ModuleCodegen(profile, debug)
    cg.natives()
    if profile:
        cg.helper("lox.instantiate")   # speculated class calls allocate with it
        cg.helper("lox.profile")       # sites compiled before their profile keep profiling
    with recursion_room():
        info = cg.function(script)
    cg.wide_natives()
    cg.program.script = info.ir_name
    return cg.program


class Join:
    """A control-flow merge: block parameters for the locals whose values differ."""

    def __init__(self, fcg, extra: int = 0):
        self.fcg = fcg
        self.extra = extra
        self.incoming = []   # (block, env, extra operands)

    def arrive(self, *extra):
        """Leave the current block toward this join (its branch is emitted at `land`)."""
        f = self.fcg
        if f.dead:
            return
        self.incoming.append((f.vb.block, dict(f.env), extra))
        f.dead = True

    def land(self) -> list:
        """Emit the join block and the branches into it; returns the extra values."""
        f = self.fcg
        if not self.incoming:
            f.dead = True
            return [NIL] * self.extra
        keys = [k for k in self.incoming[0][1] if all(k in env for _, env, _ in self.incoming)]
        differing = [k for k in keys if len({env[k] for _, env, _ in self.incoming}) > 1]
        params = [(f.vb.fresh("v"), TAGREF64) for _ in differing]
        extras = [(f.vb.fresh("x"), TAGREF64) for _ in range(self.extra)]
        block = f.vb.new_block(f.vb.fresh("join"), params + extras)
        for pred, env, extra in self.incoming:
            f.vb.position_at_end(pred)
            f.vb.emit("BRANCH", dest(block, *[env[k] for k in differing], *extra))
        f.vb.position_at_end(block)
        f.env = {k: self.incoming[0][1][k] for k in keys}
        for k, (name, _) in zip(differing, params):
            f.env[k] = Var(name)
        f.dead = False
        return [Var(name) for name, _ in extras]


class FunctionCodegen:
    """Compiles one FunctionNode into one IR function version."""

    def __init__(self, mcg: ModuleCodegen, node: ast.FunctionNode, info: CodeInfo):
        self.mcg = mcg
        self.node = node
        self.info = info
        self.vb = mcg.mb.version(info.ir_name, "v1")
        self._env = Scope()
        self.dead = False
        self.sites = 0
        self.scopes = mcg.program.scopes[info.ir_name] = {}
        self.vb.on_emit = self.note_scope

    @property
    def env(self) -> Scope:
        return self._env

    @env.setter
    def env(self, bindings) -> None:
        self._env = Scope(bindings)

    def note_scope(self, block, index: int) -> None:
        """Record the source locals in scope at each instruction (debuggers, the frame
        API: `LoxRuntime.source_variables`)."""
        self.scopes.setdefault(block.label, []).append(self._env.recorded())

    # --- plumbing --------------------------------------------------------------------

    def emit(self, op, *operands, results=0):
        return self.vb.emit(op, *operands, results=results)

    def ccall(self, helper: str, *args):
        """Call a runtime helper; returns its result (or None for void helpers)."""
        name = self.mcg.helper(helper) if helper in HELPERS else helper
        has_result = bool(self.mcg.mb.module.externs[name].sig.results)
        return self.vb.emit("CCALL", name, tuple(args), (), None,
                            results=1 if has_result else 0)

    def profile(self, *values):
        """Record the class of each value (variables only) at a new site, when profiling."""
        if not self.mcg.profile:
            return
        for value in values:
            if isinstance(value, Var):
                self.emit("PROFILE", self.sites, value)
                self.sites += 1

    def new_block(self, hint):
        return self.vb.new_block(self.vb.fresh(hint))

    def compile(self):
        node = self.node
        entry = self.vb.new_block("entry", [("closure", TAGREF64), ("this", TAGREF64)] +
                                  [(f"p{i}", TAGREF64) for i in range(len(node.params))])
        self.vb.position_at_end(entry)
        self.closure = Var("closure")
        with self.vb.at_line(node.line):
            slot0 = node.locals[0]
            self.declare(slot0, Var("this"))
            for i, param in enumerate(node.params):
                self.declare(param, Var(f"p{i}"))
        self.statements(node.body)
        if not self.dead:
            with self.vb.at_line(node.end_line or node.line):
                if node.kind is not FunctionKind.SCRIPT:   # a function's closing brace
                    self.breakpoint_site()
                self.emit_return(None)

    def declare(self, local: ast.Local, value):
        """Bind a newly declared local (boxing it when an inner function captures it)."""
        if local.captured:
            value = self.ccall("lox.box_new", value)
        self.env[local] = value

    def read_local(self, local: ast.Local):
        value = self.env[local]
        return self.ccall("lox.box_get", value) if local.captured else value

    def write_local(self, local: ast.Local, value):
        if local.captured:
            self.ccall("lox.box_set", self.env[local], value)
        else:
            self.env[local] = value

    def upvalue_box(self, index: int):
        return self.ccall("lox.upvalue", self.closure, Imm(index))

    def emit_return(self, value):
        if self.node.kind is FunctionKind.INITIALIZER:
            value = self.read_local(self.node.locals[0])
        self.emit("RET", (value if value is not None else NIL,))
        self.dead = True

    def truthy(self, value):
        return self.ccall("lox.truthy", value)

    # --- statements ------------------------------------------------------------------

    def statements(self, stmts):
        for stmt in stmts:
            if self.dead:
                return
            self.statement(stmt)

    def statement(self, stmt):
        """Compile one statement, its instructions attributed to its line.

        (The line is saved and set back by hand, not with `vb.at_line`: a context manager
        per node was a fifth of the time on a big source.)"""
        vb = self.vb
        saved, vb.line = vb.line, stmt.line
        if stmt.__class__ is not ast.Block:
            self.breakpoint_site()
        getattr(self, "stmt_" + type(stmt).__name__)(stmt)
        vb.line = saved

    def breakpoint_site(self) -> None:
        """Where a debugger may stop (runtime/breakpoints.py): the breakpoint of the
        current line, before its code."""
        if self.mcg.debug:
            self.emit("BREAKPOINT", self.vb.line, None)

    def stmt_ExpressionStmt(self, s):
        self.expr(s.expr)

    def stmt_Print(self, s):
        value = self.expr(s.expr)
        self.ccall("lox.print", value)

    def stmt_Var(self, s):
        value = self.expr(s.initializer) if s.initializer is not None else NIL
        self.define(s.target, value)

    def define(self, target, value):
        if isinstance(target, ast.GlobalBinding):
            self.ccall("lox.define_global", self.mcg.global_var(target.name), value)
        else:
            self.declare(target, value)

    def stmt_Block(self, s):
        self.statements(s.statements)
        for local in s.locals:
            self.env.pop(local, None)

    def stmt_If(self, s):
        cond = self.truthy(self.expr(s.cond))
        then_b, else_b = self.new_block("then"), self.new_block("else")
        self.emit("BRANCH2", cond, dest(then_b), dest(else_b))
        join = Join(self)
        saved = dict(self.env)
        self.vb.position_at_end(then_b)
        self.statement(s.then)
        join.arrive()
        self.env, self.dead = dict(saved), False
        self.vb.position_at_end(else_b)
        if s.else_ is not None:
            self.statement(s.else_)
        join.arrive()
        join.land()

    def stmt_While(self, s):
        assigned = [k for k in assigned_locals(s) if k in self.env and not k.captured]
        params = [(self.vb.fresh("loop"), TAGREF64) for _ in assigned]
        header = self.vb.new_block(self.vb.fresh("header"), params)
        self.emit("BRANCH", dest(header, *[self.env[k] for k in assigned]))
        self.vb.position_at_end(header)
        for k, (name, _) in zip(assigned, params):
            self.env[k] = Var(name)
        with self.vb.at_line(s.cond.line):
            self.breakpoint_site()
            cond = self.truthy(self.expr(s.cond))
        body, exit_ = self.new_block("body"), self.new_block("exit")
        self.emit("BRANCH2", cond, dest(body), dest(exit_))
        after_cond = dict(self.env)
        self.vb.position_at_end(body)
        self.statement(s.body)
        if not self.dead:
            self.emit("SAFEPOINT", None)
            self.emit("BRANCH", dest(header, *[self.env[k] for k in assigned]))
        self.env, self.dead = after_cond, False
        self.vb.position_at_end(exit_)

    def stmt_Return(self, s):
        value = self.expr(s.value) if s.value is not None else None
        self.emit_return(value)

    def stmt_FunctionDecl(self, s):
        target = s.target
        if isinstance(target, ast.Local) and target.captured:
            self.declare(target, NIL)
            closure = self.closure_for(s.function)
            self.ccall("lox.box_set", self.env[target], closure)
        else:
            self.define(target, self.closure_for(s.function))

    def closure_for(self, fn: ast.FunctionNode):
        """Compile `fn` and create its closure here, capturing its upvalues' boxes."""
        info = self.mcg.function(fn)
        boxes = [self.env[self.node.locals[up.index]] if up.is_local
                 else self.upvalue_box(up.index) for up in fn.upvalues]
        helper = self.mcg.closure_new_helper(len(boxes))
        return self.vb.emit("CCALL", helper, (Imm(info.code_id), *boxes), (), None,
                            results=1)

    def stmt_Class(self, s):
        cls = self.ccall("lox.class_new", self.mcg.string(s.name))
        self.define(s.target, cls)
        if s.superclass is not None:
            superclass = self.expr(s.superclass)
            with self.vb.at_line(s.superclass.line):
                self.ccall("lox.inherit", cls, superclass)
            self.declare(s.super_local, superclass)
        for method in s.methods:
            closure = self.closure_for(method)
            self.ccall("lox.method", cls, self.mcg.string(method.name), closure)
        if s.super_local is not None:
            self.env.pop(s.super_local, None)

    # --- expressions -----------------------------------------------------------------

    def expr(self, e):
        """Compile one expression (line handling as in `statement`); returns its value."""
        vb = self.vb
        saved, vb.line = vb.line, e.line
        value = getattr(self, "expr_" + type(e).__name__)(e)
        vb.line = saved
        return value

    def expr_Literal(self, e):
        v = e.value
        if v is None:
            return NIL
        if v is True:
            return TRUE
        if v is False:
            return FALSE
        if isinstance(v, float):
            return Imm(v)
        return self.emit("LOAD", TAGREF64, self.mcg.string(v), 0, results=1)

    def expr_Grouping(self, e):
        return self.expr(e.expr)

    def expr_Unary(self, e):
        right = self.expr(e.right)
        with self.vb.at_line(e.line):
            if e.op == "-":
                self.profile(right)
                return self.ccall("lox.neg", right)
            return self.ccall("lox.not", right)

    BINARY = {"+": "lox.add", "-": "lox.sub", "*": "lox.mul", "/": "lox.div",
              "<": "lox.less", "<=": "lox.less_equal", ">": "lox.greater",
              ">=": "lox.greater_equal", "==": "lox.equal", "!=": "lox.not_equal"}

    def expr_Binary(self, e):
        left = self.expr(e.left)
        right = self.expr(e.right)
        with self.vb.at_line(e.line):
            if e.op not in ("==", "!="):     # equality is exact without a profile
                self.profile(left, right)
            return self.ccall(self.BINARY[e.op], left, right)

    def expr_Logical(self, e):
        left = self.expr(e.left)
        cond = self.truthy(left)
        rhs, short = self.new_block("rhs"), self.new_block("short")
        if e.op == "and":
            self.emit("BRANCH2", cond, dest(rhs), dest(short))
        else:
            self.emit("BRANCH2", cond, dest(short), dest(rhs))
        join = Join(self, extra=1)
        saved = dict(self.env)
        self.vb.position_at_end(short)
        join.arrive(left)
        self.env, self.dead = saved, False
        self.vb.position_at_end(rhs)
        right = self.expr(e.right)
        join.arrive(right)
        return join.land()[0]

    def expr_Variable(self, e):
        return self.read(e.binding)

    def read(self, binding):
        if isinstance(binding, ast.LocalBinding):
            return self.read_local(binding.local)
        if isinstance(binding, ast.UpvalueBinding):
            return self.ccall("lox.box_get", self.upvalue_box(binding.index))
        return self.ccall("lox.get_global", self.mcg.global_var(binding.name),
                          self.mcg.string(binding.name))

    def expr_Assign(self, e):
        value = self.expr(e.value)
        with self.vb.at_line(e.line):
            b = e.binding
            if isinstance(b, ast.LocalBinding):
                self.write_local(b.local, value)
            elif isinstance(b, ast.UpvalueBinding):
                self.ccall("lox.box_set", self.upvalue_box(b.index), value)
            else:
                self.ccall("lox.set_global", self.mcg.global_var(b.name),
                           self.mcg.string(b.name), value)
        return value

    def expr_This(self, e):
        return self.read(e.binding)

    def expr_Get(self, e):
        obj = self.expr(e.obj)
        with self.vb.at_line(e.line):
            self.profile(obj)
            return self.ccall("lox.get_property", obj, self.mcg.string(e.name))

    def expr_Set(self, e):
        obj = self.expr(e.obj)
        value = self.expr(e.value)
        with self.vb.at_line(e.line):
            self.profile(obj)
            self.ccall("lox.set_property", obj, self.mcg.string(e.name), value)
        return value

    def expr_Super(self, e):
        this = self.read(e.binding_this)
        superclass = self.read(e.binding_super)
        with self.vb.at_line(e.line):
            return self.ccall("lox.get_super", this, superclass, self.mcg.string(e.method))

    def expr_Call(self, e):
        callee_node = e.callee
        if isinstance(callee_node, ast.Get):
            obj = self.expr(callee_node.obj)
            args = [self.expr(a) for a in e.args]
            with self.vb.at_line(e.line):
                self.profile(obj)
                callee = self.ccall("lox.get_method", obj, self.mcg.string(callee_node.name))
                self.mcg.invoke_helper(len(args))
        elif isinstance(callee_node, ast.Super):
            this = self.read(callee_node.binding_this)
            args = [self.expr(a) for a in e.args]
            superclass = self.read(callee_node.binding_super)
            with self.vb.at_line(e.line):
                self.profile(superclass)
                callee = self.ccall("lox.get_super", this, superclass,
                                    self.mcg.string(callee_node.method))
        else:
            callee = self.expr(callee_node)
            args = [self.expr(a) for a in e.args]
        with self.vb.at_line(e.line):
            return self.call(callee, args)

    def call(self, callee, args):
        """Resolve a callee value and call it as an IR frame."""
        arity = len(args)
        self.profile(callee)
        code = self.vb.emit("CCALL", self.mcg.callee_code_helper(arity), (callee,), (), None,
                            results=1)
        closure = self.ccall("lox.callee_closure", callee)
        this = self.ccall("lox.callee_this", callee)
        return self.emit("CALL", self.mcg.sig(arity), code, (closure, this, *args), (), None,
                         results=1)


def assigned_locals(node) -> list:
    """Locals assigned anywhere inside `node`, not looking into nested functions."""
    found = []
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, ast.Assign) and isinstance(n.binding, ast.LocalBinding):
            if n.binding.local not in found:
                found.append(n.binding.local)
        if isinstance(n, (ast.FunctionNode, ast.FunctionDecl)):
            continue
        if isinstance(n, ast.Class):
            if n.superclass is not None:
                stack.append(n.superclass)
            continue
        stack.extend(children(n))
    return found


def children(n) -> list:
    """The sub-nodes of a statement or expression."""
    out = []
    for name in getattr(type(n), "__slots__", ()):
        if name in ("binding", "binding_super", "binding_this", "target", "local"):
            continue
        v = getattr(n, name, None)
        if isinstance(v, list):
            out.extend(x for x in v if hasattr(x, "line"))
        elif hasattr(v, "line") and not isinstance(v, ast.Local):
            out.append(v)
    return out
