"""`.llvm_stackmaps` parsing, on sections LLVM really emitted on this machine.

Each module below is compiled through `compile_ir` (parse, verify, optimize, MCJIT); the tests
read its stack map section back and check ids, counts, location kinds, the record->function
assignment and that every instruction offset lies inside its function's code, then run the
code through ctypes so we know the instrumented function still computes the right thing.
"""
import ctypes
import gc
import struct

import pytest

from offramp.native.llvm_setup import compile_ir, ensure_llvm
from offramp.native.stackmaps import (DWARF_REGISTER_NUMBERS, DWARF_REGISTERS, DWARF_RSP,
                                      DWARF_XMM0, FunctionRecord, LiveOut, Location,
                                      LocationKind, Record, StackMapError, dump_stackmap,
                                      function_names, parse_stackmaps, records_by_function,
                                      register_name, split_statepoint)

BIG = 0x0123456789ABCDEF

STACKMAP_IR = f"""
declare void @llvm.experimental.stackmap(i64, i32, ...)
declare i64 @llvm.experimental.patchpoint.i64(i64, i32, ptr, i32, ...)

define i64 @sm(i64 %a, i64 %b) {{
entry:
  %c = add i64 %a, %b
  call void (i64, i32, ...) @llvm.experimental.stackmap(i64 7, i32 0, i64 %a, i64 %c, i64 42, i64 {BIG}, i32 -5)
  ret i64 %c
}}

define i64 @callee(i64 %v) noinline {{
  %w = add i64 %v, 1000
  ret i64 %w
}}

define i64 @pp(i64 %a, double %d) {{
entry:
  %e = fadd double %d, 1.5
  %g = fmul double %d, 4.0
  %x = mul i64 %a, 3
  %r = call i64 (i64, i32, ptr, i32, ...) @llvm.experimental.patchpoint.i64(i64 9, i32 13, ptr @callee, i32 1, i64 %a, i64 %x, double %e, double %g, i64 99)
  %s = add i64 %r, %x
  %gi = fptosi double %g to i64
  %t = add i64 %s, %gi
  ret i64 %t
}}
"""

STATEPOINT_IR = """
declare token @llvm.experimental.gc.statepoint.p0(i64, i32, ptr, i32, i32, ...)
declare ptr addrspace(1) @llvm.experimental.gc.relocate.p1(token, i32, i32)
declare i64 @llvm.experimental.gc.result.i64(token)

define i64 @inc(i64 %v) noinline {
  %w = add i64 %v, 1
  ret i64 %w
}

define i64 @f1(i64 %a, i64 %b, ptr addrspace(1) %o) #0 gc "statepoint-example" {
entry:
  %x = mul i64 %a, 7
  %t1 = call token (i64, i32, ptr, i32, i32, ...) @llvm.experimental.gc.statepoint.p0(i64 100, i32 0, ptr elementtype(i64 (i64)) @inc, i32 1, i32 0, i64 %a, i32 0, i32 0) [ "deopt"(i64 %a, i64 %x, i64 12345, double 2.5), "gc-live"(ptr addrspace(1) %o) ]
  %r = call i64 @llvm.experimental.gc.result.i64(token %t1)
  %o2 = call ptr addrspace(1) @llvm.experimental.gc.relocate.p1(token %t1, i32 0, i32 0)
  %t2 = call token (i64, i32, ptr, i32, i32, ...) @llvm.experimental.gc.statepoint.p0(i64 101, i32 0, ptr elementtype(i64 (i64)) @inc, i32 1, i32 0, i64 %r, i32 0, i32 0) [ "deopt"(i64 %r, i64 %b), "gc-live"(ptr addrspace(1) %o2) ]
  %r2 = call i64 @llvm.experimental.gc.result.i64(token %t2)
  %o3 = call ptr addrspace(1) @llvm.experimental.gc.relocate.p1(token %t2, i32 0, i32 0)
  %oi = ptrtoint ptr addrspace(1) %o3 to i64
  %s = add i64 %r2, %x
  %s2 = add i64 %s, %oi
  ret i64 %s2
}

define i64 @f2(i64 %a) #0 gc "statepoint-example" {
entry:
  %t = call token (i64, i32, ptr, i32, i32, ...) @llvm.experimental.gc.statepoint.p0(i64 200, i32 0, ptr elementtype(i64 (i64)) @inc, i32 1, i32 0, i64 %a, i32 0, i32 0) [ "deopt"(i64 %a) ]
  %r = call i64 @llvm.experimental.gc.result.i64(token %t)
  ret i64 %r
}

attributes #0 = { "frame-pointer"="all" }
"""


@pytest.fixture(scope="module")
def stackmap_code():
    return compile_ir(STACKMAP_IR, "stackmap_test")


@pytest.fixture(scope="module")
def statepoint_code():
    return compile_ir(STATEPOINT_IR, "statepoint_test")


def parsed(code):
    return parse_stackmaps(code.section(".llvm_stackmaps"))


def by_name(code):
    """{function name: (FunctionRecord, [Record])}, names from the relocations."""
    stackmap = parsed(code)
    names = function_names(stackmap, code.relocations(".llvm_stackmaps"))
    return dict(zip(names, records_by_function(stackmap)))


def assert_offsets_inside(code):
    for name, (function, records) in by_name(code).items():
        size = code.function_size(name)
        assert len(records) == function.record_count
        for record in records:
            assert 0 < record.instruction_offset < size, (name, record)


# --- llvm_setup ---------------------------------------------------------------------------

def test_ensure_llvm_is_idempotent():
    ensure_llvm()
    ensure_llvm()


def test_compiled_object_has_sections_and_functions(stackmap_code):
    assert stackmap_code.section(".llvm_stackmaps") is not None
    assert stackmap_code.section(".no_such_section") is None
    assert stackmap_code.object_bytes[:4] == b"\x7fELF"
    with pytest.raises(KeyError):
        stackmap_code.function_address("missing")


def test_engines_are_independent():
    """Each engine owns its own target machine: disposing one leaves the other runnable."""
    first = compile_ir(STACKMAP_IR, "first")
    second = compile_ir(STACKMAP_IR, "second")
    sm = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64, ctypes.c_int64)(
        second.function_address("sm"))
    del first
    gc.collect()
    assert sm(1, 2) == 3


def test_invalid_ir_is_refused_by_the_verifier():
    with pytest.raises(RuntimeError):
        compile_ir("define i64 @f() {\nentry:\n  ret i32 0\n}\n", "bad")


# --- (a) stackmap with constants ----------------------------------------------------------

def test_header_and_counts(stackmap_code):
    stackmap = parsed(stackmap_code)
    assert stackmap.version == 3
    assert len(stackmap.functions) == 2          # @callee has no record, so no function entry
    assert len(stackmap.records) == 2
    assert [f.record_count for f in stackmap.functions] == [1, 1]
    assert all(f.address == 0 for f in stackmap.functions)      # unrelocated in the object
    assert stackmap.constants == (BIG,)


def test_stackmap_constants_small_and_large(stackmap_code):
    (_, [record]) = by_name(stackmap_code)["sm"]
    stackmap = parsed(stackmap_code)
    assert record.patchpoint_id == 7
    kinds = [loc.kind for loc in record.locations]
    assert kinds == [LocationKind.REGISTER, LocationKind.REGISTER, LocationKind.CONSTANT,
                     LocationKind.CONSTANT_INDEX, LocationKind.CONSTANT]
    small, large, negative = record.locations[2:]
    assert stackmap.constant(small) == 42
    assert stackmap.constant(large) == BIG
    assert stackmap.resolve(large) == Location(LocationKind.CONSTANT, 8, 0, BIG)
    assert stackmap.resolve(small) is small
    assert negative.offset_or_constant == -5
    assert stackmap.constant(negative) == (1 << 64) - 5
    with pytest.raises(ValueError):
        stackmap.constant(record.locations[0])


# --- (b) patchpoint with i64 and double live values ---------------------------------------

def test_patchpoint_registers_and_xmm(stackmap_code):
    (_, [record]) = by_name(stackmap_code)["pp"]
    assert record.patchpoint_id == 9
    x, e, g, c = record.locations       # the one call argument (%a) is not recorded
    assert x.kind == LocationKind.REGISTER and x.size == 8
    assert register_name(x.dwarf_reg) in DWARF_REGISTERS[:16]
    # a double dead after the call stays in its XMM register (reported 16 bytes wide) ...
    assert e.kind == LocationKind.REGISTER and e.size == 16
    assert DWARF_XMM0 <= e.dwarf_reg < DWARF_XMM0 + 16
    assert register_name(e.dwarf_reg).startswith("xmm")
    # ... one live across it is spilled (no XMM register survives a call)
    assert (g.kind, g.size) == (LocationKind.INDIRECT, 8)
    assert (c.kind, c.offset_or_constant) == (LocationKind.CONSTANT, 99)
    assert record.live_outs == ()       # ensure_llvm turns patchpoint liveness off


def test_offsets_lie_inside_the_function(stackmap_code, statepoint_code):
    assert_offsets_inside(stackmap_code)
    assert_offsets_inside(statepoint_code)


def test_compiled_code_runs(stackmap_code):
    sm = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64, ctypes.c_int64)(
        stackmap_code.function_address("sm"))
    pp = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64, ctypes.c_double)(
        stackmap_code.function_address("pp"))
    assert sm(40, 2) == 42
    # callee(5) + 3*5 + int(2.0 * 4)
    assert pp(5, 2.0) == 1005 + 15 + 8


# --- (c) statepoints with deopt bundles, two functions -------------------------------------

def test_statepoint_records_assigned_to_their_functions(statepoint_code):
    named = by_name(statepoint_code)
    assert list(named) == ["f1", "f2"]
    assert [r.patchpoint_id for r in named["f1"][1]] == [100, 101]
    assert [r.patchpoint_id for r in named["f2"][1]] == [200]
    # the same assignment by order and counts, without the relocations
    pairs = records_by_function(parsed(statepoint_code))
    assert [[r.patchpoint_id for r in records] for _, records in pairs] == [[100, 101], [200]]


def test_statepoint_layout(statepoint_code):
    stackmap = parsed(statepoint_code)
    first, second = by_name(statepoint_code)["f1"][1]
    header = [stackmap.constant(loc) for loc in first.locations[:3]]
    assert header == [0, 0, 4]              # calling convention, flags, 4 deopt values
    deopt, pairs = split_statepoint(first, stackmap)
    a, x, k, d = deopt
    for spilled in (a, x):
        assert (spilled.kind, spilled.dwarf_reg) == (LocationKind.INDIRECT, DWARF_RSP)
    assert stackmap.constant(k) == 12345
    assert stackmap.constant(d) == struct.unpack("<Q", struct.pack("<d", 2.5))[0]
    assert len(pairs) == 1 and pairs[0][0].kind == LocationKind.INDIRECT
    deopt2, pairs2 = split_statepoint(second, stackmap)
    assert len(deopt2) == 2 and len(pairs2) == 1
    (_, [only]) = by_name(statepoint_code)["f2"]
    assert [len(part) for part in split_statepoint(only, stackmap)] == [1, 0]


def test_split_statepoint_refuses_other_records(stackmap_code):
    (_, [record]) = by_name(stackmap_code)["pp"]
    with pytest.raises(StackMapError):
        split_statepoint(record, parsed(stackmap_code))


def test_statepoint_code_runs(statepoint_code):
    f1 = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p)(
        statepoint_code.function_address("f1"))
    # r = a+1, r2 = r+1, x = 7a, plus the (unmoved) pointer
    assert f1(5, 3, 0x1000) == 7 + 35 + 0x1000


def test_dump_stackmap(statepoint_code):
    text = dump_stackmap(parsed(statepoint_code))
    lines = text.splitlines()
    assert lines[0] == "stackmap v3: 2 functions, 1 constants, 3 records"
    assert sum(line.startswith("  id=") for line in lines) == 3
    assert "[rsp+" in text and "#12345" in text


# --- hand-made sections: padding, live-outs, errors -----------------------------------------

def section(functions, constants, records):
    """A v3 section from ([(addr, stack, count)], [const], [(id, off, [loc], [liveout])])."""
    out = bytearray(struct.pack("<BBHIII", 3, 0, 0, len(functions), len(constants),
                                len(records)))
    for function in functions:
        out += struct.pack("<QQQ", *function)
    for constant in constants:
        out += struct.pack("<Q", constant)
    for pid, offset, locations, live_outs in records:
        out += struct.pack("<QIHH", pid, offset, 0, len(locations))
        for kind, size, reg, value in locations:
            out += struct.pack("<BBHHHi", kind, 0, size, reg, 0, value)
        out += bytes(-len(out) % 8)
        out += struct.pack("<HH", 0, len(live_outs))
        for reg, size in live_outs:
            out += struct.pack("<HBB", reg, 0, size)
        out += bytes(-len(out) % 8)
    return bytes(out)


def test_padding_with_odd_and_even_location_counts():
    data = section([(0, 16, 2), (0, 32, 1)], [7],
                   [(1, 4, [(1, 8, 0, 0)], [(3, 8)]),
                    (2, 8, [(3, 8, 7, -16), (5, 8, 0, 0)], []),
                    (3, 12, [(2, 8, 6, -8), (4, 4, 0, 3), (1, 16, 17, 0)],
                     [(12, 8), (13, 8), (14, 8)])])
    stackmap = parse_stackmaps(data)
    assert stackmap.functions == (FunctionRecord(0, 16, 2), FunctionRecord(0, 32, 1))
    assert stackmap.records[0] == Record(1, 4, 0, (Location(LocationKind.REGISTER, 8, 0, 0),),
                                         (LiveOut(3, 8),))
    assert stackmap.records[1].locations[0].text() == "[rsp-16]"
    assert stackmap.constant(stackmap.records[1].locations[1]) == 7
    assert [loc.text() for loc in stackmap.records[2].locations] == ["rbp-8", "#3", "xmm0"]
    assert len(stackmap.records[2].live_outs) == 3


def test_malformed_sections_are_refused():
    good = section([(0, 16, 1)], [], [(1, 4, [(1, 8, 0, 0)], [])])
    parse_stackmaps(good)
    with pytest.raises(StackMapError, match="version"):
        parse_stackmaps(b"\x02" + good[1:])
    with pytest.raises(StackMapError, match="truncated"):
        parse_stackmaps(good[:-9])
    with pytest.raises(StackMapError, match="kind"):
        parse_stackmaps(section([(0, 16, 1)], [], [(1, 4, [(9, 8, 0, 0)], [])]))
    with pytest.raises(StackMapError, match="record counts"):
        parse_stackmaps(section([(0, 16, 2)], [], [(1, 4, [], [])]))


def test_register_table():
    assert DWARF_REGISTERS[:8] == ("rax", "rdx", "rcx", "rbx", "rsi", "rdi", "rbp", "rsp")
    assert DWARF_REGISTER_NUMBERS["r8"] == 8 and DWARF_REGISTER_NUMBERS["r15"] == 15
    assert DWARF_REGISTER_NUMBERS["ra"] == 16
    assert DWARF_REGISTER_NUMBERS["xmm0"] == 17 and DWARF_REGISTER_NUMBERS["xmm15"] == 32
    assert register_name(99) == "dwarf99"


def test_large_modules_get_fast_codegen_and_small_ones_the_optimizing_one():
    from offramp.native.llvm_setup import CODEGEN_LEVEL, FAST_CODEGEN_ABOVE, codegen_level
    small = "define i64 @f(i64 %x) {\n  ret i64 %x\n}\n"
    large = "define i64 @g(i64 %x) {\n" + "  %y = add i64 %x, 1\n" * FAST_CODEGEN_ABOVE \
        + "  ret i64 %x\n}\n"
    assert codegen_level(small) == CODEGEN_LEVEL > 0
    assert codegen_level(large) == 0


def test_cold_blocks_do_not_count_towards_the_codegen_level():
    """Exits and slow paths (lower.COLD_BLOCKS) say nothing about how long code runs."""
    from offramp.native.llvm_setup import CODEGEN_LEVEL, FAST_CODEGEN_ABOVE, codegen_level
    from offramp.native.lower import COLD_BLOCKS
    text = ("define i64 @g(i64 %x) {\nentry:\n  br label %guard_fail.1\nguard_fail.1:\n"
            + "  %y = add i64 %x, 1\n" * FAST_CODEGEN_ABOVE + "  ret i64 %x\n}\n")
    assert codegen_level(text) == 0
    assert codegen_level(text, COLD_BLOCKS) == CODEGEN_LEVEL
