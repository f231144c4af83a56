"""Inline caches (native/inline_cache.py): patch regions rewritten at run time.

Every state of both kinds is encoded and decoded again and its instructions checked; Lox
programs whose field sites see one, several and many shapes run in every mode with the
regions going uninitialized -> mono -> poly -> mega and no deopt; --ic-stress repatches
everything as the program runs; and threads run a site while another thread patches it.
"""
import io
import re

import pytest

from offramp.config import Config
from offramp.heap.layout import INSTANCE_FIELDS, VALUES_SLOTS
from offramp.ir import tagref
from offramp.lox.driver import run_lox
from offramp.native.inline_cache import (MISS, POLY_MAX, REGION_BYTES, Entry, Registers,
                                         decode_region, encode_region)

BASE = 0x7F12_3456_7000
END = BASE + REGION_BYTES


def number(n: int) -> str:
    """A number as iced's Intel formatter prints it (masm hex: 0FFh; 0..9 plain)."""
    if n < 10:
        return str(n)
    text = f"{n:X}"
    return ("0" + text if text[0] in "ABCDEF" else text) + "h"


# Registers LLVM may pick: the receiver and the result in one register (as it did for a
# read whose receiver dies there), extended registers, and the C convention's.
REGISTER_CHOICES = [Registers("rax", "rsi", "rax"), Registers("r9", "r14", "rbx"),
                    Registers("rdi", "rsi", "rax")]


def decoded(kind, entries, regs):
    lines = [line.replace(" short ", " ") for line in
             decode_region(encode_region(kind, entries, BASE, regs), BASE)]
    assert lines[-1] == f"jmp {END:016X}h", lines[-1]
    return lines


@pytest.mark.parametrize("regs", REGISTER_CHOICES)
@pytest.mark.parametrize("kind", ["get_field", "set_field"])
def test_uninitialized_and_mega_regions_always_miss(kind, regs):
    assert decoded(kind, (), regs) == [f"mov {regs.result},{MISS:X}h", f"jmp {END:016X}h"]


@pytest.mark.parametrize("regs", REGISTER_CHOICES)
@pytest.mark.parametrize("count", range(1, POLY_MAX + 1))
@pytest.mark.parametrize("kind", ["get_field", "set_field"])
def test_each_cached_shape_is_checked_and_its_slot_accessed(kind, count, regs):
    entries = tuple(Entry(shape=100 + 7 * i, slot=3 * i, class_addr=0) for i in range(count))
    lines = decoded(kind, entries, regs)
    text = "\n".join(lines)
    s1, s2 = regs.scratch()
    assert {s1, s2}.isdisjoint({regs.receiver, regs.value, regs.result})
    s2d = "e" + s2[1:] if s2 in ("rax", "rbx", "rcx", "rdx", "rsi", "rdi") else s2 + "d"
    assert lines[:6] == [f"push {s1}", f"push {s2}", f"mov {s1},{regs.receiver}",
                         f"shr {s1},32h", f"cmp {s1},3FFFh", lines[5]]
    assert lines[5].startswith("jne ")                        # not a reference: miss
    assert f"mov {s2d},[{s1}+4]" in lines                     # the header's shape id
    compared = re.findall(rf"cmp {s2d},(\w+)", text)
    assert compared == [number(e.shape) for e in entries]
    assert lines.count(f"mov {s1},[{s1}+{number(INSTANCE_FIELDS)}]") == count
    for entry in entries:
        slot = f"[{s1}+{number(VALUES_SLOTS + 8 * entry.slot)}]"
        access = f"mov {regs.result},{slot}" if kind == "get_field" else \
            f"mov {slot},{regs.value}"
        assert access in lines
    assert f"mov {regs.result},{MISS:X}h" in lines              # the miss path
    assert lines[-3:-1] == [f"pop {s2}", f"pop {s1}"]           # every path restores them
    assert len(encode_region(kind, entries, BASE, regs)) <= REGION_BYTES


def test_branches_stay_inside_the_region():
    entries = tuple(Entry(shape=i + 1, slot=i, class_addr=0) for i in range(POLY_MAX))
    for line in decoded("set_field", entries, REGISTER_CHOICES[1]):
        target = re.match(r"j\w+ ([0-9A-F]{16})h", line)
        if target:
            assert BASE < int(target.group(1), 16) <= END


def run(source, tier="eager", trace=("ic", "deopt"), **options):
    out, err = io.StringIO(), io.StringIO()
    config = Config(tier=tier, trace=frozenset(trace), stats=True, **options)
    status = run_lox(source, "test.lox", config, out, err)
    return status, out.getvalue(), err.getvalue()


def shapes_program(kinds: int) -> str:
    """Classes C0..C{kinds-1} whose instances keep field `v` at different slots; one read
    site and one write site see one class, then three, then all of them."""
    classes = "\n".join(
        f"class C{k} {{ init() {{ " + "".join(f"this.f{j} = {j}; " for j in range(k % 5))
        + f"this.v = {k}; }} }}" for k in range(kinds))
    makers = ", ".join(f"C{k}()" for k in range(kinds))
    return classes + f"""
fun read(o) {{ return o.v; }}
fun write(o, x) {{ o.v = x; }}
var all = Array({kinds});
var i = 0;
for (var k = 0; k < {kinds}; k = k + 1) all.set(k, nil);
""" + "".join(f"all.set({k}, C{k}());\n" for k in range(kinds)) + f"""
fun phase(n) {{
  var sum = 0;
  for (var r = 0; r < 40; r = r + 1)
    for (var k = 0; k < n; k = k + 1) {{
      var o = all.get(k);
      write(o, read(o) + 1);
      sum = sum + read(o);
    }}
  return sum;
}}
print phase(1);
print phase(3);
print phase({kinds});
"""


def ic_histories(err: str) -> dict:
    """Per region (its name in the trace): the states it went through, in order."""
    histories = {}
    for line in err.splitlines():
        found = re.match(r"\[ic\] (ic\d+ \w+ '\w+' in \S+ \S+).*: \w+ -> (\w+)", line)
        if found:
            histories.setdefault(found.group(1), []).append(found.group(2))
    return histories


@pytest.mark.parametrize("tier", ["jit", "eager"])
def test_a_site_goes_mono_poly_mega(tier):
    """Sites compiled without shapes to guard (eager code before its profile, the loop
    clones OSR enters, sites whose guards kept failing) learn each new shape in place.
    Sites speculated on the shapes seen before compilation still guard them (a new shape
    deoptimizes there, speculate.py says why) unless many classes have the member, as
    here (test_a_jit_site_of_a_member_many_classes_have_adapts_in_place)."""
    source = shapes_program(12)
    expected = run(source, "interp")
    status, out, err = run(source, tier)
    assert (status, out) == expected[:2]
    full = {site for site, seen in ic_histories(err).items()
            if seen[0] == "mono" and "poly" in seen and seen[-1] == "mega"}
    assert any("get_field 'v'" in site for site in full), ic_histories(err)
    assert any("set_field 'v'" in site for site in full), ic_histories(err)
    assert re.search(r"inline caches: \{.*'mega': [1-9]", err)


@pytest.mark.parametrize("mode", [{"ic_stress": 1}, {"ic_stress": 3},
                                  {"ic_stress": 2, "deopt_stress": 5}])
def test_ic_stress_repatches_every_region_and_changes_nothing(mode):
    source = shapes_program(6)
    expected = run(source, "interp")
    status, out, err = run(source, "eager", **mode)
    assert (status, out) == expected[:2]
    assert re.search(r"ic patches: (\d+)", err).group(1) != "0"
    assert "-> uninitialized" in err


THREADED = """
class P { init(x) { this.x = x; this.y = 0; } }
class Q { init(x) { this.y = 0; this.x = x; } }
fun sum(o) { return o.x; }
fun work(n) {
  var s = 0;
  for (var i = 0; i < 400; i = i + 1) {
    var o = nil;
    if ((i + n) / 2 == 0) o = P(i); else o = Q(i);
    s = s + sum(o) + sum(P(1)) + sum(Q(2));
  }
  return s;
}
fun w0() { return work(0); }
fun w1() { return work(1); }
var a = spawn(w0);
var b = spawn(w1);
print join(a) + join(b);
"""


@pytest.mark.parametrize("mode", [{}, {"ic_stress": 2}, {"ic_stress": 3, "handshake_stress": 7}])
def test_threads_run_a_site_while_it_is_patched(mode):
    expected = run(THREADED, "interp")
    status, out, err = run(THREADED, "eager", trace=("ic", "safepoint"), **mode)
    assert (status, out) == expected[:2]
    assert "in @lox.fn3.sum" in err
    stopped = re.findall(r"handshake patch -> every thread: ran world stopped \((\d+) other", err)
    assert stopped and max(map(int, stopped)) >= 1     # patched while other threads ran


def test_a_field_that_is_a_method_or_missing_is_not_cached():
    source = """
class A { m() { return 1; } }
fun get(o) { return o.m; }
var a = A();
for (var i = 0; i < 5; i = i + 1) get(a);
print get(a)();
print A().nope;
"""
    status, out, err = run(source)
    assert (status, out) == (70, "1\n")
    assert "Undefined property 'nope'." in err
    assert "in @lox.fn1.get" not in err         # a bound method is made each time: no entry


def long_first_phase(source: str) -> str:
    """The program with its one-shape phase run long enough for jit to compile the sites
    (inlined into phase's loop) while they have seen one shape."""
    return source.replace("print phase(1);",
                          "var p1 = 0;\nfor (var j = 0; j < 80; j = j + 1) p1 = phase(1);\n"
                          "print p1;", 1)


def test_a_jit_site_of_a_member_many_classes_have_adapts_in_place():
    """Compiled while it had seen one shape, a site reading and writing a field that twelve
    classes have is an inline cache (speculate.many_classes_have), not a shape guard:
    the new shapes patch it, with no deopt and no recompilation."""
    source = long_first_phase(shapes_program(12))
    status, out, err = run(source, "jit", trace=("ic", "deopt", "tier"))
    assert (status, out) == run(source, "interp")[:2]
    histories = ic_histories(err)
    for kind in ("get_field", "set_field"):
        assert any(f"{kind} 'v'" in site and seen[0] == "mono" and "poly" in seen and
                   seen[-1] == "mega" for site, seen in histories.items()), histories
    assert "not shape" not in err and "recompilations: {}" in err   # no shape guard


ONE_CLASS_EIGHT_SHAPES = """
class P { init() {} }
fun make(k) {
  var o = P();
  if (k == 1 or k == 6) o.a = 1;
  if (k == 2 or k == 7) o.b = 1;
  if (k == 3) o.c = 1;
  if (k == 4) o.d = 1;
  if (k == 5) o.e = 1;
  if (k == 6) o.b = 1;
  if (k == 7) o.a = 1;
  o.v = k;
  return o;
}
var all = Array(8);
for (var k = 0; k < 8; k = k + 1) all.set(k, make(k));
fun read(o) { return o.v; }
fun phase(n) {
  var s = 0;
  for (var r = 0; r < 300; r = r + 1) for (var k = 0; k < n; k = k + 1) s = s + read(all.get(k));
  return s;
}
var p1 = 0;
for (var j = 0; j < 80; j = j + 1) p1 = phase(1);
print p1;
print phase(3);
print phase(8);
"""


def test_a_field_of_one_class_in_many_final_shapes_is_an_inline_cache_in_jit():
    """One class whose instances got their fields in eight orders: eight final shapes
    have `v`, so the site is an inline cache although its profile saw one shape."""
    status, out, err = run(ONE_CLASS_EIGHT_SHAPES, "jit", trace=("ic", "deopt"))
    assert (status, out) == (0, "0\n900\n8400\n")
    assert "not shape" not in err and "recompilations: {}" in err
    assert any(seen[0] == "mono" and seen[-1] == "mega"
               for seen in ic_histories(err).values()), ic_histories(err)
