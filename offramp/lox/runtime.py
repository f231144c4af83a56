"""The Lox runtime library: the helpers behind the `@lox.*` externs, and the program runner.

Every helper takes and returns tagref64 words and works on heap objects through the Heap
API; a guest mistake raises GuestError with clox's message.  Helpers allocate only after
their inputs are safe: inputs sit in the calling frame's registers, which are GC roots.
"""
import collections
import math
import os
import re
import sys
import time

from ..interp import semantics as sem
from ..interp.errors import GuestError
from ..ir import tagref
from ..ir.nodes import Sym, Var
from ..ir.types import TAGREF64
from ..ir.tagref import FALSE, NIL, QNAN, TRUE, from_fp, to_fp
from ..heap import MAX_ARRAY_LENGTH, ObjKind
from ..heap.objects import LOCK_REVOKED
from ..runtime.vm import VM
from ..trace import Tracer
from .allocation import buffer_classes
from .assumptions import LoxAssumptions
from .bytecode import MAX_UPVALUES
from .codegen import RETURN_THIS
from .natives import NATIVES

_QNAN = QNAN
BUILTIN_RECEIVERS = {"Array": ObjKind.ARRAY, "Lock": ObjKind.LOCK}
"""The built-in kinds with native methods (natives.py's `receiver`)."""
REPROFILE_SAMPLES = 30
"""Samples a site compiled without a profile records before its code is compiled again."""


def _num(w) -> bool:
    return (w & _QNAN) != _QNAN


def _whole_number(w) -> int | None:
    """The integer a number word holds, or None for a non-number, a fraction, an infinity
    or a NaN (which `int()` would reject with a Python exception)."""
    if not _num(w):
        return None
    x = to_fp(w)
    return int(x) if math.isfinite(x) and x.is_integer() else None


def format_number(value: float) -> str:
    """Numbers print as clox prints them (C's %g, which shows a NaN's sign: `-nan`)."""
    if value != value:
        return "-nan" if math.copysign(1.0, value) < 0 else "nan"
    return "%g" % value


def _integer(w):
    """The integer a Lox number word holds, or None (not a number, or not integral)."""
    if not _num(w):
        return None
    x = to_fp(w)
    return int(x) if x == x and abs(x) != math.inf and x == int(x) else None


LOX_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")


class GuestExit(GuestError):
    """`exit(n)`: ends the program with status n, unwinding every frame (native ones by
    the VM's error status word, as a runtime error does) but printing nothing."""

    def __init__(self, status: int):
        super().__init__(f"exit({status})")
        self.status = status


class LoxRuntime:
    """A loaded Lox program: VM, heap objects for its functions, and the helpers."""

    def __init__(self, program, config, stdout, stderr=None, stdin=None):
        self.program = program
        self.stdout = stdout
        self.stderr = stderr if stderr is not None else sys.stderr
        self.stdin = stdin       # a binary stream for getc(); sys.stdin's when None
        self.start = time.perf_counter()
        self.vm = VM(program.module, config, Tracer(config.trace, stderr, config.trace_format),
                     helpers=self.helpers(), classify=self.classify)
        self.heap = self.vm.heap
        self.functions = {}      # code_id -> FUNCTION word
        self.natives_words = []  # NATIVE words by native id
        self.builtin_methods = {kind: {} for kind in BUILTIN_RECEIVERS.values()}
        self.lock_waiters = {}      # lock word -> thread numbers queued for it, in order
        # ObjKind -> method name -> NATIVE word (the native methods of Array and Lock)
        self.init_name = self.heap.intern("init")
        # Speculation (speculate.py, optimizer.py): heap words embedded in compiled code
        # (rooted for good), closures and classes profiled since the last collection (so
        # still the objects the profile saw), guard reasons -> (function, site), sites the
        # client wants left generic, and the counters `--stats` adds.
        self.embedded = set()
        self.recent_identities = set()
        self.profile_counts = []   # lox.profile's key -> a PROFILE site's counts
        self.profile_keys = {}     # id(counts) -> key
        self.guard_sites = {}
        self.failed_sites = {}
        self.stats = {}
        self.heap.add_root_provider(self._roots)
        self.assumptions = LoxAssumptions(self)
        self.vm.source_variables = self.source_variables
        self.vm.debug_names = self.debug_names
        self._load()
        if config.tier != "interp":
            from .optimizer import make_optimizer
            self.vm.set_optimizer(make_optimizer(self, verify_passes=config.verify_ir))

    def scope_at(self, func: str, block: str, index: int) -> tuple:
        """The Lox locals in scope before instruction `index` of a block of `func`'s
        baseline: ((name, operand holding it, boxed), ...) as codegen recorded them."""
        scopes = self.program.scopes.get(func, {}).get(block, ())
        return scopes[index] if index < len(scopes) else ()

    def debug_names(self, version, block: str, index: int) -> set:
        """The SSA names holding Lox locals in scope before instruction `index` of a block
        of a baseline version (what --debuggable keeps alive)."""
        return {operand.name for _, operand, _ in self.scope_at(version.func, block, index)
                if isinstance(operand, Var)}

    def source_variables(self, frame) -> dict:
        """The Lox locals in scope in a frame (of a baseline version, or at an instruction
        whose frame state resumes in one), by name: their values, None for one that
        compiled code did not keep ("optimized out")."""
        out = {}
        for name, operand, boxed in self._frame_scope(frame):
            if not name:
                continue
            value = frame.value(operand.name) if isinstance(operand, Var) else \
                self.vm.interp.symbol_value(operand.name) if isinstance(operand, Sym) else \
                sem.literal_value(operand.value, TAGREF64)
            if boxed and value is not None:
                value = self.heap.box_get(value)
            out[name] = value
        return out

    def _frame_scope(self, frame) -> tuple:
        """The Lox locals in scope in a frame of a baseline version (or at an instruction
        whose frame state resumes in one), as `scope_at` gives them."""
        version, block, index = frame.version, frame.block, frame.index
        baseline = self.vm.module.functions[version.func].versions[0]
        if version is not baseline:
            state = frame.instruction.state()
            if state is None or state.version != baseline.name:
                return ()
            block, index = state.block, state.index
        return self.scope_at(version.func, block, index)

    def source_operand(self, frame, name: str):
        """(SSA name, boxed) of the variable holding Lox local `name` in a frame (the
        local's box when it is captured), or None: not in scope, or a constant there."""
        for local, operand, boxed in reversed(self._frame_scope(frame)):
            if local == name:
                return (operand.name, boxed) if isinstance(operand, Var) else None
        return None

    def global_word(self, name: str):
        """The value of Lox global `name`, or None when it is not defined."""
        cell = self.program.globals.get(name)
        if cell is None:
            return None
        word = self.vm.read_global(cell)
        return None if word == tagref.UNDEFINED else word

    def assign_global(self, name: str, word: int) -> None:
        """Assign a defined Lox global as the program would (what compiled code assumed
        about it breaks)."""
        if self.global_word(name) is None:
            raise ValueError(f"no global variable '{name}'")
        cell = self.vm.global_address(self.program.globals[name])
        self.heap.store64(cell, word)
        self.assumptions.written(cell)

    def literal(self, text: str) -> int:
        """The value of a Lox literal: a number, a "string", true, false or nil."""
        text = text.strip()
        if text in ("true", "false", "nil"):
            return {"true": TRUE, "false": FALSE, "nil": NIL}[text]
        if len(text) >= 2 and text[0] == text[-1] == '"':
            return self.heap.intern(text[1:-1])
        if not LOX_NUMBER.fullmatch(text):
            raise ValueError(f"not a Lox literal: {text}")
        return from_fp(float(text))

    def _roots(self):
        self.recent_identities.clear()   # after this collection a profiled word may be freed
        yield from self.embedded
        yield self.init_name
        yield from self.functions.values()
        yield from self.natives_words
        for methods in self.builtin_methods.values():
            yield from methods.values()

    def _load(self):
        """Fill the string-literal globals and define the native globals."""
        module = self.program.module
        for g, text in self.program.strings.items():
            self.vm.write_global(g, self.heap.intern(text))
        self.code_functions = [module.functions[c.ir_name] for c in self.program.codes]
        self.native_functions = []
        for native_id, native in enumerate(NATIVES):
            name = self.heap.intern(native.name)
            word = self.heap.new_native(name, native.arity, native_id)
            self.natives_words.append(word)
            self.native_functions.append(module.functions[native.ir_name])
            if native.receiver is not None:
                self.builtin_methods[BUILTIN_RECEIVERS[native.receiver]][native.name] = word
            elif native.name in self.program.globals:
                self.vm.write_global(self.program.globals[native.name], word)
        self.return_this = module.functions[RETURN_THIS]

    def run(self):
        """Run the script; GuestError propagates with the guest stack attached."""
        script = self.program.module.functions[self.program.script]
        closure = self.heap.new_closure(self._function_object(0), ())
        return self.vm.call(script, [closure, NIL])

    def classify(self, word):
        """Profile key of a value: 'num', 'nil', 'true', 'false', ('shape', id) for an
        instance, ('closure', word) / ('class', word) (the value itself, so call targets
        can be speculated), or the heap kind's name."""
        if _num(word):
            return "num"
        if not tagref.is_ref(word):
            return tagref.describe(word)
        kind = self.heap.kind_of(word)
        if kind is ObjKind.INSTANCE:
            return ("shape", self.heap.instance_shape_id(word))
        if kind is ObjKind.CLOSURE or kind is ObjKind.CLASS:
            self.recent_identities.add(word)
            return (kind.name.lower(), word)
        return kind.name.lower()

    def profile_key(self, profiles: dict, site: int) -> int:
        """The key compiled code passes to `lox.profile` for PROFILE site `site` of a
        baseline whose profiles are `profiles` (the interpreter's counts, shared)."""
        counts = profiles.setdefault(site, {})
        key = self.profile_keys.get(id(counts))
        if key is None:
            key = self.profile_keys[id(counts)] = len(self.profile_counts)
            self.profile_counts.append(counts)
        return key

    def profile(self, key, value):
        """`lox.profile`: compiled code records a value at a site it was compiled without a
        profile for, as the interpreter's PROFILE does.  Once the site has REPROFILE_SAMPLES
        samples, the native code making the call is compiled again with them."""
        counts = self.profile_counts[key]
        kind = self.classify(value)
        counts[kind] = counts.get(kind, 0) + 1
        if sum(counts.values()) == REPROFILE_SAMPLES:
            self.vm.reoptimize_caller(f"profiled site {key}")

    def embed(self, word) -> int:
        """Keep a heap object alive for good: compiled code holds its address."""
        self.embedded.add(word)
        return word

    # --- helpers -----------------------------------------------------------------------

    def helpers(self) -> dict:
        """The implementation of every `@lox.*` extern."""
        h = {
            "lox.add": self.add, "lox.sub": self.sub, "lox.mul": self.mul,
            "lox.div": self.div, "lox.neg": self.neg, "lox.not": self.not_,
            "lox.less": self.less, "lox.less_equal": self.less_equal,
            "lox.greater": self.greater, "lox.greater_equal": self.greater_equal,
            "lox.equal": self.equal, "lox.not_equal": self.not_equal,
            "lox.truthy": self.truthy, "lox.print": self.print,
            "lox.get_global": self.get_global, "lox.set_global": self.set_global,
            "lox.define_global": self.define_global,
            "lox.box_new": lambda v: self.heap.new_box(v),
            "lox.box_get": lambda b: self.heap.box_get(b),
            "lox.box_set": lambda b, v: self.heap.box_set(b, v),
            "lox.upvalue": lambda c, i: self.heap.closure_upvalue(c, i),
            "lox.class_new": self.class_new, "lox.inherit": self.inherit,
            "lox.method": self.method, "lox.get_property": self.get_property,
            "lox.get_method": self.get_method,
            "lox.set_property": self.set_property, "lox.get_super": self.get_super,
            "lox.callee_closure": self.callee_closure, "lox.callee_this": self.callee_this,
            "lox.instantiate": self.instantiate,
            "lox.profile": self.profile,
            "lox.clock": lambda: from_fp(time.perf_counter() - self.start),
            "lox.array_new": self.array_new, "lox.array_get": self.array_get,
            "lox.array_set": self.array_set, "lox.array_length": self.array_length,
            "lox.deopt_here": self.deopt_here,
            "lox.getc": self.getc, "lox.chr": self.chr, "lox.exit": self.exit,
            "lox.print_error": self.print_error,
            "lox.spawn": self.spawn, "lox.join": self.join, "lox.lock_new": self.lock_new,
            "lox.lock_acquire": self.lock_acquire, "lox.lock_release": self.lock_release,
        }
        for arity in range(256):
            h[f"lox.callee_code.{arity}"] = self._callee_code(arity)
            h[f"lox.invoke.{arity}"] = self._invoke(arity)
        for count in range(MAX_UPVALUES + 1):
            h[f"lox.closure_new.{count}"] = self._closure_new(count)
        return h

    def add(self, a, b):
        if _num(a) and _num(b):
            x, y = to_fp(a), to_fp(b)
            return from_fp(sem.fadd(x, y))
        heap = self.heap
        if heap.kind_of(a) is ObjKind.STRING and heap.kind_of(b) is ObjKind.STRING:
            return heap.concat(a, b)
        raise GuestError("Operands must be two numbers or two strings.")

    def _numbers(self, a, b):
        if _num(a) and _num(b):
            return to_fp(a), to_fp(b)
        raise GuestError("Operands must be numbers.")

    def sub(self, a, b):
        x, y = self._numbers(a, b)
        return from_fp(sem.fsub(x, y))

    def mul(self, a, b):
        x, y = self._numbers(a, b)
        return from_fp(sem.fmul(x, y))

    def div(self, a, b):
        x, y = self._numbers(a, b)
        return from_fp(sem.fdiv(x, y))

    def neg(self, a):
        if not _num(a):
            raise GuestError("Operand must be a number.")
        return from_fp(-to_fp(a))

    def not_(self, a):
        return TRUE if a == NIL or a == FALSE else FALSE

    def less(self, a, b):
        x, y = self._numbers(a, b)
        return TRUE if x < y else FALSE

    def less_equal(self, a, b):
        """clox's `a <= b` is `!(a > b)`: true when either is NaN."""
        x, y = self._numbers(a, b)
        return FALSE if x > y else TRUE

    def greater(self, a, b):
        x, y = self._numbers(a, b)
        return TRUE if x > y else FALSE

    def greater_equal(self, a, b):
        """clox's `a >= b` is `!(a < b)`: true when either is NaN."""
        x, y = self._numbers(a, b)
        return FALSE if x < y else TRUE

    def equal(self, a, b):
        return TRUE if self._equal(a, b) else FALSE

    def not_equal(self, a, b):
        return FALSE if self._equal(a, b) else TRUE

    @staticmethod
    def _equal(a, b) -> bool:
        if _num(a) and _num(b):
            return to_fp(a) == to_fp(b)
        return a == b

    @staticmethod
    def truthy(a):
        return 0 if a == NIL or a == FALSE else 1

    def print(self, value):
        self.stdout.write(self.to_text(value) + "\n")

    def to_text(self, w) -> str:
        """The text `print` shows for a value."""
        if _num(w):
            return format_number(to_fp(w))
        if w == NIL:
            return "nil"
        if w == TRUE:
            return "true"
        if w == FALSE:
            return "false"
        heap = self.heap
        kind = heap.kind_of(w)
        if kind is ObjKind.STRING:
            return heap.string_text(w)
        if kind is ObjKind.CLOSURE:
            return self._function_text(heap.closure_function(w))
        if kind is ObjKind.FUNCTION:
            return self._function_text(w)
        if kind is ObjKind.BOUND_METHOD:
            return self.to_text(heap.bound_method(w))
        if kind is ObjKind.NATIVE:
            return "<native fn>"
        if kind is ObjKind.CLASS:
            return heap.string_text(heap.class_name(w))
        if kind is ObjKind.INSTANCE:
            return heap.string_text(heap.class_name(heap.instance_class(w))) + " instance"
        if kind is ObjKind.ARRAY:
            return f"<array {heap.array_length(w)}>"
        if kind is ObjKind.THREAD:
            return f"<thread {heap.thread_index(w)}>"
        if kind is ObjKind.LOCK:
            return "<lock>"
        return tagref.describe(w)

    def _function_text(self, fn) -> str:
        name = self.heap.string_text(self.heap.function_name(fn))
        return f"<fn {name}>" if name else "<script>"

    def get_global(self, cell, name_cell):
        value = self.heap.load64(cell)
        if value == tagref.UNDEFINED:
            raise GuestError(f"Undefined variable '{self._name(name_cell)}'.")
        return value

    def set_global(self, cell, name_cell, value):
        if self.heap.load64(cell) == tagref.UNDEFINED:
            raise GuestError(f"Undefined variable '{self._name(name_cell)}'.")
        self.heap.store64(cell, value)
        self.assumptions.written(cell)

    def define_global(self, cell, value):
        self.heap.store64(cell, value)
        self.assumptions.written(cell)

    def _name(self, name_cell) -> str:
        return self.heap.string_text(self.heap.load64(name_cell))

    def _function_object(self, code_id):
        fn = self.functions.get(code_id)
        if fn is None:
            info = self.program.codes[code_id]
            name = self.heap.intern(info.name if info.kind != "script" else "")
            fn = self.functions[code_id] = self.heap.new_function(
                name, info.arity, code_id, info.upvalue_count)
        return fn

    def _closure_new(self, count):
        """The helper creating a closure of a code id with its `count` captured boxes."""
        def closure_new(code_id, *boxes):
            return self.heap.new_closure(self._function_object(code_id), boxes)
        return closure_new

    def class_new(self, name_cell):
        return self.heap.new_class(self.heap.load64(name_cell))

    def inherit(self, sub, sup):
        if self.heap.kind_of(sup) is not ObjKind.CLASS:
            raise GuestError("Superclass must be a class.")
        self.heap.class_inherit(sub, sup)

    def method(self, cls, name_cell, closure):
        self.heap.class_set_method(cls, self.heap.load64(name_cell), closure)

    def get_property(self, obj, name_cell):
        """`obj.name` read as a value (clox's OP_GET_PROPERTY)."""
        return self._lookup(obj, name_cell, "Only instances have properties.")

    def get_method(self, obj, name_cell):
        """`obj.name` about to be called, `obj.name(...)` (clox's OP_INVOKE): the same
        lookup, with clox's invoke message for a value that is not an instance."""
        return self._lookup(obj, name_cell, "Only instances have methods.")

    def _lookup(self, obj, name_cell, not_instance: str):
        """A field of an instance, else a method bound to it (an Array's native method)."""
        heap = self.heap
        name = heap.load64(name_cell)
        kind = heap.kind_of(obj)
        if kind is ObjKind.INSTANCE:
            value = heap.instance_get_field(obj, name)
            if value is not None:
                return value
            method = heap.class_find_method(heap.instance_class(obj), name)
            if method is not None:
                return heap.new_bound_method(obj, method)
        elif kind in self.builtin_methods:
            native = self.builtin_methods[kind].get(heap.string_text(name))
            if native is not None:
                return heap.new_bound_method(obj, native)
        else:
            raise GuestError(not_instance)
        raise GuestError(f"Undefined property '{heap.string_text(name)}'.")

    def set_property(self, obj, name_cell, value):
        if self.heap.kind_of(obj) is not ObjKind.INSTANCE:
            raise GuestError("Only instances have fields.")
        self.heap.instance_set_field(obj, self.heap.load64(name_cell), value)

    def get_super(self, this, superclass, name_cell):
        name = self.heap.load64(name_cell)
        method = self.heap.class_find_method(superclass, name)
        if method is None:
            raise GuestError(f"Undefined property '{self.heap.string_text(name)}'.")
        return self.heap.new_bound_method(this, method)

    def deopt_here(self):
        """`deoptHere()`: the Lox function that called it leaves native code (if it is in
        native code) when the call returns; virtual frame 0 is deoptHere's own."""
        self.vm.deoptimize_frame(1)
        return NIL

    # --- LoxLox's natives ----------------------------------------------------------------

    def getc(self):
        """`getc()`: the next byte of standard input, -1 at its end (or when there is no
        readable standard input: closed, or not a file)."""
        if self.stdin is None:
            self.stdin = getattr(sys.stdin, "buffer", None)
        try:
            byte = self.stdin.read(1) if self.stdin is not None else b""
        except (OSError, ValueError):
            byte = b""
        return from_fp(float(byte[0]) if byte else -1.0)

    def chr(self, n):
        """`chr(n)`: the one-character string of character code n."""
        code = _integer(n)
        if code is None or not 0 <= code <= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            raise GuestError("Character code must be an integer from 0 to 1114111, "
                             "not a surrogate.")
        return self.heap.intern(chr(code))

    def exit(self, n):
        """`exit(n)`: end the program with status n (the driver flushes the output)."""
        status = _integer(n)
        if status is None or not 0 <= status <= 255:
            raise GuestError("Exit status must be an integer from 0 to 255.")
        raise GuestExit(status)

    def print_error(self, value):
        """`print_error(v)`: v as `print` shows it, and a newline, on standard error (after
        the output so far, so that a terminal shows both in order)."""
        self.stdout.flush()
        self.stderr.write(self.to_text(value) + "\n")
        self.stderr.flush()
        return NIL

    # --- calls ---------------------------------------------------------------------------

    def _callee_code(self, argc):
        """The helper checking a callee for an `argc`-argument call and giving its code."""
        def callee_code(callee):
            heap = self.heap
            kind = heap.kind_of(callee)
            if kind is ObjKind.BOUND_METHOD:
                callee = heap.bound_method(callee)
                kind = heap.kind_of(callee)
            if kind is ObjKind.CLOSURE:
                fn = heap.closure_function(callee)
                self._check_arity(heap.function_arity(fn), argc)
                return self.code_functions[heap.function_code_id(fn)]
            if kind is ObjKind.CLASS:
                init = heap.class_find_method(callee, self.init_name)
                if init is None:
                    self._check_arity(0, argc)
                    return self.return_this
                fn = heap.closure_function(init)
                self._check_arity(heap.function_arity(fn), argc)
                return self.code_functions[heap.function_code_id(fn)]
            if kind is ObjKind.NATIVE:
                code = self.native_code(callee, argc)
                if code is None:
                    self._check_arity(NATIVES[heap.native_id(callee)].arity, argc)
                return code
            raise GuestError("Can only call functions and classes.")
        return callee_code

    def _invoke(self, argc):
        """The helper of `lox.invoke.A` (an inline cache of kind `invoke`): the closure,
        code and `this` of `obj.name(...)` from one lookup, raising what get_method and
        the call would — what `get_method` then `callee_code.A`, `callee_closure` and
        `callee_this` give, without making a bound method for a method of the class."""
        callee_code = self._callee_code(argc)

        def invoke(obj, name_cell):
            heap = self.heap
            if heap.kind_of(obj) is ObjKind.INSTANCE:
                name = heap.load64(name_cell)
                method = None if heap.instance_get_field(obj, name) is not None else \
                    heap.class_find_method(heap.instance_class(obj), name)
                if method is not None:
                    return method, callee_code(method), obj
            callee = self.get_method(obj, name_cell)
            with heap.handles(callee):
                code = callee_code(callee)          # the call's errors first, as in clox
                return self.callee_closure(callee), code, self.callee_this(callee)
        return invoke

    def native_code(self, native_word, argc: int):
        """The IR function of a native called with `argc` arguments, or None when too few
        (clox's natives ignore extra arguments: a wider wrapper takes them)."""
        native_id = self.heap.native_id(native_word)
        native = NATIVES[native_id]
        if argc > native.arity:
            return self.program.module.functions.get(native.ir_name_for(argc))
        return self.native_functions[native_id] if argc == native.arity else None

    @staticmethod
    def _check_arity(arity, argc):
        if arity != argc:
            raise GuestError(f"Expected {arity} arguments but got {argc}.")

    def callee_closure(self, callee):
        heap = self.heap
        kind = heap.kind_of(callee)
        if kind is ObjKind.BOUND_METHOD:
            return heap.bound_method(callee)
        if kind is ObjKind.CLASS:
            init = heap.class_find_method(callee, self.init_name)
            return NIL if init is None else init
        return callee

    def callee_this(self, callee):
        heap = self.heap
        kind = heap.kind_of(callee)
        if kind is ObjKind.BOUND_METHOD:
            return heap.bound_receiver(callee)
        if kind is ObjKind.CLASS:
            return heap.new_instance(callee)
        return NIL

    def instantiate(self, cls):
        """The slow path of an inline allocation (allocation.py): the instance, allocated
        here, and the calling thread's allocation buffer refilled for the next ones."""
        instance = self.heap.new_instance(cls)
        native = self.vm.threads.current().native
        if native is not None:
            classes = [c for c in buffer_classes(self.heap, cls) if c is not None]
            with self.heap.handles(instance):
                self.heap.refill_buffer(native.buffer_address, classes)
        return instance

    # --- threads and locks -------------------------------------------------------------

    def spawn(self, fn):
        """`spawn(fn)`: a new thread running fn() (a function, closure or bound method of
        no parameters); the thread object."""
        heap = self.heap
        kind = heap.kind_of(fn)
        closure, this = fn, NIL
        if kind is ObjKind.BOUND_METHOD:
            closure, this = heap.bound_method(fn), heap.bound_receiver(fn)
        if heap.kind_of(closure) is not ObjKind.CLOSURE:
            raise GuestError("Can only spawn functions and methods.")
        function = heap.closure_function(closure)
        self._check_arity(heap.function_arity(function), 0)
        code = self.code_functions[heap.function_code_id(function)]
        vm = self.vm
        thread = vm.threads.spawn(f"thread {len(vm.threads.all)}",
                                  lambda: self._thread_body(code, closure, this),
                                  roots=(closure, this))
        return heap.new_thread(thread.index)

    def _thread_body(self, code, closure, this):
        """What a spawned thread runs.  `exit(n)` in it ends the whole program at once,
        its output flushed."""
        try:
            return self.vm.invoke(code, [closure, this])
        except GuestExit as stop:
            self.stdout.flush()
            self.stderr.flush()
            os._exit(stop.status)

    def join(self, thread_word):
        """`join(t)`: wait for thread t to end; what its function returned, or its runtime
        error raised again here (its trace lines before the joiner's)."""
        if self.heap.kind_of(thread_word) is not ObjKind.THREAD:
            raise GuestError("Can only join threads.")
        threads = self.vm.threads
        thread = threads.all[self.heap.thread_index(thread_word)]
        threads.block(f"join of thread {thread.index}", lambda: thread.done)
        thread.joined = True
        error = thread.error
        if isinstance(error, GuestError):
            again = GuestError(error.message)
            again.cause_stack = (error.cause_stack or []) + (error.stack or [])
            raise again
        if error is not None:
            raise error
        return thread.result

    def lock_new(self):
        return self.heap.new_lock()

    def lock_acquire(self, lock):
        """`lock.acquire()`'s slow path (locks.py has the biased fast path): take the lock,
        blocking (a safe state) while another thread holds it; acquiring a lock this
        thread holds is an error (no re-entry).  A lock biased to another thread loses its
        bias first; a lock never taken is biased to this thread.  The lock is fair: a
        waiter queues, and `release` hands the lock to the first in the queue — a thread
        that releases and acquires again in a loop cannot starve the others."""
        heap, threads = self.heap, self.vm.threads
        me = threads.current().index + 1
        if heap.lock_holder(lock) == me:
            raise GuestError("Lock is already held by this thread.")
        self._revoke_bias(lock, me)
        if heap.lock_holder(lock) or self.lock_waiters.get(lock):
            self._wait_for_lock(lock, me)
        else:
            heap.set_lock_holder(lock, me)
        if heap.lock_bias(lock) == 0 and self.vm.tiers is not None:
            heap.set_lock_bias(lock, me)
        return NIL

    def _wait_for_lock(self, lock, me: int) -> None:
        """Queue for the lock and block until a release hands it over (or `Deadlock.`)."""
        heap = self.heap
        queue = self.lock_waiters.setdefault(lock, collections.deque())
        queue.append(me)
        try:
            self.vm.threads.block("a lock", lambda: heap.lock_holder(lock) == me)
        except BaseException:
            queue.remove(me)
            if not queue:
                del self.lock_waiters[lock]
            raise

    def _revoke_bias(self, lock, me: int) -> None:
        """A lock biased to another thread becomes a real lock: a handshake with that
        thread (stopped at a safepoint, so never inside its fast path) clears the bias."""
        heap, threads = self.heap, self.vm.threads
        bias = heap.lock_bias(lock)
        if bias in (0, me, LOCK_REVOKED):
            return
        with heap.handles(lock):
            threads.handshake(threads.all[bias - 1],
                              lambda _: heap.set_lock_bias(lock, LOCK_REVOKED), "revoke")
        self.stats["lock bias revocations"] = self.stats.get("lock bias revocations", 0) + 1

    def lock_release(self, lock):
        """`lock.release()`'s slow path: hand the lock to the first thread waiting, or
        give it up."""
        heap = self.heap
        if heap.lock_holder(lock) != self.vm.threads.current().index + 1:
            raise GuestError("Lock is not held by this thread.")
        queue = self.lock_waiters.get(lock)
        successor = queue.popleft() if queue else 0
        if queue is not None and not queue:
            del self.lock_waiters[lock]
        self.vm.threads.changed(lambda: heap.set_lock_holder(lock, successor))
        return NIL

    # --- Array -----------------------------------------------------------------------------

    def array_new(self, n):
        """`Array(n)`: n nils; n a whole number from 0 to MAX_ARRAY_LENGTH (README)."""
        size = _whole_number(n)
        if size is None or size < 0:
            raise GuestError("Array size must be a non-negative integer.")
        if size > MAX_ARRAY_LENGTH:
            raise GuestError(f"Array size must be at most {MAX_ARRAY_LENGTH}.")
        return self.heap.new_array(size)

    def _index(self, array, i):
        index = _whole_number(i)
        if index is None:
            raise GuestError("Array index must be an integer.")
        if not 0 <= index < self.heap.array_length(array):
            raise GuestError("Array index out of bounds.")
        return index

    def array_get(self, array, i):
        return self.heap.array_get(array, self._index(array, i))

    def array_set(self, array, i, value):
        self.heap.array_set(array, self._index(array, i), value)
        return value

    def array_length(self, array):
        return from_fp(float(self.heap.array_length(array)))
