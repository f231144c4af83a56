"""Method-call inline caches (kind `invoke`, native/inline_cache.py): one lookup per call.

Every state of an `invoke` region is encoded and decoded again and checked; a method call
site that sees one class, then three, then twelve runs in every mode with its region
going uninitialized -> mono -> poly -> mega and no deopt; and threads run method calls
through a site while it is patched and while another thread adds fields (one shadowing
the method) to the receivers: a call never pairs the code of one callee with the closure
or `this` of another.
"""
import functools
import re

import pytest

from offramp.native.inline_cache import MISS, POLY_MAX, REGION_BYTES, Entry, encode_region

from .test_inline_cache import BASE, END, REGISTER_CHOICES, decoded, ic_histories, number, run


@pytest.mark.parametrize("regs", REGISTER_CHOICES)
def test_every_state_of_a_method_region(regs):
    """Uninitialized and mega: always miss.  Mono and poly: the reference and shape
    checks of a field region, then the address of the shape's call record."""
    assert decoded("invoke", (), regs) == [f"mov {regs.result},{MISS:X}h", f"jmp {END:016X}h"]
    for count in range(1, POLY_MAX + 1):
        entries = tuple(Entry(shape=40 + 3 * i, slot=0, class_addr=0,
                              record=0x5555_0000_1000 + 0x20 * i) for i in range(count))
        lines = decoded("invoke", entries, regs)
        s1, s2 = regs.scratch()
        s2d = "e" + s2[1:] if s2 in ("rax", "rbx", "rcx", "rdx", "rsi", "rdi") else s2 + "d"
        assert lines[:5] == [f"push {s1}", f"push {s2}", f"mov {s1},{regs.receiver}",
                             f"shr {s1},32h", f"cmp {s1},3FFFh"]
        assert re.findall(rf"cmp {s2d},(\w+)", "\n".join(lines)) == \
            [number(e.shape) for e in entries]
        records = [line for line in lines if line.startswith(f"mov {regs.result},")]
        assert records == [f"mov {regs.result},{e.record:X}h" for e in entries] + \
            [f"mov {regs.result},{MISS:X}h"]                      # then the miss path
        assert not any("[" in line and "mov" in line and s1 + "+" in line[-12:]
                       for line in lines if line.startswith(f"mov {regs.result}"))
        assert lines[-3:-1] == [f"pop {s2}", f"pop {s1}"]
        assert len(encode_region("invoke", entries, BASE, regs)) <= REGION_BYTES


def classes_program(kinds: int, rounds=(2, 2, 1)) -> str:
    """Classes C0..C{kinds-1}, each with its own method `m` and its own fields; one call
    site `o.m(k)` sees one class, then three, then all of them — fewer calls than make
    compiled code ask to be compiled again with its profile (REPROFILE_SAMPLES)."""
    classes = "\n".join(
        f"class C{k} {{ init() {{ " + "".join(f"this.f{j} = {j}; " for j in range(k % 4))
        + f"}} m(x) {{ return x * {k + 1}; }} }}" for k in range(kinds))
    return classes + f"""
var all = Array({kinds});
""" + "".join(f"all.set({k}, C{k}());\n" for k in range(kinds)) + f"""
fun call(o, x) {{ return o.m(x); }}
fun phase(n, rounds) {{
  var sum = 0;
  for (var r = 0; r < rounds; r = r + 1)
    for (var k = 0; k < n; k = k + 1) sum = sum + call(all.get(k), k);
  return sum;
}}
print phase(1, {rounds[0]});
print phase(3, {rounds[1]});
print phase({kinds}, {rounds[2]});
"""


@functools.cache
def interpreted(source: str) -> tuple:
    """What the interpreter (the oracle) makes of a program: status and output."""
    return run(source, "interp")[:2]


# Plain eager: test_a_method_site_goes_mono_poly_mega_without_deopt.
MODES = [("jit", {}), ("eager", {"deopt_stress": 1, "verify_ir": True}),
         ("eager", {"ic_stress": 2, "deopt_stress": 3})]


@pytest.mark.parametrize("tier,options", MODES)
def test_same_output_in_every_mode(tier, options):
    source = classes_program(12)
    assert run(source, tier, **options)[:2] == interpreted(source)


def test_a_method_site_goes_mono_poly_mega_without_deopt():
    status, out, err = run(classes_program(12), "eager", trace=("ic", "deopt", "tier"),
                           verify_ir=True)
    assert (status, out) == (0, "0\n16\n572\n")
    histories = ic_histories(err)
    site = next(name for name in histories if re.search(r"invoke 'm' in @lox.fn\d+.call ",
                                                           name + " "))
    assert histories[site] == ["mono", "poly", "poly", "poly", "mega"], histories
    assert "[deopt]" not in err and "native deopts by reason: {}" in err
    assert "compiled again with a profile: 0" in err


THREADED = """
class K { init() { this.x = 1; } m(k) { return this.x + k; } }
class L < K { init() { this.x = 1; this.y = 0; } }
fun f(k) { return k + 1; }
var shared = Array(8);
for (var j = 0; j < 8; j = j + 1) { if (j < 4) shared.set(j, K()); else shared.set(j, L()); }
var progress = 0;
fun work() {
  var s = 0;
  for (var r = 0; r < 150; r = r + 1) {
    for (var j = 0; j < 8; j = j + 1) s = s + shared.get(j).m(j);
    progress = progress + 1;
  }
  return s;
}
var a = spawn(work);
var b = spawn(work);
while (progress < 10) {}
for (var j = 0; j < 8; j = j + 1) {
  var o = shared.get(j);
  if (j == 2 or j == 6) o.m = f;
  else { o.a = j; o.b = j; }
}
print join(a) + join(b);
"""


@pytest.mark.parametrize("mode", [{}, {"ic_stress": 2, "handshake_stress": 7}])
def test_threads_call_through_a_site_while_fields_shadow_the_method(mode):
    """Once the workers run, the main thread gives the receivers new shapes and two of
    them a field shadowing the method.  The method returns this.x + k and the field's
    function k + 1: the same sum whichever a call sees, but the method's code with the
    field's closure (`this` nil) would fail on `this.x`, and a stale record would crash."""
    status, out, err = run(THREADED, "eager", trace=("ic", "safepoint"), **mode)
    assert (status, out) == interpreted(THREADED)
    assert re.search(r"invoke 'm' in @lox.fn\d+.work \S+ line \d+: \w+ -> (mono|poly)", err)


LOCKED = """
class A { m() { return 1; } }
class B { m() { return 2; } }
var l = Lock();
fun f(o) { l.acquire(); var r = o.m(); l.release(); return r; }
var s = 0;
for (var i = 0; i < 60; i = i + 1) { s = s + f(A()) + f(B()); }
print s;
"""


def test_no_method_cache_where_the_interpreter_may_have_to_resume():
    """The loop's code inlines f and a Lock's acquire, library code with no frame states
    of its own: a deopt there resumes in the compiled version itself, which the
    interpreter cannot run with a method cache (it cannot load a funcref), so that
    version is built without one (lox/optimizer.py: resumes_in_itself).  Found by the
    threads fuzzer (a lazy deopt in an acquire's slow path under --assumption-stress)."""
    status, out, err = run(LOCKED, "eager", trace=("ic", "tier"))
    assert (status, out) == interpreted(LOCKED)
    assert re.search(r"invoke 'm' in @lox.fn\d+.f %s1", err)         # before the profile
    assert "compiled @lox.fn0.script.osr" in err
    assert not re.search(r"invoke 'm' in @lox.fn0.script.osr", err)


def test_a_jit_site_compiled_on_one_class_goes_mono_poly_mega_without_deopt():
    """Jit compiles `call` (inlined into phase's loop) while its site has seen one class;
    twelve classes have `m`, so the site is an inline cache, not a guard on that class
    (speculate.many_classes_have): three classes, then twelve, patch it in place."""
    source = classes_program(12, rounds=(2000, 700, 200))
    status, out, err = run(source, "jit", trace=("ic", "deopt", "tier"))
    assert (status, out) == interpreted(source)
    histories = [seen for site, seen in ic_histories(err).items() if "invoke 'm'" in site]
    assert any(seen[0] == "mono" and "poly" in seen and seen[-1] == "mega"
               for seen in histories), histories
    assert "not shape" not in err and "recompilations: {}" in err   # no shape guard
