"""Raw stacks and their meaning: what a sample records while the thread waits, and how the
side tables turn it into guest frames afterwards.

A raw stack is a tuple of parts, innermost first: a FrameSample for an interpreter frame
(cheap to take as it is), or `Addresses` for a run of native frames — the return
addresses the native walk collected (native.py), mapped later (`Resolver`) through the
side tables to the native and inlined frames each call site stands for
(`frames.site_samples`).  A signal sample's innermost run starts with the instruction
pointer, which is no call site: it is mapped to the next anchor of its unit in address
order — a call's return address or the branch of a guard to its deopt exit (`anchors`,
the unit's machine code decoded with iced-x86) — whose frames are those of the code
just ahead (within the same inlined code, unless LLVM moved blocks around); the
function holding the machine frame is exact.
"""
import ctypes
from bisect import bisect_left
from dataclasses import dataclass

import iced_x86 as ix

from ...native.engine import anchor_of
from ...runtime.frames import FrameSample, interp_sample, site_samples


BRANCHES = (ix.FlowControl.CONDITIONAL_BRANCH, ix.FlowControl.UNCONDITIONAL_BRANCH)
EXIT_KINDS = ("guard", "deopt")


@dataclass(frozen=True, slots=True)
class Addresses:
    """A run of native frames: return addresses, innermost first; `pc`: the first is an
    instruction pointer (a signal sample), not a return address."""

    addresses: tuple
    pc: bool = False


def raw_stack(engine, walk, nt, interp_thread) -> tuple:
    """The raw stack of a thread stopped at a safepoint (or of the frames under the
    native code a signal interrupted), innermost first."""
    parts = []
    for item in engine.machine_frames(nt, interp_thread, segments=True):
        if item[0] == "interp":
            parts.append(interp_sample(item[1]))
            continue
        _, save_area, leaving = item
        ra, sp, bp, _ = anchor_of(save_area)
        parts.append(Addresses(walk.walk(ra, bp, sp)[leaving:]))
    parts.reverse()
    return tuple(parts)


class Resolver:
    """Maps raw stacks to FrameSamples, remembering each address's frames (compiled code
    never moves while the VM lives)."""

    def __init__(self, engine):
        self.engine = engine
        self.known = {}              # (address, is a pc) -> FrameSamples, innermost first
        self.anchors = {}            # unit address -> its anchors

    def frames(self, raw: tuple) -> tuple:
        """The FrameSamples of a raw stack, innermost first."""
        out = []
        for part in raw:
            if isinstance(part, Addresses):
                out += self.run(part)
            else:
                out.append(part)
        return tuple(out)

    def run(self, part: Addresses) -> list:
        """The frames of a run of native frames (stopping at an address that is no site)."""
        out = []
        for i, address in enumerate(part.addresses):
            found = self.at(address, part.pc and i == 0)
            if found is None:
                break
            out += found
        return out

    def at(self, address: int, pc: bool):
        """The frames one address stands for (None: not in compiled code).  A site
        without frame states (a function's entry poll: nothing has happened in the frame
        yet) stands for its unit's function, at no line."""
        key = (address, pc)
        if key not in self.known:
            site = self.next_site(address) if pc else self.engine.site_at(address)
            if site is None:
                self.known[key] = None
            elif site.frames:
                self.known[key] = site_samples(self.engine.module, site)
            else:
                func = self.engine.code_at(address).version.func
                self.known[key] = [FrameSample("native", func, None)]
        return self.known[key]

    def next_site(self, pc: int):
        """The site an instruction pointer stands for: that of the first anchor at or
        after it in its unit (`anchors`), or None outside compiled code or in a unit
        without sites."""
        code = self.engine.code_at(pc)
        if code is None or not len(code.table):
            return None
        found = self.anchors.get(code.address)
        if found is None:
            found = self.anchors[code.address] = anchors(code)
        i = min(bisect_left(found, (pc, -1)), len(found) - 1)
        return found[i][2]


EXIT_REACH = 512
"""Bytes from a branch target to the deopt exit's call it leads to (the exit block loads
its arguments, then calls): further, the branch is not taken to be that exit's."""


def anchors(code) -> list:
    """(hot address, tie-break, site) of a unit, sorted: each call site at its return
    address, and each deopt exit at the branch in the hot path that jumps to its cold
    block (a guard's check, where the guarded code runs).  Inlined code that makes no
    call keeps its place in the hot path only through its guards: without them an
    instruction pointer in it would map to the next call or poll, often the caller's."""
    sites = code.table.sites()
    starts = [site.address for site in sites]
    out = [(site.address, 0, site) for site in sites]
    data = ctypes.string_at(code.address, code.size)
    for instr in ix.Decoder(64, data, ip=code.address):
        if instr.flow_control not in BRANCHES:
            continue
        target = instr.near_branch_target
        i = bisect_left(starts, target)
        if i < len(sites) and sites[i].kind in EXIT_KINDS and \
                starts[i] - target <= EXIT_REACH:
            out.append((instr.ip, 1, sites[i]))
    out.sort(key=lambda anchor: anchor[:2])
    return out
