"""Invalidation by trampling code: how running activations of invalid code leave it.

Every place where an activation of compiled code may resume after time has passed — the
return of a call or runtime entry that can deoptimize lazily (a CALL, a CCALL, a
safepoint poll's runtime entry, the function-entry poll) — reads the thread's status word
through a small patch region: an `anyregcc` `llvm.experimental.patchpoint` of
REGION_BYTES whose record names the register holding the thread block and the one
receiving the status.  In valid code the region is

    mov <status>, qword ptr [<thread> + status]

and the code after it leaves for the runtime when the status is non-zero (a guest error
unwinding, a frame marked by deoptHere).  Invalidating the unit rewrites every region of
it to

    mov <status>, qword ptr [<thread> + status]
    or  <status>, STATUS_TRAMPLED

so each activation takes its lazy exit at the next of those points it reaches — in every
thread, with no stack walk and no word for the code to load after each call: the code
itself has changed.  An error still unwinds (the status keeps its low bits).

Why this is safe with threads: the regions are rewritten while every other thread is
stopped at a safepoint (a stop-the-world of kind "patch"), and a stopped thread is never
inside a region — a region holds no call, and a thread stops only in a call (a poll's or
a runtime entry's); it resumes at that call's return address, before the region.  A
thread stopped in a call of this unit, or in code it called, comes back through a
trampled region and leaves; a thread that had read the unit's entry cell just before the
world stopped is parked at the unit's entry poll (every poll is armed while the world
stops) and leaves there, deoptimizing at the entry.  New calls no longer enter the unit:
its entry cell (the word every call of the function loads) is cleared in the same stop.

A region is one load in valid code where the status check loaded the same word before:
the patchpoint adds no spill (anyregcc: every other register stays live) and no memory
barrier that the call before it did not already impose.  Sites LLVM proved unreachable
have no record and need no trampling.
"""
from __future__ import annotations

from dataclasses import dataclass

import iced_x86 as ix

from .patching import write_many
from .stackmaps import LocationKind, register_name
from .threadblock import OFFSET, STATUS_TRAMPLED

REGION_BYTES = 9                 # the trampled form with an r12 base: 5 + 4 bytes
TRAMPLE_ID_BASE = 2 << 32        # stack-map ids of trample regions (above the ICs')

I, C = ix.Instruction, ix.Code


@dataclass(frozen=True)
class Region:
    """One status read of a unit: where it is and the registers the record names."""

    address: int
    status: str                  # receives the status word
    thread: str                  # holds the thread block's address


def region_from_record(address: int, locations) -> Region:
    """A Region from its patchpoint's stack-map locations (the result, then the thread
    block).  ValueError if LLVM left one outside a register."""
    names = []
    for location in locations:
        if location.kind != LocationKind.REGISTER:
            raise ValueError(f"trample region operand not in a register: {location.text()}")
        names.append(register_name(location.dwarf_reg))
    return Region(address, names[0], names[1])


def region_code(region: Region, trampled: bool) -> list:
    """The instructions of a region, valid or trampled."""
    status = getattr(ix.Register, region.status.upper())
    thread = getattr(ix.Register, region.thread.upper())
    word = ix.MemoryOperand(thread, displ=OFFSET["status"], displ_size=1)
    body = [I.create_reg_mem(C.MOV_R64_RM64, status, word)]
    if trampled:
        body.append(I.create_reg_i32(C.OR_RM64_IMM8, status, STATUS_TRAMPLED))
    return body


def encode_region(region: Region, trampled: bool) -> bytes:
    """The machine code of a region, padded with NOPs to REGION_BYTES."""
    encoder = ix.Encoder(64)
    data = b""
    for instr in region_code(region, trampled):
        encoder.encode(instr, region.address + len(data))
        data += bytes(encoder.take_buffer())
    if len(data) > REGION_BYTES:
        raise ValueError(f"trample region needs {len(data)} bytes, more than {REGION_BYTES}")
    while len(data) < REGION_BYTES:
        encoder.encode(_nop(REGION_BYTES - len(data)), region.address + len(data))
        data += bytes(encoder.take_buffer())
    return data


def _nop(room: int):
    """The longest recommended NOP (Intel's multi-byte `nop dword ptr [...]` forms, up to
    5 bytes) that fits in `room`: the rest of a region costs one or two instructions."""
    if room == 1:
        return I.create(C.NOPD)
    if room == 2:
        return I.create(C.NOPW)
    if room == 3:
        return I.create_mem(C.NOP_RM32, ix.MemoryOperand(ix.Register.RAX))
    if room == 4:
        return I.create_mem(C.NOP_RM32, ix.MemoryOperand(ix.Register.RAX, displ=0,
                                                         displ_size=1))
    return I.create_mem(C.NOP_RM32, ix.MemoryOperand(ix.Register.RAX, ix.Register.RAX,
                                                     displ=0, displ_size=1))


def write_regions(regions, trampled: bool) -> None:
    """Write every region of a unit, valid (before its first entry) or trampled (with
    the world stopped)."""
    write_many([(r.address, encode_region(r, trampled)) for r in regions])
