"""Inline caches: patch regions in native code, rewritten at run time.

A CCALL of an extern declared `IC get_field` / `IC set_field` (ir/inline_caches.py) is
lowered to an `llvm.experimental.patchpoint` of REGION_BYTES reserved bytes with the
`anyregcc` convention — LLVM puts the receiver (and the stored value) and the result in
registers of its choice, which the stack map names (`Registers`), and keeps every other
register live across the region: no spills around a field access; the region saves the
two scratch registers it uses — followed by a test of the result: MISS (a word no field ever holds) sends the code to the
miss path, a runtime entry (`ic_miss`) that calls the helper as an ordinary CCALL would,
with the same stack map (frame state and GC values: the helper may collect, raise or
deoptimize), and then lets this module decide whether to rewrite the region.

The region holds no call, so it is never a safepoint and a thread is never stopped inside
it.  Its states (ICSTATES):
- uninitialized: `mov <result>, MISS` — every execution misses;
- mono / poly: the receiver is a reference, its shape id (header bits 32..63) is one of
  up to POLY_MAX cached shapes; load (store) the field at that shape's slot of the VALUES
  object; any other receiver misses;
- mega: more shapes came than a region holds; it misses for good and the miss path is the
  generic helper.
A miss never deoptimizes and never recompiles: code adapts in place.

Machine code is encoded with iced-x86 (a maintained encoder, which also decodes it for
the tests and the disassembler), never from byte tables.  The region is written with the
page made writable for the moment of the write.  Code another thread may be running is
patched with every other thread stopped at a safepoint (a stop-the-world handshake of kind
"patch"): a region holds several instructions, which no single aligned store can replace,
and a thread stopped at a safepoint is never inside a region (regions have no calls).  The
thread that missed is in the runtime, past the region.  After the world restarts, each
thread leaves the runtime through a lock and a system call, which order its later
instruction fetches after the write.

Method calls (kind `invoke`, ir/inline_caches.py) are cached the same way, but a hit
gives the address of a call record instead of a field: `mov <result>, RECORD` for the
cached shape, where RECORD holds the method the shape's class has for the name (a shape
with that field is never cached), its code and RECORD_RECEIVER — one shape load decides
all three, so another thread adding fields (even a field shadowing the method) while the
site runs can never pair the code of one method with the closure of another.  Records are
immutable, allocated once per (closure, code) and never freed (bounded by the program's
methods and arities); their closures are roots.  A miss runs the Lox helper, which
returns (closure, code, this) from one lookup; the runtime writes them into the thread's
own record (the thread block's `call_record` words, roots while they hold them) and
returns its address: the caller loads from it before anything else can run on its thread.
"""
from __future__ import annotations

import ctypes
from dataclasses import dataclass, field

import iced_x86 as ix

from ..heap import ObjKind
from ..heap.layout import HEADER_OFFSET, HEADER_SHAPE_SHIFT, INSTANCE_FIELDS, VALUES_SLOTS
from ..ir import tagref
from ..ir.inline_caches import CALL_RECORD_WORDS, RECORD_RECEIVER
from .patching import write_code
from .stackmaps import LocationKind, register_name

MISS = tagref.UNDEFINED          # never the value of a field: the region's "ask the runtime"
POLY_MAX = 4                     # shapes one region checks before it goes megamorphic
REGION_BYTES = 192               # reserved: fits POLY_MAX checks of either kind
IC_ID_BASE = 1 << 32             # stack-map ids of regions (sites of other records are lower)

ICSTATES = ("uninitialized", "mono", "poly", "mega")
WORD = ctypes.c_uint64

_REF_SHIFT = 50                  # a reference has its top 14 bits set (tagref.REF_TAG)
_REF_TOP = tagref.REF_TAG >> _REF_SHIFT
_ADDRESS_SHIFT = 16              # shl/shr by 16 keeps the 48-bit address (tagref.ADDR_MASK)
_SHAPE_BYTE = HEADER_OFFSET + HEADER_SHAPE_SHIFT // 8
assert HEADER_SHAPE_SHIFT == 32 and tagref.ADDR_MASK == (1 << 48) - 1


@dataclass(frozen=True)
class Entry:
    """One cached shape: its id, the field's slot (or the method's call record, for
    `invoke`), the class keeping the id's meaning."""

    shape: int
    slot: int
    class_addr: int
    name: str = ""
    record: int = 0


@dataclass(eq=False)
class ICSite:
    """One patch region of a compiled unit."""

    code: object                 # NativeCode
    index: int                   # in the unit (the `ic_miss` request's payload)
    kind: str                    # ir/inline_caches.IC_KINDS
    helper: str                  # the extern it caches
    helper_index: int
    line: int | None
    address: int = 0             # start of the region
    registers: Registers | None = None
    state: str = "uninitialized"
    entries: tuple = ()
    name: str = ""               # the field's, once a miss has found it

    def describe(self) -> str:
        where = f" line {self.line}" if self.line else ""
        name = f" '{self.name}'" if self.name else ""
        return f"ic{self.index} {self.kind}{name} in @{self.code.version.func} " \
               f"%{self.code.version.name}{where}"

    def fields(self) -> dict:
        """What `describe` says, as the structured fields of a trace event."""
        return {"site": self.index, "kind": self.kind, "field": self.name or None,
                "function": self.code.version.func, "version": self.code.version.name,
                "line": self.line, "address": self.address}


# --- encoding ------------------------------------------------------------------------------

I, R, C = ix.Instruction, ix.Register, ix.Code
class _Labels:
    """Label ids for iced's block encoder (an instruction's ip names it, branches target it)."""

    def __init__(self):
        self.next = 1

    def new(self) -> int:
        self.next += 1
        return self.next

    @staticmethod
    def at(label: int, instr):
        instr.ip = label
        return instr




@dataclass(frozen=True)
class Registers:
    """Where a region finds its operands and leaves its result (the patchpoint's stack-map
    record, `anyregcc`: LLVM picks them and keeps every other register live across the
    region, so the region saves the two scratch registers it uses)."""

    receiver: str
    value: str | None               # set_field's stored value
    result: str

    def scratch(self) -> tuple:
        taken = {self.receiver, self.value, self.result}
        return tuple(r for r in SCRATCH_CANDIDATES if r not in taken)[:2]


SCRATCH_CANDIDATES = ("rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "rax", "rbx")


def _reg64(name: str):
    return getattr(R, name.upper())


def _reg32(name: str):
    """The 32-bit register of a 64-bit one (ecx of rcx, r8d of r8)."""
    legacy = name in ("rax", "rbx", "rcx", "rdx", "rsi", "rdi")
    return getattr(R, ("E" + name[1:] if legacy else name + "D").upper())


def _address_of(reg, source):
    """reg = the 48-bit address of the reference in `source`."""
    return [I.create_reg_reg(C.MOV_R64_RM64, reg, source),
            I.create_reg_i32(C.SHL_RM64_IMM8, reg, _ADDRESS_SHIFT),
            I.create_reg_i32(C.SHR_RM64_IMM8, reg, _ADDRESS_SHIFT)]


def _mem(base, displacement: int):
    return ix.MemoryOperand(base, displ=displacement, displ_size=1)


def region_code(kind: str, entries, end: int, regs: Registers) -> list:
    """The instructions of a region in this state (no entries: always miss); `end` is the
    address just after the region, where every path continues."""
    labels = _Labels()
    miss, out = labels.new(), labels.new()
    receiver, result = _reg64(regs.receiver), _reg64(regs.result)
    s1, s2 = (_reg64(r) for r in regs.scratch())
    s2d = _reg32(regs.scratch()[1])
    body = []
    if entries:
        body += [I.create_reg(C.PUSH_R64, s1), I.create_reg(C.PUSH_R64, s2),
                 I.create_reg_reg(C.MOV_R64_RM64, s1, receiver),
                 I.create_reg_i32(C.SHR_RM64_IMM8, s1, _REF_SHIFT),
                 I.create_reg_i32(C.CMP_RM64_IMM32, s1, _REF_TOP),
                 I.create_branch(C.JNE_REL32_64, miss)]
        body += _address_of(s1, receiver)
        body.append(I.create_reg_mem(C.MOV_R32_RM32, s2d, _mem(s1, _SHAPE_BYTE)))
        hits = [(labels.new(), entry) for entry in entries]
        for label, entry in hits:
            body += [I.create_reg_u32(C.CMP_RM32_IMM32, s2d, entry.shape),
                     I.create_branch(C.JE_REL32_64, label)]
        body.append(I.create_branch(C.JMP_REL32_64, miss))
        for label, entry in hits:
            hit = _hit_code(kind, entry, regs, s1)
            body += [labels.at(label, hit[0]), *hit[1:], I.create_branch(C.JMP_REL32_64, out)]
        body.append(labels.at(miss, I.create_reg_u64(C.MOV_R64_IMM64, result, MISS)))
        body += [labels.at(out, I.create_reg(C.POP_R64, s2)), I.create_reg(C.POP_R64, s1)]
    else:
        body.append(I.create_reg_u64(C.MOV_R64_IMM64, result, MISS))
    body.append(I.create_branch(C.JMP_REL32_64, end))
    return body


def _hit_code(kind: str, entry: Entry, regs: Registers, s1) -> list:
    """What a region does for a receiver of a cached shape (s1: its address): load or
    store the field's slot, or give the method's call record."""
    result = _reg64(regs.result)
    if kind == "invoke":
        return [I.create_reg_u64(C.MOV_R64_IMM64, result, entry.record)]
    body = [I.create_reg_mem(C.MOV_R64_RM64, s1, _mem(s1, INSTANCE_FIELDS)),
            *_address_of(s1, s1)[1:]]
    slot = _mem(s1, VALUES_SLOTS + 8 * entry.slot)
    if kind == "get_field":
        return body + [I.create_reg_mem(C.MOV_R64_RM64, result, slot)]
    return body + [I.create_mem_reg(C.MOV_RM64_R64, slot, _reg64(regs.value)),
                   I.create_reg_i32(C.MOV_RM64_IMM32, result, 0)]


def encode_region(kind: str, entries, address: int, regs: Registers) -> bytes:
    """The machine code of a region at `address` in this state."""
    encoder = ix.BlockEncoder(64)
    encoder.add_many(region_code(kind, entries, address + REGION_BYTES, regs))
    data = encoder.encode(address)
    if len(data) > REGION_BYTES:
        raise ValueError(f"inline cache of {len(entries)} entries needs {len(data)} bytes, "
                         f"more than the {REGION_BYTES} reserved")
    return data


def decode_region(data: bytes, address: int) -> list:
    """The instructions of region bytes, as text (tests, the disassembler), up to the
    jump out of the region."""
    decoder = ix.Decoder(64, data, ip=address)
    formatter = ix.Formatter(ix.FormatterSyntax.INTEL)
    lines = []
    for instr in decoder:
        lines.append(formatter.format(instr))
        if instr.flow_control == ix.FlowControl.UNCONDITIONAL_BRANCH and \
                instr.near_branch_target == address + REGION_BYTES:
            break
    return lines


# --- the caches of a VM ----------------------------------------------------------------------

@dataclass
class InlineCaches:
    """Every region of the engine's compiled units, and the decisions about them."""

    engine: object
    sites: list = field(default_factory=list)
    misses: int = 0
    patches: int = 0
    records: dict = field(default_factory=dict)     # (closure, function id) -> record

    def add_unit(self, code, descs, regions: dict) -> dict:
        """The regions of a unit just compiled (not yet entered), by index, written
        uninitialized; `regions`: index -> (offset, Registers), from the stack map.  A
        region LLVM removed as unreachable has no record."""
        sites = {}
        for index, (kind, helper, helper_index, line) in enumerate(descs):
            if index not in regions:
                continue
            site = ICSite(code, index, kind, helper, helper_index, line)
            offset, site.registers = regions[index]
            site.address = code.address + offset
            write_code(site.address, encode_region(kind, (), site.address, site.registers))
            sites[index] = site
        self.sites += sites.values()
        return sites

    def missed(self, site: ICSite, entry) -> None:
        """The helper has run for a miss of `site`: cache `entry` (`resolve`: the field as
        the receiver had it before the helper ran), if any.  Under --ic-stress every
        Nth miss first resets every region to uninitialized."""
        self.misses += 1
        stress = self.engine.vm.config.ic_stress
        if stress and self.misses % stress == 0:
            self.reset_all()                    # then this miss caches its shape afresh
        if site.state == "mega":
            return
        if entry is None or any(e.shape == entry.shape for e in site.entries):
            return
        site.name = entry.name
        if len(site.entries) == POLY_MAX:
            self.patch(site, "mega", ())
        else:
            entries = site.entries + (entry,)
            self.patch(site, "mono" if len(entries) == 1 else "poly", entries)

    def resolve(self, args):
        """The Entry of the field the receiver `args[0]` holds under the name in cell
        `args[1]`, or None (not an instance, or no such field — a write adding one changes
        the shape: nothing to cache)."""
        heap = self.engine.vm.heap
        receiver, name_cell = args[0], args[1]
        if not tagref.is_ref(receiver) or heap.kind_of(receiver) is not ObjKind.INSTANCE:
            return None
        shape = heap.shapes[heap.instance_shape_id(receiver)]
        slot = shape.slot_of.get(heap.load64(name_cell))
        return None if slot is None else Entry(shape.id, slot, shape.class_addr,
                                               heap.string_text(heap.load64(name_cell)))

    def invoke(self, site: ICSite, args, helper, thread) -> int:
        """A miss of an `invoke` site: the Lox helper looks the method up (raising the
        call's errors) and gives (closure, code, this); they go to `thread`'s own call
        record, whose address is the result.  The site may learn the receiver's shape
        (read before the helper ran) when the answer is its class's method, the same for
        every instance of that shape."""
        receiver, name_cell = args[0], args[1]
        shape = self.method_shape(receiver, name_cell)
        closure, function, this = helper(receiver, name_cell)
        code = self.engine.function_id(function.name)
        thread.call_record[:] = (closure, code, this)
        entry = None
        heap = self.engine.vm.heap
        name = heap.load64(name_cell)
        if shape is not None and this == receiver and \
                closure == heap.class_find_method(tagref.from_ref(shape.class_addr), name):
            entry = Entry(shape.id, 0, shape.class_addr, heap.string_text(name),
                          self.record(closure, code))
        self.missed(site, entry)
        return thread.call_record_address

    def method_shape(self, receiver, name_cell):
        """The receiver's shape when it is an instance without a field of that name (its
        class's method is then what every instance of the shape calls), else None."""
        heap = self.engine.vm.heap
        if not tagref.is_ref(receiver) or heap.kind_of(receiver) is not ObjKind.INSTANCE:
            return None
        shape = heap.shapes[heap.instance_shape_id(receiver)]
        return None if heap.load64(name_cell) in shape.slot_of else shape

    def record(self, closure: int, code: int) -> int:
        """The address of the immutable call record of a method (its `this`: the
        receiver), made on first use and kept for good."""
        record = self.records.get((closure, code))
        if record is None:
            record = (WORD * CALL_RECORD_WORDS)(closure, code, RECORD_RECEIVER)
            self.records[(closure, code)] = record
        return ctypes.addressof(record)

    def patch(self, site: ICSite, state: str, entries: tuple) -> None:
        """Rewrite a region with every other thread stopped at a safepoint (a
        stop-the-world of kind "patch"; with no other thread it costs nothing)."""
        data = encode_region(site.kind, entries, site.address, site.registers)
        old = site.state
        self.engine.vm.threads.stop_the_world(lambda: write_code(site.address, data), "patch")
        site.state, site.entries = state, entries
        self.patches += 1
        tracer = self.engine.vm.tracer
        if tracer.on("ic"):
            shapes = ",".join(str(e.shape) for e in entries) or "-"
            tracer.emit("ic", f"{site.describe()}: {old} -> {state} (shapes {shapes})",
                        **site.fields(), old=old, new=state,
                        shapes=[e.shape for e in entries])

    def reset_all(self) -> None:
        """--ic-stress: every region of code still in use back to uninitialized."""
        for site in self.sites:
            if site.state != "uninitialized" and not site.code.invalid:
                self.patch(site, "uninitialized", ())

    def roots(self):
        """The classes of cached shapes (a shape id keeps its meaning while its class
        lives) and the closures of call records (code may hold a record's address)."""
        for site in self.sites:
            for entry in site.entries:
                yield tagref.from_ref(entry.class_addr)
        for closure, _ in self.records:
            yield closure

    def stats(self) -> dict:
        states = {state: 0 for state in ICSTATES}
        for site in self.sites:
            states[site.state] += 1
        return {"inline caches": states, "ic misses": self.misses, "ic patches": self.patches}


def region_registers(kind: str, locations) -> Registers:
    """The Registers of a region from its `anyregcc` patchpoint's stack-map locations:
    the result, then the arguments (the receiver, and set_field's value).  ValueError if
    LLVM left one outside a register (the unit then fails to compile: stage stackmaps)."""
    names = []
    for location in locations:
        if location.kind != LocationKind.REGISTER:
            raise ValueError(f"inline cache operand not in a register: {location.text()}")
        names.append(register_name(location.dwarf_reg))
    if kind == "set_field":
        return Registers(names[1], names[2], names[0])
    return Registers(names[1], None, names[0])
