"""Side tables: compact deopt and GC metadata of native code, keyed by return address.

At every site where native code may leave for the runtime (a guard's or deopt's exit, a call,
a runtime call, a safepoint poll, a trap) the runtime needs the abstract machine state: the
chain of frames to rebuild, innermost first (an inlined callee, then the callers it was
inlined into), each with its function, version, resume point and live variables, and for
every variable the stack map location (from `.llvm_stackmaps`) that holds its value.  It also
needs the GC roots at that site.  `SideTableBuilder` is the one encoder of this mapping,
`SideTable` the one decoder, `dump` its text form.

Model.  A site is a `SiteInfo`: kind, reason, frames (`FrameDesc`, innermost first), one
`Location` per variable of the flattened frames (innermost frame's variables first), and
extra GC-only locations (e.g. statepoint base/derived pointers that are no frame variable).
The GC roots of a site are the non-constant locations of its `ref` and `tagref64` variables
followed by its extra GC locations, without repeats: a constant in code cannot be updated,
so code may only embed references to objects that never move.

Sharing.  Strings are stored once, in a string table.  Frame chains are stored as a tree:
a frame node is (descriptor, parent node), interned, so all the sites inlined into the same
caller state store that caller part once, and sites of the same frame store the whole chain
once.  Distinct locations are stored once and sites refer to them by index; locations are
per site (each return address has its own register allocation), frames are not.

Byte format (version 1).  `uv` is an unsigned LEB128 varint (7 bits per byte, low first,
high bit = more); `sv` is a signed value zigzag-mapped ((n << 1) ^ (n >> 63), for any
Python int: n >= 0 -> 2n, n < 0 -> -2n-1) then written as `uv`.  Strings and frames are
referred to by index; a frame reference 0 means "none", k means node k - 1.

    table     := uv FORMAT_VERSION, uv nstrings, uv nlocations, uv nframes, uv nsites,
                 string*, location*, frame*, site*
    string    := uv nbytes, UTF-8 bytes
    location  := uv (dwarf_reg << 3 | kind), uv size, sv offset_or_constant
                 (kind as in stackmaps.LocationKind; CONSTANT_INDEX is never stored: a
                 builder takes constants resolved to CONSTANT with their 64-bit value)
    frame     := uv parent (0 or an earlier node + 1), uv func, uv version, uv block
                 (string indices), uv instruction index, uv (nvars << 1 | waiting),
                 nvars * (uv name string index, uv type code (TYPE_CODES))
    site      := uv offset delta (sites sorted by return-address offset, strictly
                 increasing; the first delta is from 0), uv kind code (SITE_KINDS),
                 uv reason string index, uv innermost frame reference,
                 one uv location index per variable of the chain (innermost frame first,
                 each frame's variables in order), uv ngc, ngc * uv location index,
                 uv result type code (0: none) [, uv location index of the result]

A table does not know where its code is: `SideTable(data, base_address)` adds the base
address, and `lookup(return_address)` finds the site whose offset is
`return_address - base_address`.
"""
import bisect
from dataclasses import dataclass

from offramp.ir.types import (DOUBLE, I1, I8, I16, I32, I64, PTR, REF, TAGREF64, FuncRefType,
                              FuncSig, is_traced)

from .stackmaps import Location, LocationKind

FORMAT_VERSION = 1

# IR type <-> type code: the one table.  Codes fit in one varint byte.
TYPE_CODES = {I1: 1, I8: 2, I16: 3, I32: 4, I64: 5, DOUBLE: 6, REF: 7, PTR: 8, TAGREF64: 9}
CODE_TYPES = {code: ty for ty, code in TYPE_CODES.items()}

# Why native code stops at a site: the one table of site kinds (the code is the index).
SITE_KINDS = ("guard", "deopt", "call", "ccall", "safepoint", "trap", "patchpoint",
              "watchpoint", "stress", "lazy", "entry")
SITE_KIND_CODES = {kind: code for code, kind in enumerate(SITE_KINDS)}


# A funcref is held as its function's id; the signature is not needed to read it back.
FUNCREF_CODE = 10
ANY_FUNCREF = FuncRefType(FuncSig((), ()))
CODE_TYPES[FUNCREF_CODE] = ANY_FUNCREF


def type_code(ty) -> int:
    """The side-table code of an IR type (ValueError for a type a frame cannot hold)."""
    if isinstance(ty, FuncRefType):
        return FUNCREF_CODE
    try:
        return TYPE_CODES[ty]
    except (KeyError, TypeError):
        raise ValueError(f"no side-table type code for {ty!r}") from None


def code_type(code: int):
    """The IR type of a side-table type code."""
    try:
        return CODE_TYPES[code]
    except KeyError:
        raise SideTableError(f"unknown type code {code}") from None


class SideTableError(ValueError):
    """Malformed side-table bytes, or a site the builder cannot encode."""


@dataclass(frozen=True, slots=True)
class FrameDesc:
    """One frame to rebuild: where it resumes and its live variables as (name, IR type)."""

    func: str
    version: str
    block: str
    index: int
    waiting: bool = False
    vars: tuple = ()


@dataclass(frozen=True, slots=True)
class SiteInfo:
    """What goes into the table for one site; `locations` parallel the flattened vars."""

    kind: str
    reason: str
    frames: tuple
    locations: tuple
    gc_extra: tuple = ()
    result: tuple | None = None   # (IR type, Location) of a call result the innermost
                                  # (waiting) frame is handed when it resumes

    def __post_init__(self):
        if self.kind not in SITE_KIND_CODES:
            raise ValueError(f"unknown site kind {self.kind!r}; kinds: {', '.join(SITE_KINDS)}")
        nvars = sum(len(frame.vars) for frame in self.frames)
        if len(self.locations) != nvars:
            raise ValueError(f"{len(self.locations)} locations for {nvars} frame variables")


@dataclass(frozen=True, slots=True)
class SiteFrame:
    """One decoded frame of a site: its descriptor and the location of each variable."""

    desc: FrameDesc
    locations: tuple

    def variables(self):
        """(name, IR type, Location) for each live variable of this frame."""
        return tuple((name, ty, loc) for (name, ty), loc in zip(self.desc.vars, self.locations))


@dataclass(frozen=True, slots=True)
class Site:
    """A decoded site: where it is, why it stops, frames innermost first, GC-only locations."""

    offset: int
    address: int
    kind: str
    reason: str
    frames: tuple
    gc_extra: tuple
    result: tuple | None = None

    @property
    def gc_locations(self) -> tuple:
        """Every location holding a GC root here: traced variables' (not constants), extras."""
        roots = [loc for frame in self.frames for (_, ty, loc) in frame.variables()
                 if is_traced(ty) and loc.kind not in (LocationKind.CONSTANT,
                                                       LocationKind.CONSTANT_INDEX)]
        return tuple(dict.fromkeys(roots + list(self.gc_extra)))

    def info(self) -> SiteInfo:
        """The SiteInfo this site was built from."""
        return SiteInfo(self.kind, self.reason, tuple(f.desc for f in self.frames),
                        tuple(loc for f in self.frames for loc in f.locations), self.gc_extra,
                        self.result)


# --- varints ----------------------------------------------------------------------------

def _put_uv(out: bytearray, n: int) -> None:
    """Append n >= 0 as an unsigned LEB128 varint."""
    if n < 0:
        raise SideTableError(f"negative value {n} where an unsigned one is required")
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return


def _put_sv(out: bytearray, n: int) -> None:
    """Append any int as a zigzag-mapped varint."""
    _put_uv(out, n << 1 if n >= 0 else ((-n) << 1) - 1)


class _Reader:
    """A cursor over side-table bytes."""

    __slots__ = ("data", "pos")

    def __init__(self, data, pos=0):
        self.data, self.pos = data, pos

    def uv(self) -> int:
        """The next unsigned varint."""
        result = shift = 0
        data = self.data
        while True:
            try:
                byte = data[self.pos]
            except IndexError:
                raise SideTableError(f"truncated varint at byte {self.pos}") from None
            self.pos += 1
            result |= (byte & 0x7F) << shift
            if byte < 0x80:
                return result
            shift += 7

    def sv(self) -> int:
        """The next zigzag varint."""
        n = self.uv()
        return n >> 1 if not n & 1 else -((n + 1) >> 1)

    def raw(self, size: int) -> bytes:
        """The next `size` bytes."""
        if self.pos + size > len(self.data):
            raise SideTableError(f"truncated string at byte {self.pos}")
        chunk = bytes(self.data[self.pos:self.pos + size])
        self.pos += size
        return chunk


class _Interner:
    """Assigns dense indices to hashable values in first-seen order."""

    def __init__(self):
        self.index = {}

    def __call__(self, value) -> int:
        """The index of `value`, assigning the next one if it is new."""
        found = self.index.get(value)
        if found is None:
            found = self.index[value] = len(self.index)
        return found

    def __len__(self):
        return len(self.index)

    def values(self):
        return list(self.index)


# --- encoder ----------------------------------------------------------------------------

def _check_site(site: SiteInfo) -> None:
    """Refuse, when it is added, a site that `build` could not encode."""
    for desc in site.frames:
        if not isinstance(desc.index, int) or desc.index < 0:
            raise SideTableError(f"@{desc.func}: instruction index {desc.index!r} is not >= 0")
        for name, ty in desc.vars:
            try:
                type_code(ty)
            except ValueError:
                raise SideTableError(f"@{desc.func} %{name}: no side-table type code for "
                                     f"{ty!r}") from None
    extra = (site.result[1],) if site.result is not None else ()
    if site.result is not None:
        try:
            type_code(site.result[0])
        except ValueError:
            raise SideTableError(f"no side-table type code for the result type "
                                 f"{site.result[0]!r}") from None
    for loc in site.locations + site.gc_extra + extra:
        if loc.kind == LocationKind.CONSTANT_INDEX:
            raise SideTableError("CONSTANT_INDEX location: resolve it first "
                                 "(StackMap.resolve) so the table needs no constant pool")
        if loc.dwarf_reg < 0 or loc.size < 0:
            raise SideTableError(f"location {loc} has a negative register or size")


class SideTableBuilder:
    """Collects sites by return-address offset and encodes them with shared frames and strings."""

    def __init__(self):
        self.sites = {}

    def add_site(self, return_address_offset: int, site: SiteInfo) -> None:
        """Record `site` at `return_address_offset` (relative to the table's base address)."""
        if return_address_offset < 0:
            raise SideTableError(f"negative return-address offset {return_address_offset}")
        if return_address_offset in self.sites:
            raise SideTableError(f"two sites at offset {return_address_offset:#x}")
        _check_site(site)
        self.sites[return_address_offset] = site

    def __len__(self):
        return len(self.sites)

    def build(self) -> bytes:
        """The encoded table (format in the module docstring)."""
        strings, locations, frames = _Interner(), _Interner(), _Interner()
        body = bytearray()
        previous = 0
        for offset in sorted(self.sites):
            site = self.sites[offset]
            _put_uv(body, offset - previous)
            previous = offset
            _put_uv(body, SITE_KIND_CODES[site.kind])
            _put_uv(body, strings(site.reason))
            _put_uv(body, self._intern_chain(site.frames, strings, frames))
            for loc in site.locations:
                _put_uv(body, locations(loc))
            _put_uv(body, len(site.gc_extra))
            for loc in site.gc_extra:
                _put_uv(body, locations(loc))
            if site.result is None:
                _put_uv(body, 0)
            else:
                _put_uv(body, type_code(site.result[0]))
                _put_uv(body, locations(site.result[1]))
        out = bytearray()
        for n in (FORMAT_VERSION, len(strings), len(locations), len(frames), len(self.sites)):
            _put_uv(out, n)
        for text in strings.values():
            encoded = text.encode("utf-8")
            _put_uv(out, len(encoded))
            out += encoded
        for loc in locations.values():
            _put_uv(out, loc.dwarf_reg << 3 | int(loc.kind))
            _put_uv(out, loc.size)
            _put_sv(out, loc.offset_or_constant)
        for desc, parent in frames.values():
            self._encode_frame(out, desc, parent, strings)
        return bytes(out + body)

    @staticmethod
    def _intern_chain(chain, strings, frames) -> int:
        """Intern frames outermost first; returns the innermost frame's reference (0 = none)."""
        ref = 0
        for desc in reversed(chain):
            for text in (desc.func, desc.version, desc.block, *(name for name, _ in desc.vars)):
                strings(text)
            ref = frames((desc, ref)) + 1
        return ref

    @staticmethod
    def _encode_frame(out, desc, parent, strings) -> None:
        """One frame node (its strings are already interned)."""
        _put_uv(out, parent)
        for text in (desc.func, desc.version, desc.block):
            _put_uv(out, strings(text))
        _put_uv(out, desc.index)
        _put_uv(out, len(desc.vars) << 1 | bool(desc.waiting))
        for name, ty in desc.vars:
            _put_uv(out, strings(name))
            _put_uv(out, type_code(ty))


# --- decoder ----------------------------------------------------------------------------

class SideTable:
    """A decoded view of side-table bytes for code at `base_address`; sites decode on lookup.

    The string, location and frame tables are decoded at construction (`strings`,
    `locations`, and `frames`: one (FrameDesc, parent reference, variables in the chain) per
    frame node); the site index on the first lookup; each Site when it is looked up.
    """

    def __init__(self, data: bytes, base_address: int = 0):
        self.data = bytes(data)
        self.base_address = base_address
        reader = _Reader(self.data)
        version = reader.uv()
        if version != FORMAT_VERSION:
            raise SideTableError(f"side-table format {version}, expected {FORMAT_VERSION}")
        nstrings, nlocations, nframes, self._nsites = (reader.uv() for _ in range(4))
        self.strings = tuple(reader.raw(reader.uv()).decode("utf-8") for _ in range(nstrings))
        self.locations = tuple(self._read_location(reader) for _ in range(nlocations))
        self.frames = []           # node -> (FrameDesc, parent reference, vars in chain)
        for _ in range(nframes):
            self.frames.append(self._read_frame(reader))
        self._sites_start = reader.pos
        self._offsets = None       # sorted site offsets, built on the first lookup
        self._positions = None     # byte position of each site's kind field

    def __len__(self):
        return self._nsites

    @property
    def nbytes(self) -> int:
        """The encoded size."""
        return len(self.data)

    def lookup(self, return_address: int) -> Site | None:
        """The site whose return address is `return_address`, or None."""
        offsets = self._index()
        offset = return_address - self.base_address
        i = bisect.bisect_left(offsets, offset)
        if i == len(offsets) or offsets[i] != offset:
            return None
        return self._read_site(offset, _Reader(self.data, self._positions[i]))

    def sites(self):
        """Every site, in increasing address order."""
        offsets = self._index()
        return [self._read_site(offset, _Reader(self.data, pos))
                for offset, pos in zip(offsets, self._positions)]

    def _index(self) -> list:
        """Site offsets and positions: one pass that skips each site's location list."""
        if self._offsets is None:
            offsets, positions = [], []
            reader, offset = _Reader(self.data, self._sites_start), 0
            for _ in range(self._nsites):
                offset += reader.uv()
                offsets.append(offset)
                positions.append(reader.pos)
                reader.uv()
                reader.uv()
                frame = reader.uv()
                for _ in range(self._chain_vars(frame)):
                    reader.uv()
                for _ in range(reader.uv()):
                    reader.uv()
                if reader.uv():
                    reader.uv()
            if reader.pos != len(self.data):
                raise SideTableError(f"{len(self.data) - reader.pos} bytes after the last site")
            self._offsets, self._positions = offsets, positions
        return self._offsets

    def _chain_vars(self, ref: int) -> int:
        """The number of variables in the frame chain starting at reference `ref`."""
        if ref > len(self.frames):
            raise SideTableError(f"frame reference {ref} beyond {len(self.frames)} frames")
        return self.frames[ref - 1][2] if ref else 0

    def _read_location(self, reader) -> Location:
        """One location entry."""
        head = reader.uv()
        try:
            kind = LocationKind(head & 7)
        except ValueError:
            raise SideTableError(f"unknown location kind {head & 7}") from None
        return Location(kind, reader.uv(), head >> 3, reader.sv())

    def _read_frame(self, reader):
        """One frame node: (FrameDesc, parent reference, variables in its chain)."""
        parent = reader.uv()
        if parent > len(self.frames):
            raise SideTableError(f"frame {len(self.frames)} names a later parent {parent - 1}")
        func, version, block = (self._string(reader.uv()) for _ in range(3))
        index = reader.uv()
        packed = reader.uv()
        variables = tuple((self._string(reader.uv()), code_type(reader.uv()))
                          for _ in range(packed >> 1))
        desc = FrameDesc(func, version, block, index, bool(packed & 1), variables)
        return desc, parent, len(variables) + self._chain_vars(parent)

    def _string(self, index: int) -> str:
        """String `index` of the string table."""
        try:
            return self.strings[index]
        except IndexError:
            raise SideTableError(f"string index {index} out of range") from None

    def _location(self, index: int) -> Location:
        """Location `index` of the location table."""
        try:
            return self.locations[index]
        except IndexError:
            raise SideTableError(f"location index {index} out of range") from None

    def _read_site(self, offset: int, reader) -> Site:
        """The site at `offset` whose body (from its kind on) `reader` is at."""
        try:
            kind = SITE_KINDS[reader.uv()]
        except IndexError:
            raise SideTableError(f"unknown site kind at offset {offset:#x}") from None
        reason = self._string(reader.uv())
        frames, ref = [], reader.uv()
        while ref:
            if ref > len(self.frames):
                raise SideTableError(f"site at {offset:#x} names frame {ref - 1} of "
                                     f"{len(self.frames)}")
            desc, ref, _ = self.frames[ref - 1]
            frames.append(SiteFrame(desc, tuple(self._location(reader.uv()) for _ in desc.vars)))
        gc_extra = tuple(self._location(reader.uv()) for _ in range(reader.uv()))
        code = reader.uv()
        result = (code_type(code), self._location(reader.uv())) if code else None
        return Site(offset, self.base_address + offset, kind, reason, tuple(frames), gc_extra,
                    result)


# --- dump -------------------------------------------------------------------------------

def dump(table: SideTable) -> str:
    """The table as text: a header, then one line per site and one per frame (innermost first)."""
    lines = [f"side table: {len(table)} sites, {len(table.frames)} frames, "
             f"{len(table.strings)} strings, {len(table.locations)} locations, "
             f"{table.nbytes} bytes"]
    for site in table.sites():
        roots = " ".join(loc.text() for loc in site.gc_locations)
        reason = f" {site.reason!r}" if site.reason else ""
        lines.append(f"+{site.offset:#x} {site.kind}{reason} frames={len(site.frames)}"
                     f" gc=[{roots}]")
        for depth, frame in enumerate(site.frames):
            desc = frame.desc
            values = " ".join(f"%{name}:{ty.text()}={loc.text()}"
                              for name, ty, loc in frame.variables())
            wait = " waiting" if desc.waiting else ""
            lines.append(f"  #{depth} @{desc.func} {desc.version} %{desc.block}:{desc.index}"
                         f"{wait}" + (f" {values}" if values else ""))
    return "\n".join(lines)
