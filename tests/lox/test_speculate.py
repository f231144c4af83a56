"""Speculation (offramp/lox/speculate.py) and the Lox optimizer (offramp/lox/optimizer.py).

In the interpreter first (fast and deterministic): a program runs with profiling, a call
hook optimizes each Lox function at its Nth call (and a loop hook enters an optimized OSR
entry clone, as tiering does), so the rest of the run executes the speculated versions —
the interpreter runs any version.  Every produced version passes the verifier (after every
pass), the output equals a plain interpreter run, and when a program breaks a speculation
the guard's reason names it and its site.  Then the same programs end to end with
`--tier=jit` (low thresholds) against `--tier=interp`.
"""
import io
from collections import Counter

import pytest

from offramp.config import Config
from offramp.interp.errors import GuestError
from offramp.ir.text import parse_module, print_module, print_version
from offramp.ir.verify import verify_module, verify_version
from offramp.lox.codegen import compile_program
from offramp.lox.driver import run_lox
from offramp.lox.optimizer import make_optimizer
from offramp.lox.parser import parse_program
from offramp.lox.runtime import LoxRuntime
from offramp.lox.speculate import speculate
from offramp.opt.osr import osr_entry


class Run:
    """One interpreter run of a Lox program whose functions are optimized when hot."""

    def __init__(self, source: str, after_calls: int = 10, loop_after: int = 0,
                 profile: bool = True, optimize: bool = True):
        script, errors = parse_program(source)
        assert not errors, errors
        self.program = compile_program(script, profile=profile)
        self.module = self.program.module
        self.out = io.StringIO()
        self.runtime = LoxRuntime(self.program, Config(tier="interp"), self.out)
        self.vm = self.runtime.vm
        self.optimizer = make_optimizer(self.runtime, verify_passes=True)
        self.optimized = {}
        self.assumed = {}          # function name -> what its optimized version assumes
        self.after_calls = after_calls
        self.calls = Counter()
        self.error = None
        if optimize:
            self.vm.interp.call_hook = self.on_call
            if loop_after:
                self.vm.interp.loop_threshold = loop_after
                self.vm.interp.loop_hook = self.on_hot_loop
        try:
            self.runtime.run()
        except GuestError as error:
            self.error = error

    def optimize(self, func):
        """The optimizer's version, made runnable by the interpreter: this harness has no
        native tier, and its programs break no assumption, so what a version assumes is
        kept aside (`assumed`) rather than keeping the interpreter out of it."""
        version = self.optimizer(self.vm, func)
        self.assumed[func.name] = version.assumptions
        version.assumptions = frozenset()
        return version

    def on_call(self, thread, func, args):
        """Optimize a Lox function at its Nth call; the interpreter then enters it."""
        self.calls[func.name] += 1
        if self.calls[func.name] == self.after_calls and func.name.startswith("lox.fn"):
            self.optimized[func.name] = self.optimize(func)
        return None

    def on_hot_loop(self, thread, frame):
        """OSR as tiering does it: an optimized entry clone called with the frame's values."""
        version = frame.code.version
        if version.name != "v1" or (version.func, frame.block) in self.optimized:
            return None
        func, live = osr_entry(self.module, version, frame.block)
        self.optimized[(version.func, frame.block)] = self.optimize(func)
        return (True, self.vm.interp.call(thread, func, [frame.value(n) for n in live]))

    @property
    def deopts(self) -> dict:
        return dict(self.vm.interp.deopts)

    def version(self, lox_name: str):
        """The optimized version of the Lox function called `lox_name`."""
        for name, version in self.optimized.items():
            if isinstance(name, str) and name.endswith("." + lox_name):
                return version
        raise KeyError(lox_name)

    def text(self, lox_name: str) -> str:
        return print_version(self.module, self.version(lox_name))


def interpreted(source: str):
    """(stdout, error message) of a plain interpreter run without profiling."""
    run = Run(source, profile=False, optimize=False)
    return run.out.getvalue(), run.error and run.error.message


def check_same(source: str, **kw) -> Run:
    """Run with speculation; the output (and any error) equals the plain interpreter's."""
    run = Run(source, **kw)
    expected, error = interpreted(source)
    assert run.out.getvalue() == expected
    assert (run.error and run.error.message) == error
    assert run.optimized, "nothing was optimized"
    for version in run.optimized.values():
        verify_version(run.module, version)
    return run


def failed(run: Run, what: str) -> list:
    """Deopt reasons starting with `what` (the speculation's name)."""
    return [r for r in run.deopts if r.startswith(what)]


# --- programs ------------------------------------------------------------------------------

ARITHMETIC = """
fun arith(a, b) {
  var s = a + b;
  var d = a - b;
  var p = a * b;
  var q = a / b;
  var n = -a;
  if (a < b and a <= b) s = s + 1;
  if (a > b or a >= b) d = d - 1;
  return s + d + p + q + n;
}
var total = 0;
for (var i = 0; i < 40; i = i + 1) total = total + arith(i, 3);
print total;
print arith(1, 0);
print arith(-1, 0);
print arith(0, 0) == arith(0, 0);
"""

STRINGS_LATER = """
fun add(a, b) { return a + b; }
var t = 0;
for (var i = 0; i < 30; i = i + 1) t = add(t, i);
print t;
print add("con", "cat");
print add(t, 0.5);
"""

EQUALITY = """
fun eq(a, b) { return a == b; }
fun ne(a, b) { return a != b; }
var nan = 0 / 0;
for (var i = 0; i < 20; i = i + 1) { eq(i, i); ne(i, i + 1); }
print eq(nan, nan);
print ne(nan, nan);
print eq(0, -0);
print eq("a", "a");
print eq(nil, false);
print ne(nil, nil);
print eq(true, true);
print eq(1, "1");
print !nil;
print !0;
"""

CLASSES = """
class Point {
  init(x, y) { this.x = x; this.y = y; }
  sum() { return this.x + this.y; }
  move(dx) { this.x = this.x + dx; return this; }
}
class Empty {}
fun run(p) { return p.move(1).sum(); }
fun make(i) { return Point(i, 2 * i); }
fun empty() { return Empty(); }
var total = 0;
for (var i = 0; i < 30; i = i + 1) {
  total = total + run(make(i));
  empty();
}
print total;
print empty();
"""

OTHER_SHAPE = """
class A { init() { this.v = 1; } get() { return this.v; } }
class B { init() { this.w = 0; this.v = 2; } get() { return this.v * 10; } }
fun call(o) { return o.get(); }
fun field(o) { return o.v; }
fun store(o) { o.v = o.v + 1; return o.v; }
var a = A();
var t = 0;
for (var i = 0; i < 30; i = i + 1) t = t + call(a) + field(a) + store(a);
print t;
var b = B();
print call(b);
print field(b);
print store(b);
"""

TWO_SHAPES_ONE_CLASS = """
class A { get() { return 1; } }
fun call(o) { return o.get(); }
var a = A(); var b = A(); b.x = 2;
var t = 0;
for (var i = 0; i < 30; i = i + 1) t = t + call(a) + call(b);
print t;
"""

CLOSURES = """
fun counter() {
  var n = 0;
  fun inc() { n = n + 1; return n; }
  return inc;
}
var c = counter();
fun twice(f) { f(); return f(); }
var t = 0;
for (var i = 0; i < 30; i = i + 1) t = t + twice(c);
print t;
var d = counter();
print twice(d);
"""

SUPER = """
class Base { init(s) { this.s = s; } flip() { this.s = !this.s; return this; } value() { return this.s; } }
class Sub < Base {
  init(s) { super.init(s); this.n = 0; }
  flip() { this.n = this.n + 1; if (this.n >= 2) { super.flip(); this.n = 0; } return this; }
}
var a = Base(true);
var b = Sub(true);
for (var i = 0; i < 40; i = i + 1) { a.flip(); b.flip(); }
print a.value();
print b.value();
print b.n;
"""

UNDEFINED_GLOBAL = """
fun f(flag) {
  if (flag) return notDefined;
  return 1;
}
fun four() { f(false); f(false); f(false); f(false); }
four(); four(); four();
print "before";
f(true);
"""

HOT_LOOP = """
var total = 0;
class Box { init(v) { this.v = v; } }
var b = Box(1);
for (var i = 0; i < 200; i = i + 1) {
  total = total + i * b.v;
  if (i == 150) total = total + 0.5;
}
print total + b.v;
"""

BUILTIN_METHODS = """
class Getter { get(i) { return 5; } }
fun locked(l, a) { l.acquire(); var v = a.get(0); a.set(0, v + 1); l.release(); return v; }
var lock = Lock(); var arr = Array(1); arr.set(0, 0);
for (var i = 0; i < 30; i = i + 1) locked(lock, arr);
print arr.get(0);
print locked(lock, Getter());
"""

PROGRAMS = {"builtin_methods": BUILTIN_METHODS, "arithmetic": ARITHMETIC, "strings_later": STRINGS_LATER, "equality": EQUALITY,
            "classes": CLASSES, "other_shape": OTHER_SHAPE, "closures": CLOSURES,
            "super": SUPER, "undefined_global": UNDEFINED_GLOBAL}


# --- the interpreter -------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_speculated_versions_run_like_the_baseline(name):
    check_same(PROGRAMS[name])


@pytest.mark.parametrize("name", ["classes", "super"])
def test_the_module_with_speculated_versions_verifies_and_round_trips(name):
    run = check_same(PROGRAMS[name])
    verify_module(run.module)
    assert parse_module(print_module(run.module)) == run.module


def test_numbers_are_guarded_and_unboxed():
    run = check_same(ARITHMETIC)
    text = run.text("arith")
    for op in ("FADD", "FSUB", "FMUL", "FDIV", "FNEG", "FOLT", "FOGT"):
        assert op in text, op
    # clox's `a <= b` is `!(a > b)` and `a >= b` is `!(a < b)`: true with a NaN operand
    assert "FOLE" not in text and "FOGE" not in text
    assert "lox.add" not in text and "PROFILE" not in text
    assert '"not a number @entry:' in text
    assert not run.deopts


def test_division_by_zero_gives_infinities():
    run = check_same("fun d(a, b) { return a / b; }\n"
                     "for (var i = 0; i < 20; i = i + 1) d(i, 1);\n"
                     "print d(1, 0); print d(-1, 0); print d(0, 0) == d(0, 0);")
    assert run.out.getvalue() == "inf\n-inf\nfalse\n"
    assert not run.deopts


def test_strings_after_numbers_deopt_at_the_add():
    run = check_same(STRINGS_LATER)
    assert run.out.getvalue().splitlines()[1] == "concat"
    reasons = failed(run, "not a number")
    assert reasons and all(r.endswith("in lox.fn1.add") for r in reasons)


def test_equality_is_exact_without_guards():
    run = check_same(EQUALITY)
    assert run.out.getvalue().split() == ["false", "true", "true", "true", "false", "false",
                                          "true", "false", "true", "false"]
    assert "GUARD" not in run.text("eq") and "lox.equal" not in run.text("eq")
    assert not run.deopts


def test_fields_methods_and_constructors_are_direct():
    run = check_same(CLASSES)
    run_text = run.text("run")      # move and sum, speculated for it, are inlined
    assert "lox.callee_code" not in run_text and "lox.get_property" not in run_text
    assert "lox.get_method" not in run_text
    assert '"not shape' in run_text and "CALL" not in run_text.replace("CCALL", "")
    assert "in lox.fn2.sum" in run_text and "in lox.fn3.move" in run_text
    make_text = run.text("make")
    assert "lox.instantiate" in make_text and "lox.callee_this" not in make_text
    empty_text = run.text("empty")
    assert "lox.instantiate" in empty_text and "CALL" not in empty_text.replace("CCALL", "")
    assert not run.deopts


def test_methods_of_builtin_receivers_are_direct_and_the_lock_fast_path_inlined():
    run = check_same(BUILTIN_METHODS)
    assert run.error.message == "Undefined property 'set'."
    text = run.text("locked")
    assert "lox.get_method" not in text and "lox.callee_code" not in text
    assert '"not lock' in text and '"not array' in text
    assert "THREAD_LOCAL" in text             # Lock.acquire's biased fast path, inlined
    assert failed(run, "not array")           # a Getter is not an Array


def test_another_class_fails_the_shape_guards():
    run = check_same(OTHER_SHAPE)
    assert run.out.getvalue().split() == ["1425", "20", "2", "3"]
    functions = {r.split(" in lox.")[1].split(".")[1] for r in failed(run, "not shape")}
    assert {"call", "field", "store"} <= functions


def test_a_method_call_on_one_class_in_two_shapes_checks_the_class():
    """o.get() on instances of A in two shapes: a class check, and the assumption that no
    instance has a field `get`."""
    run = check_same(TWO_SHAPES_ONE_CLASS)
    assert '"not an instance of the class' in run.text("call")
    (assumed,) = [keys for name, keys in run.assumed.items() if name.endswith(".call")]
    assert {key[0] for key in assumed} == {"method"}


def test_closure_calls_are_guarded_by_identity():
    run = check_same(CLOSURES)
    text = run.text("twice")
    assert "lox.callee_code" not in text and '"not the closure' in text
    assert failed(run, "not the closure")       # d is another closure


def test_super_calls_are_direct():
    run = check_same(SUPER)
    sub_flip = print_version(run.module, run.optimized["lox.fn5.flip"])
    assert "lox.get_super" not in sub_flip and '"not the superclass' in sub_flip
    assert not run.deopts


def test_an_undefined_global_raises_the_interpreter_error():
    run = check_same(UNDEFINED_GLOBAL)
    assert run.error.message == "Undefined variable 'notDefined'."
    assert run.error.stack[-1][1].line == 3 and len(run.error.stack) == 2
    assert failed(run, "undefined variable")


def test_a_defined_global_is_read_and_assigned_without_a_guard():
    run = check_same("var seen = 0;\n"
                     "fun f() { seen = seen + 1; return later; }\n"
                     "fun g() { later = seen; }\n"
                     "var later = 0;\n"
                     "for (var i = 0; i < 20; i = i + 1) { f(); g(); }\n"
                     "print seen;")
    assert run.out.getvalue() == "20\n"
    for name in ("f", "g"):     # compiled after `var later` ran: every global is defined
        text = run.text(name)
        assert "@lox.global.seen" in text and "undefined variable" not in text, text
    assert not run.deopts


def test_osr_clone_is_speculated_with_the_original_profiles():
    run = check_same(HOT_LOOP, after_calls=10 ** 9, loop_after=20)
    (key, version), = [(k, v) for k, v in run.optimized.items() if isinstance(k, tuple)]
    text = print_version(run.module, version)
    assert "FMUL" in text and "PROFILE" not in text
    assert "@lox.fn0.script %v1" in text       # states resume in the original's baseline
    assert "not shape" in text and "FOEQ" in text   # i == 150: in the loop, compiled
    assert list(run.deopts) == [failed(run, "unreached @exit")[0]]   # the loop was running


def test_excluded_sites_stay_generic():
    run = Run(ARITHMETIC, optimize=False)
    func = run.module.functions["lox.fn1.arith"]
    assert "lox.add" not in print_version(run.module, speculate(run.runtime, func, (), "x"))
    entry = func.versions[0].blocks[0]
    (add,) = [k for k, i in enumerate(entry.instrs)
              if i.op == "CCALL" and i.arg("callee") == "lox.add"]
    again = speculate(run.runtime, func, {f"{entry.label}:{add}"}, "again")
    verify_version(run.module, again)
    text = print_version(run.module, again)
    assert "CCALL @lox.add" in text and "FSUB" in text


def test_a_failed_guard_profiles_the_value_that_failed():
    run = Run(STRINGS_LATER)
    func = run.module.functions["lox.fn1.add"]
    (reason,) = failed(run, "not a number")
    guard = next(i for b in run.version("add").blocks for i in b.instrs
                 if i.op == "GUARD" and i.arg("reason") == reason)
    resume = func.versions[0].block(guard.arg("state").block).instrs[guard.arg("state").index]
    assert resume.op == "PROFILE"        # the deopt resumed at the site's PROFILEs
    profiles = run.vm.interp.code_for(func.versions[0]).profiles
    assert any("string" in counts for counts in profiles.values())
    # Speculating again: that speculation failed (and the site is no longer monomorphic).
    again = speculate(run.runtime, func, (), "again", failed_reasons={reason})
    assert "CCALL @lox.add" in print_version(run.module, again)


def test_the_optimizer_excludes_sites_that_failed():
    run = Run(STRINGS_LATER)
    func = run.module.functions["lox.fn1.add"]
    version = run.optimizer(run.vm, func)
    assert version is func.current and version.name == "s2"
    assert "lox.add" in print_version(run.module, version)
    assert run.runtime.stats["speculated versions"] == 2


def test_embedded_heap_words_survive_collections():
    run = Run(CLOSURES + "\nprint twice(c);")
    assert run.runtime.embedded
    run.vm.heap.collect()
    for word in run.runtime.embedded:
        run.vm.heap.header(word)                 # still a live object
    assert run.out.getvalue().splitlines()[-1] == "62"


def test_no_profiles_without_the_flag():
    script, _ = parse_program("print 1 + 2;")
    module = compile_program(script).module
    assert "lox.instantiate" not in module.externs
    for func in module.functions.values():
        for version in func.versions:
            assert all(i.op != "PROFILE" for b in version.blocks for i in b.instrs)


def test_profile_sites_are_unique_and_precede_their_helper():
    script, _ = parse_program(CLASSES)
    module = compile_program(script, profile=True).module
    for func in module.functions.values():
        for version in func.versions:
            sites = [i.arg("site") for b in version.blocks for i in b.instrs
                     if i.op == "PROFILE"]
            assert len(sites) == len(set(sites))
            for block in version.blocks:
                for k, instr in enumerate(block.instrs):
                    if instr.op == "PROFILE":
                        nxt = next(i for i in block.instrs[k:] if i.op != "PROFILE")
                        assert instr.arg("value") in nxt.arg("args")


def test_classify_gives_identities_of_closures_and_classes():
    run = Run(CLASSES, optimize=False)
    rt = run.runtime
    point = rt.vm.read_global("lox.global.Point")
    run_fn = rt.vm.read_global("lox.global.run")
    assert rt.classify(point) == ("class", point)
    assert rt.classify(run_fn) == ("closure", run_fn)
    assert rt.classify(rt.vm.read_global("lox.str.0")) == "string"


# --- end to end --------------------------------------------------------------------------------

def lox(source: str, tier: str, **config):
    out, err = io.StringIO(), io.StringIO()
    status = run_lox(source, "<test>", Config(tier=tier, **config), out, err)
    return status, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("name", sorted(PROGRAMS) + ["hot_loop"])
@pytest.mark.parametrize("mode", [dict(tier="jit", call_threshold=3, loop_threshold=10),
                                  dict(tier="eager"),
                                  dict(tier="eager", deopt_stress=3),
                                  dict(tier="jit", call_threshold=3, loop_threshold=10,
                                       gc_stress=True)],
                         ids=["jit", "eager", "deopt-stress", "jit-gc-stress"])
def test_native_tiers_match_the_interpreter(name, mode):
    source = PROGRAMS.get(name, HOT_LOOP)
    assert lox(source, **mode) == lox(source, "interp")


def test_jit_reports_speculation_stats():
    status, out, err = lox(ARITHMETIC + OTHER_SHAPE, "jit", call_threshold=3,
                           loop_threshold=10, stats=True)
    assert status == 0
    assert "speculated versions:" in err and "frame states after:" in err
    assert "not shape" in err      # the native shape guards failed, by reason


ADD_FIELDS = """
class Node {
  init(a, b) { this.left = a; this.right = b; }
  sum() { return this.left + this.right; }
}
var total = 0;
for (var i = 0; i < 40; i = i + 1) total = total + Node(i, 1).sum();
print total;
"""


def helpers_called(version) -> set:
    return {i.arg("callee") for b in version.blocks for i in b.instrs if i.op == "CCALL"}


def test_adding_fields_along_a_known_transition_needs_no_helper():
    run = Run(ADD_FIELDS)
    assert run.out.getvalue() == f"{sum(range(40)) + 40}\n"
    init = run.version("init")
    assert "lox.set_property" not in helpers_called(init)
    assert run.deopts == {}


def test_an_instance_without_room_for_the_field_deoptimizes():
    # The first Node was made before its class had fields: it has no field storage yet.
    source = """
class Box { init() {} }
var first = Box();
fun fill(b, v) { b.value = v; return b; }
for (var i = 0; i < 20; i = i + 1) fill(Box(), i);
print fill(first, 7).value;
"""
    run = Run(source)
    assert run.out.getvalue() == "7\n"
    assert "lox.set_property" not in helpers_called(run.version("fill"))
    assert [r for r in run.deopts if r.startswith("no field storage")]


def test_a_field_access_never_reached_before_compilation_stays_an_inline_cache():
    source = """
class P { init() { this.x = 7; } }
fun f(o, n) { if (n < 100) return n; return o.x; }
var p = P();
var s = 0;
for (var i = 0; i < 130; i = i + 1) s = s + f(p, i);
print s;
"""
    run = check_same(source, after_calls=30)
    text = print_version(run.module, run.version("f"))
    assert 'DEOPT "unreached' not in text and "lox.get_property" in text
    assert not run.deopts


def test_code_never_reached_before_compilation_becomes_an_uncommon_trap():
    source = """
fun f(n) { if (n < 100) return n + 1; return n * 2; }
var s = 0;
for (var i = 0; i < 130; i = i + 1) s = s + f(i);
print s;
"""
    run = Run(source, after_calls=30)
    expected = sum(n + 1 for n in range(100)) + sum(n * 2 for n in range(100, 130))
    assert run.out.getvalue() == f"{expected}\n"
    text = print_version(run.module, run.version("f"))
    assert 'DEOPT "unreached' in text and "lox.mul" not in text
    assert sum(n for r, n in run.deopts.items() if r.startswith("unreached")) == 30
