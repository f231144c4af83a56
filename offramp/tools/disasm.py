"""`offramp disasm FILE.lox [FUNC]`: the machine code a run left, annotated with what the
VM knows about it.

The program runs first (its output is its own), then every unit the native engine
compiled — or those whose function name contains FUNC — is listed as it is in memory now:

- a header: function, version, symbol, address, size, valid or invalid, the side table's
  sites and bytes and the raw `.llvm_stackmaps` bytes it was built from;
- the instructions, decoded with iced-x86, each with its address and offset;
- after the instruction a stack-map site returns to, the site (side table, `site_lines`):
  kind, reason, GC roots and, for every frame (innermost first), its resume point and
  where each live value is (register, stack slot, constant);
- each patch region marked where it starts and ends, with its state and its current
  bytes: inline caches (uninitialized, mono, poly, mega and the cached shapes; decoded up
  to the jump out of the region, the bytes after it never run) and trample regions
  (valid, or trampled once the unit is invalid).

Decoding runs linearly between patch regions and restarts at each region's start, so an
instruction boundary lost in a region's stale bytes never shifts what follows.
"""
import ctypes
from dataclasses import dataclass

import iced_x86 as ix

from ..lox.driver import run_lox
from ..native import inline_cache, trample
from ..native.sidetable import site_lines

BYTES_SHOWN = 10     # the longest x86-64 instructions the VM emits (movabs r64, imm64)


@dataclass(frozen=True)
class PatchRegion:
    """A patch region as the listing shows it."""

    address: int
    size: int
    title: str             # its name and current state
    ends_at_exit: bool     # decoding stops at the jump out of the region (an IC's code is
                           # shorter than its region; the rest is stale)


def ic_region(site) -> PatchRegion:
    """An inline cache's region: its site and current state."""
    shapes = ",".join(str(e.shape) for e in site.entries) or "-"
    return PatchRegion(site.address, inline_cache.REGION_BYTES,
                       f"{site.describe()}: {site.state} (shapes {shapes})", True)


def trample_region(region, invalid: bool) -> PatchRegion:
    """A status read of the unit: trampled once the unit is invalid."""
    state = "trampled" if invalid else "valid"
    return PatchRegion(region.address, trample.REGION_BYTES,
                       f"trample region (status {region.status}, thread {region.thread}): "
                       f"{state}", False)


def regions_of(code) -> list:
    """Every patch region of a unit, in address order."""
    regions = [ic_region(site) for site in code.inline_caches.values()]
    regions += [trample_region(r, code.invalid) for r in code.trample_regions]
    return sorted(regions, key=lambda r: r.address)


def header(code) -> list:
    """The lines that introduce a unit."""
    version = code.version
    state = "INVALID (no call enters it; its frames leave lazily)" if code.invalid else "valid"
    return [f"unit @{version.func} VERSION %{version.name} ({code.symbol})",
            f"  address {code.address:#x}, {code.size} bytes, {state}",
            f"  side table: {len(code.table)} sites, {code.table.nbytes} bytes; raw stack "
            f"maps: {code.raw_stackmap_bytes} bytes",
            f"  patch regions: {len(code.inline_caches)} inline caches, "
            f"{len(code.trample_regions)} trample regions"]


class _Listing:
    """The lines of one unit's code, decoded from memory."""

    def __init__(self, code):
        self.code = code
        self.data = ctypes.string_at(code.address, code.size)
        self.sites = {site.address: site for site in code.table.sites()}
        self.formatter = _formatter()
        self.lines = []

    def unit(self) -> list:
        """Header, code and regions, in address order."""
        self.lines += header(self.code)
        at = self.code.address
        for region in regions_of(self.code):
            self.decode(at, region.address)
            self.region(region)
            at = region.address + region.size
        self.decode(at, self.code.address + self.code.size)
        for site in self.sites.values():      # a return address no instruction ends at
            self.site(site, "site at no instruction's end")
        return self.lines

    def region(self, region: PatchRegion) -> None:
        """A patch region between its markers, decoded as it is now."""
        end = region.address + region.size
        self.lines.append(f"  ;; --- {region.title} [{region.address:#x}, {region.size} bytes]")
        stopped = self.decode(region.address, end, exit_to=end if region.ends_at_exit else None)
        if stopped < end:
            self.lines.append(f"  ;;     ({end - stopped} bytes after the jump out: never run)")
        self.lines.append(f"  ;; --- end of region [{end:#x}]")

    def decode(self, start: int, end: int, exit_to: int | None = None) -> int:
        """List the instructions in [start, end), each followed by the site it returns
        to; with `exit_to`, stop after the jump there.  Where decoding stopped."""
        base = self.code.address
        decoder = ix.Decoder(64, self.data[start - base:end - base], ip=start)
        for instr in decoder:
            self.instruction(instr)
            if exit_to is not None and _jumps_to(instr, exit_to):
                return instr.next_ip
        return end

    def instruction(self, instr) -> None:
        """One instruction line, then the side-table site at its end, if any."""
        base = self.code.address
        raw = self.data[instr.ip - base:instr.next_ip - base]
        text = self.formatter.format(instr) if not instr.is_invalid else "(bad)"
        self.lines.append(f"  {instr.ip:#x} +{instr.ip - base:<6x}{raw[:BYTES_SHOWN].hex(' '):30}"
                          f"{text}")
        site = self.sites.pop(instr.next_ip, None)
        if site is not None:
            self.site(site, "site")

    def site(self, site, title: str) -> None:
        """A side-table site's lines: kind, reason, roots, then its frames."""
        first, *frames = site_lines(site)
        self.lines.append(f"  ;;   {title} {first}")
        self.lines += [f"  ;;   {line}" for line in frames]


def _formatter():
    """Intel syntax with numbers written as the address column writes them (0x..., lower
    case), so a branch target can be found by eye."""
    formatter = ix.Formatter(ix.FormatterSyntax.INTEL)
    formatter.hex_prefix, formatter.hex_suffix = "0x", ""
    formatter.uppercase_hex = False
    formatter.space_after_operand_separator = True
    formatter.branch_leading_zeros = False
    return formatter


def _jumps_to(instr, target: int) -> bool:
    """Whether `instr` is an unconditional jump to `target`."""
    return (instr.flow_control == ix.FlowControl.UNCONDITIONAL_BRANCH and
            instr.near_branch_target == target)


def units(engine, name: str = "") -> list:
    """The engine's compiled units whose function name contains `name`, in order."""
    return [code for code in engine.codes if name in code.version.func]


def listing(engine, name: str = "") -> str:
    """The annotated listing of the selected units."""
    chosen = units(engine, name)
    if not chosen:
        return f";; no compiled unit{f' of a function containing {name!r}' if name else ''}\n"
    return "\n".join("\n".join(_Listing(code).unit()) + "\n" for code in chosen)


def run_disasm(source: str, path: str, config, name: str, stdout, stderr, out) -> int:
    """Run the Lox program (its output on `stdout`), then write the listing of its
    compiled units to `out`; the program's exit status."""
    runtimes = []
    status = run_lox(source, path, config, stdout, stderr, after=runtimes.append)
    if runtimes:
        stdout.flush()
        out.write(listing(runtimes[0].vm.tiers.engine, name))
    return status
