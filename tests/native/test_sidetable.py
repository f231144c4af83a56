"""Side tables: one encoder, one decoder, a dump; round trips, sharing, lookups, real stack maps.

The last tests build side tables from sections LLVM really emitted: a patchpoint whose
variables must decode to exactly the locations LLVM reported, and statepoints whose callee
captures the caller's stack, so that every variable's value is read back through the
decoded location and compared with what the program computed.
"""
import ctypes
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offramp.config import Config
from offramp.ir.types import (DOUBLE, I1, I8, I16, I32, I64, PTR, REF, TAGREF64, FuncRefType,
                              FuncSig, VoidType)
from offramp.lox.driver import run_lox
from offramp.native.llvm_setup import compile_ir
from offramp.native.sidetable import (FORMAT_VERSION, FUNCREF_CODE, KIND_BITS,
                                      PRESET_STRINGS, SITE_KINDS, TYPE_BITS, TYPE_CODES,
                                      FrameDesc, SideTable, SideTableBuilder, SideTableError,
                                      SiteInfo, code_type, dump, type_code)
from offramp.native.stackmaps import (DWARF_RSP, Location, LocationKind, function_names,
                                      parse_stackmaps, records_by_function, split_statepoint)

R, D, IND, C = (LocationKind.REGISTER, LocationKind.DIRECT, LocationKind.INDIRECT,
                LocationKind.CONSTANT)
BIG = 0x0123456789ABCDEF


def build(sites, base=0):
    """A decoded table from {offset: SiteInfo}."""
    builder = SideTableBuilder()
    for offset, site in sites.items():
        builder.add_site(offset, site)
    return SideTable(builder.build(), base)


# --- the type table -----------------------------------------------------------------------

def test_type_codes_cover_the_frame_types_and_round_trip():
    for ty in (I1, I8, I16, I32, I64, DOUBLE, REF, PTR, TAGREF64):
        assert code_type(type_code(ty)) == ty
    assert len(set(TYPE_CODES.values())) == len(TYPE_CODES)
    assert all(0 < code < 1 << TYPE_BITS for code in TYPE_CODES.values())   # packed codes
    assert FUNCREF_CODE < 1 << TYPE_BITS and len(SITE_KINDS) <= 1 << KIND_BITS
    # Every funcref shares one code: a function id reads back whatever the signature.
    funcref = FuncRefType(FuncSig((TAGREF64,), (TAGREF64,)))
    assert isinstance(code_type(type_code(funcref)), FuncRefType)
    with pytest.raises(ValueError):
        type_code(object())


# --- round trip ---------------------------------------------------------------------------

names = st.sampled_from(["n", "i", "acc", "self", "obj", "tmp.1", "x", "ü"])
var_types = st.sampled_from(list(TYPE_CODES))
frame_descs = st.builds(
    FrameDesc, st.sampled_from(["main", "fib", "Point.init", "loop"]),
    st.sampled_from(["v1", "v2"]), st.sampled_from(["entry", "body", "exit"]),
    st.integers(0, 300), st.booleans(),
    st.lists(st.tuples(names, var_types), max_size=4).map(tuple))
locations = st.one_of(
    st.builds(Location, st.just(R), st.sampled_from([8, 16]), st.integers(0, 32), st.just(0)),
    st.builds(Location, st.sampled_from([D, IND]), st.sampled_from([4, 8]),
              st.sampled_from([6, 7, 3]), st.integers(-(1 << 31), (1 << 31) - 1)),
    st.builds(Location, st.just(C), st.sampled_from([4, 8]), st.just(0),
              st.integers(-(1 << 63), (1 << 64) - 1)),
    st.builds(Location, st.sampled_from([R, IND]), st.integers(0, 300),
              st.integers(0, 5000), st.integers(-(1 << 40), 1 << 40)))


@st.composite
def site_sets(draw):
    """{offset: SiteInfo}: sites drawn over a few shared parent chains (inlined callers)."""
    parents = draw(st.lists(st.lists(frame_descs, max_size=2).map(tuple), min_size=1,
                            max_size=3))
    offsets = draw(st.lists(st.integers(0, 1 << 20), unique=True, max_size=12))
    sites = {}
    for offset in offsets:
        frames = draw(st.lists(frame_descs, max_size=2).map(tuple)) + draw(
            st.sampled_from(parents))
        nvars = sum(len(frame.vars) for frame in frames)
        sites[offset] = SiteInfo(
            draw(st.sampled_from(SITE_KINDS)), draw(st.sampled_from(["", "type", "bounds"])),
            frames, tuple(draw(st.lists(locations, min_size=nvars, max_size=nvars))),
            tuple(draw(st.lists(locations, max_size=3))))
    return sites


@given(site_sets(), st.integers(0, 1 << 47))
@settings(max_examples=200, deadline=None)
def test_round_trip(sites, base):
    table = build(sites, base)
    assert len(table) == len(sites)
    for offset, info in sites.items():
        site = table.lookup(base + offset)
        assert site is not None and site.info() == info
        assert (site.offset, site.address) == (offset, base + offset)
    assert [site.offset for site in table.sites()] == sorted(sites)
    for offset in sites:
        if offset + 1 not in sites:
            assert table.lookup(base + offset + 1) is None
    distinct_chains = {tuple(info.frames[i:]) for info in sites.values()
                       for i in range(len(info.frames))}
    assert len(table.body.frames) <= len(distinct_chains)


texts = st.one_of(st.sampled_from(PRESET_STRINGS), st.text(max_size=12),
                  st.builds("not a number @{}:{} in {}".format, st.sampled_from(["b1", "entry"]),
                            st.integers(0, 40), st.sampled_from(["f", "lox.fn2.ü"])))


@given(st.lists(st.tuples(texts, texts), max_size=30))
@settings(max_examples=200, deadline=None)
def test_strings_round_trip_through_head_and_tail_sharing(pairs):
    sites = {16 * i: SiteInfo("guard", reason, (FrameDesc(func, "v1", "entry", i),), ())
             for i, (reason, func) in enumerate(pairs)}
    table = build(sites)
    for offset, info in sites.items():
        assert table.lookup(offset).info() == info
    stored = {text for pair in pairs for text in pair} | {"v1", "entry"}
    assert set(table.body.strings) == stored | set(PRESET_STRINGS)


def test_empty_table():
    table = build({})
    assert len(table) == 0 and table.lookup(0) is None
    assert table.nbytes == 7            # version, no sites, seven zero counts deflated
    assert dump(table).startswith("side table: 0 sites")


# --- sharing ------------------------------------------------------------------------------

CALLER = FrameDesc("main", "v1", "loop", 7, True,
                   (("i", I64), ("n", I64), ("acc", TAGREF64), ("self", REF), ("limit", I64)))
MIDDLE = FrameDesc("Point.sum", "v2", "body", 3, True,
                   (("p", REF), ("sum", DOUBLE), ("k", I32)))
PARENT_LOCS = (Location(IND, 8, 7, 8), Location(IND, 8, 7, 16), Location(IND, 8, 7, 24),
               Location(IND, 8, 7, 32), Location(C, 8, 0, 100), Location(IND, 8, 7, 40),
               Location(IND, 8, 7, 48), Location(R, 8, 3, 0))


def inlined_site(i):
    """Site i: a guard in an inlined leaf, under the same two-frame parent chain."""
    leaf = FrameDesc("Point.x", "v1", "entry", i, False, (("this", REF), ("t", I64)))
    return SiteInfo("guard", "shape", (leaf, MIDDLE, CALLER),
                    (Location(IND, 8, 7, 56), Location(R, 8, 0, 0)) + PARENT_LOCS)


def test_shared_parent_chains_are_stored_once():
    n = 50
    one = build({0: inlined_site(0)}).nbytes
    shared = build({16 * i: inlined_site(i) for i in range(n)})
    assert len(shared.body.frames) == n + 2          # n leaves, one MIDDLE, one CALLER
    assert shared.nbytes < n * one / 4, (shared.nbytes, one)
    # the same leaf at many return addresses shares the whole chain
    same = build({16 * i: inlined_site(0) for i in range(n)})
    assert len(same.body.frames) == 3 and same.nbytes < shared.nbytes


# --- lookup, GC roots, errors -------------------------------------------------------------

def test_lookup_by_return_address_with_a_base():
    base = 0x7F00_0000_1000
    sites = {0x40: inlined_site(1), 0x10: SiteInfo("safepoint", "", (), ()),
             0x100: SiteInfo("call", "", (CALLER,), PARENT_LOCS[:5])}
    table = build(sites, base)
    assert table.lookup(base + 0x10).kind == "safepoint"
    assert table.lookup(base + 0x40).frames[0].desc.func == "Point.x"
    assert table.lookup(base + 0x100).frames[0].desc == CALLER
    for miss in (0x0, 0x3F, 0x41, 0x101, -0x10):
        assert table.lookup(base + miss) is None
    assert table.lookup(0x40) is None           # an offset is not an address


def test_gc_locations_are_traced_variables_and_extras():
    extra = Location(IND, 8, 7, 200)
    site = build({0: SiteInfo("call", "", (CALLER,), PARENT_LOCS[:5],
                              (extra, PARENT_LOCS[3]))}).lookup(0)
    # acc (tagref64) and self (ref) are roots; i, n, limit are not; `self` listed once
    assert site.gc_locations == (PARENT_LOCS[2], PARENT_LOCS[3], extra)
    constant_ref = build({0: SiteInfo("call", "", (CALLER,),
                                      PARENT_LOCS[:2] + (Location(C, 8, 0, 0),) +
                                      PARENT_LOCS[3:5])}).lookup(0)
    assert constant_ref.gc_locations == (PARENT_LOCS[3],)


def test_builder_refuses_what_it_cannot_encode():
    builder = SideTableBuilder()
    builder.add_site(0, SiteInfo("trap", "", (), ()))
    with pytest.raises(SideTableError, match="two sites"):
        builder.add_site(0, SiteInfo("trap", "", (), ()))
    with pytest.raises(SideTableError, match="CONSTANT_INDEX"):
        builder.add_site(8, SiteInfo("call", "", (FrameDesc("f", "v", "b", 0, False,
                                                            (("x", I64),)),),
                                     (Location(LocationKind.CONSTANT_INDEX, 8, 0, 0),)))
    with pytest.raises(SideTableError, match="type code"):
        builder.add_site(8, SiteInfo("call", "", (FrameDesc("f", "v", "b", 0, False, (
            ("g", VoidType()),)),), (Location(R, 8, 0, 0),)))
    with pytest.raises(SideTableError, match="index"):
        builder.add_site(8, SiteInfo("call", "", (FrameDesc("f", "v", "b", -1),), ()))
    with pytest.raises(SideTableError, match="negative"):
        builder.add_site(-8, SiteInfo("trap", "", (), ()))
    with pytest.raises(ValueError, match="site kind"):
        SiteInfo("jump", "", (), ())
    with pytest.raises(ValueError, match="locations"):
        SiteInfo("call", "", (CALLER,), ())
    assert len(builder) == 1


def test_decoder_refuses_malformed_bytes():
    data = SideTableBuilder()
    data.add_site(4, inlined_site(0))
    good = data.build()
    assert good[0] == FORMAT_VERSION
    with pytest.raises(SideTableError, match="format"):
        SideTable(bytes([FORMAT_VERSION + 1]) + good[1:])
    with pytest.raises(SideTableError):
        SideTable(good[:-1]).lookup(4)
    with pytest.raises(SideTableError, match="after the last site"):
        SideTable(good + b"\0").lookup(4)


# --- dump ---------------------------------------------------------------------------------

def test_dump_is_one_line_per_site_and_frame():
    leaf = FrameDesc("g", "v1", "entry", 2, False, (("a", I64), ("o", REF)))
    caller = FrameDesc("f", "v1", "body", 4, True, (("k", DOUBLE),))
    table = build({0x34: SiteInfo("deopt", "type guard", (leaf, caller),
                                  (Location(IND, 8, DWARF_RSP, 16), Location(R, 8, 3, 0),
                                   Location(C, 8, 0, -5))),
                   0x20: SiteInfo("safepoint", "", (), (), (Location(IND, 8, 6, -24),))})
    assert dump(table).splitlines()[1:] == [
        "+0x20 safepoint frames=0 gc=[[rbp-24]]",
        "+0x34 deopt 'type guard' frames=2 gc=[rbx]",
        "  #0 @g v1 %entry:2 %a:int<64>=[rsp+16] %o:ref=rbx",
        "  #1 @f v1 %body:4 waiting %k:double=#-5",
    ]
    assert dump(table).splitlines()[0] == (
        f"side table: 2 sites, 2 frames, 7 strings, 4 locations, {table.nbytes} bytes")


# --- from real stack maps -----------------------------------------------------------------

PATCHPOINT_IR = f"""
declare i64 @llvm.experimental.patchpoint.i64(i64, i32, ptr, i32, ...)

define i64 @target(i64 %v) noinline {{
  ret i64 %v
}}

define i64 @pp(i64 %a, double %d) {{
entry:
  %e = fadd double %d, 1.5
  %x = mul i64 %a, 3
  %r = call i64 (i64, i32, ptr, i32, ...) @llvm.experimental.patchpoint.i64(i64 9, i32 13, ptr @target, i32 1, i64 %a, i64 %a, i64 %x, double %e, i64 99, i64 {BIG})
  %s = add i64 %r, %x
  ret i64 %s
}}
"""

# @probe records, per call, its return address and 16 words from the caller's stack pointer
# at the call: the frame-pointer chain puts the caller's rsp at probe's rbp + 16.
STATEPOINT_IR = f"""
declare token @llvm.experimental.gc.statepoint.p0(i64, i32, ptr, i32, i32, ...)
declare ptr addrspace(1) @llvm.experimental.gc.relocate.p1(token, i32, i32)
declare i64 @llvm.experimental.gc.result.i64(token)
declare ptr @llvm.frameaddress.p0(i32)
declare ptr @llvm.returnaddress(i32)
declare void @llvm.memcpy.p0.p0.i64(ptr, ptr, i64, i1)

@captures = global [4 x [17 x i64]] zeroinitializer
@ncaptures = global i64 0

define i64 @probe(i64 %v) noinline #0 {{
  %fp = call ptr @llvm.frameaddress.p0(i32 0)
  %ra = call ptr @llvm.returnaddress(i32 0)
  %sp = getelementptr i8, ptr %fp, i64 16
  %n = load i64, ptr @ncaptures
  %n1 = add i64 %n, 1
  store i64 %n1, ptr @ncaptures
  %slot = getelementptr [17 x i64], ptr @captures, i64 %n
  store ptr %ra, ptr %slot
  %words = getelementptr i64, ptr %slot, i64 1
  call void @llvm.memcpy.p0.p0.i64(ptr %words, ptr %sp, i64 128, i1 false)
  ret i64 %v
}}

define i64 @f(i64 %a, i64 %b, ptr addrspace(1) %o) #0 gc "statepoint-example" {{
entry:
  %x = mul i64 %a, 7
  %t1 = call token (i64, i32, ptr, i32, i32, ...) @llvm.experimental.gc.statepoint.p0(i64 100, i32 0, ptr elementtype(i64 (i64)) @probe, i32 1, i32 0, i64 %a, i32 0, i32 0) [ "deopt"(i64 %a, i64 12345, i64 {BIG}, i64 %x, ptr addrspace(1) %o), "gc-live"(ptr addrspace(1) %o) ]
  %r = call i64 @llvm.experimental.gc.result.i64(token %t1)
  %o2 = call ptr addrspace(1) @llvm.experimental.gc.relocate.p1(token %t1, i32 0, i32 0)
  %t2 = call token (i64, i32, ptr, i32, i32, ...) @llvm.experimental.gc.statepoint.p0(i64 101, i32 0, ptr elementtype(i64 (i64)) @probe, i32 1, i32 0, i64 %r, i32 0, i32 0) [ "deopt"(i64 %r, i64 %b, i64 %x, ptr addrspace(1) %o2), "gc-live"(ptr addrspace(1) %o2) ]
  %r2 = call i64 @llvm.experimental.gc.result.i64(token %t2)
  %o3 = call ptr addrspace(1) @llvm.experimental.gc.relocate.p1(token %t2, i32 0, i32 0)
  %oi = ptrtoint ptr addrspace(1) %o3 to i64
  %s = add i64 %r2, %x
  %s2 = add i64 %s, %oi
  ret i64 %s2
}}

attributes #0 = {{ "frame-pointer"="all" }}
"""


def functions_and_records(code):
    """[(name, address, [Record])] for every function of `code` that has stack map records."""
    stackmap = parse_stackmaps(code.section(".llvm_stackmaps"))
    names = function_names(stackmap, code.relocations(".llvm_stackmaps"))
    return stackmap, [(name, code.function_address(name), records) for name, (_, records)
                      in zip(names, records_by_function(stackmap))]


def test_patchpoint_variables_decode_to_llvms_locations():
    code = compile_ir(PATCHPOINT_IR, "sidetable_patchpoint")
    stackmap, [(name, address, [record])] = functions_and_records(code)
    assert name == "pp"
    frame = FrameDesc("pp", "v1", "entry", 2, True, (("a", I64), ("x", I64), ("e", DOUBLE),
                                                     ("k", I64), ("big", I64)))
    reported = tuple(stackmap.resolve(loc) for loc in record.locations)
    builder = SideTableBuilder()
    builder.add_site(record.instruction_offset + 13, SiteInfo("patchpoint", "ic", (frame,),
                                                               reported))
    table = SideTable(builder.build(), address)
    assert table.lookup(address + record.instruction_offset) is None   # patch start, not RA
    site = table.lookup(address + record.instruction_offset + 13)
    decoded = {var: (ty, loc) for var, ty, loc in site.frames[0].variables()}
    assert [decoded[var][1] for var, _ in frame.vars] == list(reported)
    assert decoded["a"][1].kind == R and decoded["x"][1].kind == R
    assert decoded["e"][1].kind == R and decoded["e"][1].size == 16       # an XMM register
    assert decoded["k"][1] == Location(C, 8, 0, 99)
    assert decoded["big"][1] == Location(C, 8, 0, BIG)     # was CONSTANT_INDEX in the section
    pp = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64, ctypes.c_double)(address)
    assert pp(4, 0.0) == 4 + 12


def read_value(location, words):
    """A variable's value from captured stack words ([rsp + 8i] = words[i]) or a constant."""
    if location.kind == C:
        return location.offset_or_constant & (1 << 64) - 1
    assert (location.kind, location.dwarf_reg) == (IND, DWARF_RSP)
    assert location.offset_or_constant % 8 == 0
    return words[location.offset_or_constant // 8]


def test_statepoint_values_read_back_through_the_side_table():
    code = compile_ir(STATEPOINT_IR, "sidetable_statepoint")
    stackmap, [(name, address, records)] = functions_and_records(code)
    assert name == "f" and [r.patchpoint_id for r in records] == [100, 101]
    leaf = FrameDesc("g", "v1", "entry", 1, True,
                     (("n", I64), ("k", I64), ("big", I64)))   # inlined into f at the call
    caller = FrameDesc("f", "v1", "entry", 3, True, (("x", I64), ("obj", REF)))
    second = FrameDesc("f", "v1", "entry", 5, True,
                       (("r", I64), ("b", I64), ("x", I64), ("obj", REF)))
    chains = {100: (leaf, caller), 101: (second,)}
    builder = SideTableBuilder()
    for record in records:
        deopt, pairs = split_statepoint(record, stackmap)
        builder.add_site(record.instruction_offset, SiteInfo(
            "call", "", chains[record.patchpoint_id],
            tuple(stackmap.resolve(loc) for loc in deopt),
            tuple(derived for _, derived in pairs)))
    table = SideTable(builder.build(), address)
    raw = len(code.section(".llvm_stackmaps"))
    assert table.nbytes < raw

    f = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p)(address)
    assert f(5, 3, 0x1000) == 5 + 35 + 0x1000
    captures = (ctypes.c_uint64 * (4 * 17)).from_address(
        code.engine.get_global_value_address("captures"))
    expected = [{"n": 5, "k": 12345, "big": BIG, "x": 35, "obj": 0x1000},
                {"r": 5, "b": 3, "x": 35, "obj": 0x1000}]
    for k, values in enumerate(expected):
        return_address, *words = captures[17 * k:17 * k + 17]
        site = table.lookup(return_address)
        assert site is not None and site.kind == "call"
        read = {var: read_value(loc, words) for frame in site.frames
                for var, _, loc in frame.variables()}
        assert read == values
        # the GC sees the object through its frame variable and its gc-live slot
        assert {read_value(loc, words) for loc in site.gc_locations} == {0x1000}


# --- the size target on a real program ------------------------------------------------------

ZOO = """
class Animal {
  init(name, legs) { this.name = name; this.legs = legs; }
  walk(n) { var s = 0; for (var i = 0; i < n; i = i + 1) s = s + this.legs; return s; }
}
class Bird < Animal {
  init(name) { super.init(name, 2); this.wings = 2; }
  fly(n) { return this.walk(n) + this.wings * n; }
}
fun fib(n) { if (n < 2) return n; return fib(n - 1) + fib(n - 2); }
var total = 0;
for (var k = 0; k < 300; k = k + 1) {
  var b = Bird("tweety");
  total = total + b.fly(10) + Animal("rex", 4).walk(5) + fib(8);
}
print total;
"""


@pytest.mark.parametrize("tier", ["eager", "jit"])
def test_side_tables_of_a_real_program_are_within_a_fifth_of_the_stack_maps(tier):
    out, err = io.StringIO(), io.StringIO()
    assert run_lox(ZOO, "zoo.lox", Config(tier=tier, stats=True), out, err) == 0
    assert out.getvalue() == "24300\n"
    stats = dict(line.split(": ", 1) for line in err.getvalue().splitlines())
    raw, ours = int(stats["stack map bytes"]), int(stats["side table bytes"])
    assert raw > 1000 and ours <= 0.20 * raw, (ours, raw)
