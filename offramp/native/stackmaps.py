"""Parsing LLVM's `.llvm_stackmaps` section, format version 3, into frozen dataclasses.

LLVM writes one stack map section per object file: for every `llvm.experimental.stackmap`,
`llvm.experimental.patchpoint.*` and `llvm.experimental.gc.statepoint` it emits a record that
says where each live value it was given ended up (a register, a stack slot or a constant).
The layout (all integers little-endian, offsets from the section start, which is 8-aligned):

    Header        u8 version (3), u8 reserved, u16 reserved
                  u32 NumFunctions, u32 NumConstants, u32 NumRecords
    Function[NumFunctions]   u64 address, u64 stack size, u64 record count
    Constant[NumConstants]   u64 value
    Record[NumRecords]       u64 patchpoint id, u32 instruction offset, u16 flags (reserved),
                             u16 NumLocations,
                             Location[NumLocations]  u8 kind, u8 reserved, u16 size,
                                                     u16 DWARF register, u16 reserved,
                                                     i32 offset or small constant
                             padding to 8 bytes, u16 padding, u16 NumLiveOuts,
                             LiveOut[NumLiveOuts]    u16 DWARF register, u8 reserved, u8 size
                             padding to 8 bytes

Records belong to functions in order: the first `record count` records to the first function
and so on.  `instruction_offset` is relative to the start of the record's function.  In the
object bytes captured from MCJIT the function addresses are unrelocated zeros, so
`records_by_function` pairs records with functions by order and the caller adds the real
function address from the engine.

What a location means (x86-64):
  REGISTER        the value is in register `dwarf_reg` (see DWARF_REGISTERS);
  DIRECT          the value is the address `reg + offset` (a stack object, e.g. an alloca);
  INDIRECT        the value is in memory at `[reg + offset]` (a spill slot);
  CONSTANT        the value is `offset_or_constant` itself (sign-extended 32 bits);
  CONSTANT_INDEX  the value is `constants[offset_or_constant]` (a 64-bit constant).
"""
import enum
import struct
from dataclasses import dataclass

STACKMAP_VERSION = 3

# DWARF register numbers of x86-64 (System V psABI, figure 3.36): the one name table.
DWARF_REGISTERS = ("rax", "rdx", "rcx", "rbx", "rsi", "rdi", "rbp", "rsp",
                   *(f"r{n}" for n in range(8, 16)), "ra",
                   *(f"xmm{n}" for n in range(16)))
DWARF_REGISTER_NUMBERS = {name: number for number, name in enumerate(DWARF_REGISTERS)}
DWARF_RSP = DWARF_REGISTER_NUMBERS["rsp"]
DWARF_RBP = DWARF_REGISTER_NUMBERS["rbp"]
DWARF_XMM0 = DWARF_REGISTER_NUMBERS["xmm0"]


def register_name(dwarf_reg: int) -> str:
    """The x86-64 name of a DWARF register number ('dwarf99' when it has none here)."""
    if 0 <= dwarf_reg < len(DWARF_REGISTERS):
        return DWARF_REGISTERS[dwarf_reg]
    return f"dwarf{dwarf_reg}"


class LocationKind(enum.IntEnum):
    """Where a stack map location keeps its value (the `kind` byte of a location)."""

    REGISTER = 1
    DIRECT = 2
    INDIRECT = 3
    CONSTANT = 4
    CONSTANT_INDEX = 5


@dataclass(frozen=True, slots=True)
class Location:
    """One recorded value: its kind, size in bytes, DWARF register and offset or constant."""

    kind: LocationKind
    size: int
    dwarf_reg: int
    offset_or_constant: int

    def constant(self, constants) -> int:
        """The 64-bit value of a CONSTANT or CONSTANT_INDEX location (as unsigned bits)."""
        if self.kind == LocationKind.CONSTANT:
            return self.offset_or_constant & 0xFFFF_FFFF_FFFF_FFFF
        if self.kind == LocationKind.CONSTANT_INDEX:
            return constants[self.offset_or_constant]
        raise ValueError(f"{self.kind.name} location has no constant value")

    def text(self) -> str:
        """A short readable form: `rax`, `[rsp+16]`, `rbp-8`, `#42`, `const[0]`."""
        reg = register_name(self.dwarf_reg)
        off = self.offset_or_constant
        if self.kind == LocationKind.REGISTER:
            return reg
        if self.kind == LocationKind.DIRECT:
            return f"{reg}{off:+d}"
        if self.kind == LocationKind.INDIRECT:
            return f"[{reg}{off:+d}]"
        if self.kind == LocationKind.CONSTANT:
            return f"#{off}"
        return f"const[{off}]"


@dataclass(frozen=True, slots=True)
class LiveOut:
    """A register live across a patchpoint (reported for `anyregcc` and patchpoints)."""

    dwarf_reg: int
    size: int


@dataclass(frozen=True, slots=True)
class FunctionRecord:
    """A function with records: address (0 when unrelocated), frame size, record count."""

    address: int
    stack_size: int
    record_count: int


@dataclass(frozen=True, slots=True)
class Record:
    """One stackmap/patchpoint/statepoint: id, offset in its function, and its locations."""

    patchpoint_id: int
    instruction_offset: int
    flags: int
    locations: tuple
    live_outs: tuple


@dataclass(frozen=True, slots=True)
class StackMap:
    """A parsed `.llvm_stackmaps` section."""

    version: int
    functions: tuple
    constants: tuple
    records: tuple

    def resolve(self, location: Location) -> Location:
        """`location` with a CONSTANT_INDEX replaced by CONSTANT holding the 64-bit value.

        The result's `offset_or_constant` may then exceed 32 bits; the point is that a
        consumer of a resolved location never needs the constant pool again.
        """
        if location.kind != LocationKind.CONSTANT_INDEX:
            return location
        return Location(LocationKind.CONSTANT, location.size, location.dwarf_reg,
                        self.constants[location.offset_or_constant])

    def constant(self, location: Location) -> int:
        """The 64-bit value of a CONSTANT or CONSTANT_INDEX location of this stack map."""
        return location.constant(self.constants)


class StackMapError(ValueError):
    """The section is not a well-formed version 3 stack map."""


class _Reader:
    """A cursor over little-endian section bytes that reports truncation as StackMapError."""

    def __init__(self, data: bytes):
        self.data = memoryview(data)
        self.pos = 0

    def take(self, fmt: str):
        """Unpack `fmt` at the cursor and advance past it."""
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise StackMapError(f"truncated at byte {self.pos}: need {size} more bytes")
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return values

    def align8(self):
        """Skip padding up to the next multiple of 8."""
        self.pos = (self.pos + 7) & ~7


_LOCATION = "<BBHHHi"
_LIVE_OUT = "<HBB"


def _read_record(reader: _Reader) -> Record:
    """One StkMapRecord, trailing alignment included."""
    patchpoint_id, offset, flags, nlocations = reader.take("<QIHH")
    locations = []
    for _ in range(nlocations):
        kind, _, size, reg, _, value = reader.take(_LOCATION)
        try:
            kind = LocationKind(kind)
        except ValueError:
            raise StackMapError(f"record {patchpoint_id}: unknown location kind {kind}") from None
        locations.append(Location(kind, size, reg, value))
    reader.align8()
    _, nlive = reader.take("<HH")
    live_outs = tuple(LiveOut(reg, size) for reg, _, size in
                      (reader.take(_LIVE_OUT) for _ in range(nlive)))
    reader.align8()
    return Record(patchpoint_id, offset, flags, tuple(locations), live_outs)


def parse_stackmaps(data: bytes) -> StackMap:
    """Parse a `.llvm_stackmaps` section (version 3) into a StackMap."""
    reader = _Reader(data)
    version, _, _ = reader.take("<BBH")
    if version != STACKMAP_VERSION:
        raise StackMapError(f"stack map version {version}, expected {STACKMAP_VERSION}")
    nfunctions, nconstants, nrecords = reader.take("<III")
    functions = tuple(FunctionRecord(*reader.take("<QQQ")) for _ in range(nfunctions))
    constants = tuple(reader.take("<Q")[0] for _ in range(nconstants))
    records = tuple(_read_record(reader) for _ in range(nrecords))
    if sum(f.record_count for f in functions) != nrecords:
        raise StackMapError(f"function record counts sum to "
                            f"{sum(f.record_count for f in functions)}, not {nrecords}")
    return StackMap(version, functions, constants, records)


def records_by_function(stackmap: StackMap) -> list:
    """[(FunctionRecord, [Record, ...]), ...]: records assigned to functions by order and count."""
    result, start = [], 0
    for function in stackmap.functions:
        result.append((function, list(stackmap.records[start:start + function.record_count])))
        start += function.record_count
    return result


def function_address_field(index: int) -> int:
    """Where the address of function record `index` lies in the section (relocation offset)."""
    return 16 + 24 * index


def function_names(stackmap: StackMap, relocations: dict) -> list:
    """The symbol each function record's address is relocated against, in record order.

    `relocations` maps offsets in the section to symbol names (the object file's
    `.rela.llvm_stackmaps`; see llvm_setup.CompiledObject.relocations).  This is the robust
    way to name the functions of `records_by_function`: a function without records has no
    function record, so the order alone does not say which function is which.
    """
    try:
        return [relocations[function_address_field(i)] for i in range(len(stackmap.functions))]
    except KeyError as missing:
        raise StackMapError(f"no relocation for the function address at {missing}") from None


STATEPOINT_HEADER = 3   # calling convention, flags, number of deopt values


def split_statepoint(record: Record, stackmap: StackMap) -> tuple:
    """(deopt locations, ((base, derived), ...)) of a `gc.statepoint` record.

    A statepoint record's locations are three constants (calling convention, flags, the
    number N of deopt values), then the N deopt values, then (base, derived) pairs for the
    `gc-live` pointers.
    """
    locations = record.locations
    if len(locations) < STATEPOINT_HEADER or any(
            loc.kind not in (LocationKind.CONSTANT, LocationKind.CONSTANT_INDEX)
            for loc in locations[:STATEPOINT_HEADER]):
        raise StackMapError(f"record {record.patchpoint_id} is not a statepoint record")
    ndeopt = stackmap.constant(locations[2])
    deopt = locations[STATEPOINT_HEADER:STATEPOINT_HEADER + ndeopt]
    rest = locations[STATEPOINT_HEADER + ndeopt:]
    if len(deopt) != ndeopt or len(rest) % 2:
        raise StackMapError(f"statepoint {record.patchpoint_id}: {len(locations)} locations "
                            f"do not fit {ndeopt} deopt values and pointer pairs")
    return deopt, tuple(zip(rest[::2], rest[1::2]))


def dump_stackmap(stackmap: StackMap) -> str:
    """The stack map as text: one line per function and per record (for --dump and tests)."""
    lines = [f"stackmap v{stackmap.version}: {len(stackmap.functions)} functions, "
             f"{len(stackmap.constants)} constants, {len(stackmap.records)} records"]
    for function, records in records_by_function(stackmap):
        lines.append(f"function @{function.address:#x} stack={function.stack_size} "
                     f"records={function.record_count}")
        for record in records:
            locations = ", ".join(stackmap.resolve(loc).text() if loc.kind ==
                                  LocationKind.CONSTANT_INDEX else loc.text()
                                  for loc in record.locations)
            live = " ".join(register_name(l.dwarf_reg) for l in record.live_outs)
            lines.append(f"  id={record.patchpoint_id} +{record.instruction_offset:#x} "
                         f"[{locations}]" + (f" live-out: {live}" if live else ""))
    return "\n".join(lines)
