"""Raw stacks and their meaning: what a sample records while the thread waits, and how the
side tables turn it into guest frames afterwards.

A raw stack is a tuple of parts, innermost first: a FrameSample for an interpreter frame
(cheap to take as it is), or `Addresses` for a run of native frames — the return
addresses the native walk collected (native.py), mapped later (`Resolver`) through the
side tables to the native and inlined frames each call site stands for
(`frames.site_samples`).  A signal sample's innermost run starts with the instruction
pointer, which is no call site: it is mapped to the next side-table site of its unit in
address order (a call, guard exit or poll after it: within the same inlined code, unless
LLVM moved blocks around), while the function is exact.
"""
from bisect import bisect_left
from dataclasses import dataclass

from ...native.engine import anchor_of
from ...runtime.frames import FrameSample, interp_sample, site_samples


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
        """The first site at or after an instruction pointer in its unit (its last site
        when none follows), or None outside compiled code or in a unit without sites."""
        code = self.engine.code_at(pc)
        if code is None or not len(code.table):
            return None
        offsets = code.table.body.offsets
        i = min(bisect_left(offsets, pc - code.address), len(offsets) - 1)
        return code.lookup(code.address + offsets[i])
