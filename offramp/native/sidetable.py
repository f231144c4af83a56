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

Sharing.  A table is a set of small shared tables that sites refer to by index, each
entry stored once: strings (the ten most common ones, `PRESET_STRINGS`, are not stored at
all), locations, "whys" ((kind, reason) of a site), location lists (a site's locations, GC
extras and result, shared by the sites LLVM gave the same registers and slots: a call and
the lazy exit after it, guards of one state), blocks ((function, version, block)), scopes (a
frame's variables, shared by the resume points of a function that keep the same ones) and
frame nodes.  Frame chains are a tree: a frame node is (parent node, block, instruction
index, scope, waiting), so all the sites inlined into the same caller state store that
caller part once, and sites of the same frame store the whole chain once.  Locations are
per site (each return address has its own register allocation), frames are not.  The body
(everything after the site count) is then deflated: what is left is mostly the reasons'
text and the sites' varints, which DEFLATE still shortens by half (docs/sidetables.md has
the measurements).

Byte format (version 2).  `uv` is an unsigned LEB128 varint (7 bits per byte, low first,
high bit = more); `sv` is a signed value zigzag-mapped ((n << 1) ^ (n >> 63), for any
Python int: n >= 0 -> 2n, n < 0 -> -2n-1) then written as `uv`.  String indices below
len(PRESET_STRINGS) name a preset; index p + k names the k-th stored string.

    table     := uv FORMAT_VERSION, uv nsites,
                 DEFLATE(body)  (raw RFC 1951 stream, no zlib header or checksum; it ends
                 the table)
    body      := uv nstrings, uv nlocations, uv nwhys, uv nlists, uv nblocks, uv nscopes,
                 uv nframes, string*, location*, why*, list*, block*, scope*, frame*, site*
    string    := uv head, uv tail, uv nmiddle, middle bytes: the UTF-8 bytes are the first
                 `head` bytes of the string before, the middle, then its last `tail` bytes
                 (stored strings are sorted by their UTF-8 bytes; the first follows b"")
    location  := uv (dwarf_reg << 3 | kind), uv size, sv offset_or_constant
                 (kind as in stackmaps.LocationKind; CONSTANT_INDEX is never stored: a
                 builder takes constants resolved to CONSTANT with their 64-bit value)
    why       := uv (reason string << 4 | kind code (SITE_KINDS))
    list      := uv n, uv (ngc << 4 | result type code (TYPE_CODES; 0: none)),
                 n * uv location index: the chain's variables (innermost frame first, each
                 frame's variables in order), then ngc GC-only locations, then the result's
    block     := uv function string, uv version string, uv block string
    scope     := uv nvars, nvars * uv (name string << 4 | type code)
    frame     := uv parent (0: none, k: an earlier node k - 1), uv block index,
                 uv instruction index, uv (scope index << 1 | waiting)
    site      := uv offset delta (sites sorted by return-address offset, strictly
                 increasing; the first delta is from 0), uv why index,
                 sv (innermost frame reference - the largest reference of the sites
                 before, 0 at first; a reference 0 means no frame), uv list index

A table does not know where its code is: `SideTable(data, base_address)` adds the base
address, and `lookup(return_address)` finds the site whose offset is
`return_address - base_address`.
"""
import bisect
import zlib
from dataclasses import dataclass

from offramp.ir.types import (DOUBLE, I1, I8, I16, I32, I64, PTR, REF, TAGREF64, FuncRefType,
                              FuncSig, is_traced)

from .stackmaps import Location, LocationKind

FORMAT_VERSION = 2

# IR type <-> type code: the one table.  Codes fit in one varint byte.
TYPE_CODES = {I1: 1, I8: 2, I16: 3, I32: 4, I64: 5, DOUBLE: 6, REF: 7, PTR: 8, TAGREF64: 9}
CODE_TYPES = {code: ty for ty, code in TYPE_CODES.items()}

# Why native code stops at a site: the one table of site kinds (the code is the index).
SITE_KINDS = ("guard", "deopt", "call", "ccall", "safepoint", "trap", "patchpoint",
              "watchpoint", "stress", "lazy", "entry", "breakpoint")
SITE_KIND_CODES = {kind: code for code, kind in enumerate(SITE_KINDS)}


# A funcref is held as its function's id; the signature is not needed to read it back.
FUNCREF_CODE = 10
ANY_FUNCREF = FuncRefType(FuncSig((), ()))
CODE_TYPES[FUNCREF_CODE] = ANY_FUNCREF

# A type code and a site kind code each take the low bits of a varint they share.
TYPE_BITS, KIND_BITS = 4, 4
TYPE_MASK, KIND_MASK = (1 << TYPE_BITS) - 1, (1 << KIND_BITS) - 1

# Strings most tables hold (the native tier's reasons, the IR's first version and block,
# the receiver), measured by bench/sidetables.py: index i < len(PRESET_STRINGS) names one
# of these, and the table does not store it.  Changing this tuple changes the format.
PRESET_STRINGS = ("", "v1", "entry", "this", "CALL", "CCALL", "poll", "lazy deopt",
                  "entry poll", "stack overflow")
PRESET_BYTES = frozenset(text.encode("utf-8") for text in PRESET_STRINGS)


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


def _put_uvs(out: bytearray, *numbers: int) -> None:
    """Append each of `numbers` as an unsigned varint."""
    for n in numbers:
        _put_uv(out, n)


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
        strings = _StringTable(text for site in self.sites.values() for text in _texts(site))
        locations, whys, lists, blocks, scopes, frames = (_Interner() for _ in range(6))
        body, previous, newest = bytearray(), 0, 0
        for offset in sorted(self.sites):
            site = self.sites[offset]
            why = SITE_KIND_CODES[site.kind] | strings.index(site.reason) << KIND_BITS
            ref = _intern_chain(site.frames, strings, blocks, scopes, frames)
            _put_uvs(body, offset - previous, whys(why))
            _put_sv(body, ref - newest)
            _put_uv(body, lists(_location_list(site, locations)))
            previous, newest = offset, max(newest, ref)
        shared = _shared_tables(strings, locations, whys, lists, blocks, scopes, frames)
        header = bytearray()
        _put_uvs(header, FORMAT_VERSION, len(self.sites))
        return bytes(header) + _deflate(bytes(shared + body))


def _shared_tables(strings, locations, whys, lists, blocks, scopes, frames) -> bytearray:
    """The body's counts and shared tables, which the sites refer to."""
    out = bytearray()
    _put_uvs(out, len(strings), len(locations), len(whys), len(lists), len(blocks),
             len(scopes), len(frames))
    strings.encode(out)
    for loc in locations.values():
        _put_uvs(out, loc.dwarf_reg << 3 | int(loc.kind), loc.size)
        _put_sv(out, loc.offset_or_constant)
    _put_uvs(out, *whys.values())
    for indices, head in lists.values():
        _put_uvs(out, len(indices), head, *indices)
    for names in blocks.values():
        _put_uvs(out, *names)
    for variables in scopes.values():
        _put_uvs(out, len(variables), *variables)
    for frame in frames.values():
        _put_uvs(out, *frame)
    return out


def _deflate(body: bytes) -> bytes:
    """The body as a raw DEFLATE stream (no zlib header or checksum)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS, 9)
    return packer.compress(body) + packer.flush()


def _texts(site: SiteInfo):
    """Every string a site stores: its reason, and each frame's names."""
    yield site.reason
    for desc in site.frames:
        yield from (desc.func, desc.version, desc.block)
        yield from (name for name, _ in desc.vars)


def _location_list(site: SiteInfo, locations: _Interner) -> tuple:
    """A site's locations as a list-table key: (location indices, ngc << 4 | result code)."""
    result = () if site.result is None else (site.result[1],)
    code = 0 if site.result is None else type_code(site.result[0])
    indices = tuple(locations(loc) for loc in site.locations + site.gc_extra + result)
    return indices, len(site.gc_extra) << TYPE_BITS | code


def _intern_chain(chain, strings, blocks, scopes, frames) -> int:
    """Intern frames outermost first; returns the innermost frame's reference (0 = none)."""
    ref = 0
    for desc in reversed(chain):
        block = blocks(tuple(strings.index(text)
                             for text in (desc.func, desc.version, desc.block)))
        scope = scopes(tuple(strings.index(name) << TYPE_BITS | type_code(ty)
                             for name, ty in desc.vars))
        ref = frames((ref, block, desc.index, scope << 1 | bool(desc.waiting))) + 1
    return ref


class _StringTable:
    """The strings of one table: presets by their index, the others stored sorted."""

    def __init__(self, texts):
        stored = sorted({text.encode("utf-8") for text in texts} - PRESET_BYTES)
        self.stored = stored
        self.indices = {text: i for i, text in enumerate(PRESET_STRINGS)}
        self.indices.update((text.decode("utf-8"), len(PRESET_STRINGS) + i)
                            for i, text in enumerate(stored))

    def __len__(self):
        return len(self.stored)

    def index(self, text: str) -> int:
        """The string index of `text`."""
        return self.indices[text]

    def encode(self, out: bytearray) -> None:
        """Each stored string as the head and tail it shares with the one before, and the
        middle: sorted reasons differ in a position or a name ("not a number @b2:11 in f")."""
        previous = b""
        for text in self.stored:
            head = _shared_prefix(previous, text)
            tail = _shared_prefix(previous[head:][::-1], text[head:][::-1])
            middle = text[head:len(text) - tail]
            _put_uvs(out, head, tail, len(middle))
            out += middle
            previous = text


def _shared_prefix(a: bytes, b: bytes) -> int:
    """How many leading bytes `a` and `b` have in common."""
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


# --- decoder ----------------------------------------------------------------------------

class SideTable:
    """A view of side-table bytes for code at `base_address`, decoded lazily.

    Construction reads only the header; the first lookup (or use of `body`, the shared
    tables) inflates and decodes the body (`TableBody`); each Site is decoded when it is
    looked up.  Most compiled code never deoptimizes, so most tables stay compressed.
    """

    def __init__(self, data: bytes, base_address: int = 0):
        self.data = bytes(data)
        self.base_address = base_address
        reader = _Reader(self.data)
        version = reader.uv()
        if version != FORMAT_VERSION:
            raise SideTableError(f"side-table format {version}, expected {FORMAT_VERSION}")
        self._nsites = reader.uv()
        self._body_start = reader.pos
        self._body = None

    def __len__(self):
        return self._nsites

    @property
    def nbytes(self) -> int:
        """The encoded size."""
        return len(self.data)

    @property
    def body(self) -> "TableBody":
        """The decoded shared tables and site index (inflated on first use)."""
        if self._body is None:
            self._body = TableBody(_inflate(self.data[self._body_start:]), self._nsites)
        return self._body

    def lookup(self, return_address: int) -> Site | None:
        """The site whose return address is `return_address`, or None."""
        body = self.body
        offset = return_address - self.base_address
        i = bisect.bisect_left(body.offsets, offset)
        if i == len(body.offsets) or body.offsets[i] != offset:
            return None
        return self._site(offset, *body.records[i])

    def sites(self):
        """Every site, in increasing address order."""
        body = self.body
        return [self._site(offset, *record) for offset, record in zip(body.offsets,
                                                                      body.records)]

    def _site(self, offset: int, why: int, ref: int, listed: int) -> Site:
        """The site at `offset` from its record: why it stops, its chain, its locations."""
        body = self.body
        kind, reason = body.entry(body.whys, why, "why")
        locations, ngc, result_type = body.entry(body.lists, listed, "location list")
        nvars = len(locations) - ngc - (result_type is not None)
        if nvars != body.chain_vars(ref):
            raise SideTableError(f"site at {offset:#x}: {nvars} locations for "
                                 f"{body.chain_vars(ref)} frame variables")
        frames, start = [], 0
        while ref:
            desc, ref, _ = body.frame(ref)
            end = start + len(desc.vars)
            frames.append(SiteFrame(desc, locations[start:end]))
            start = end
        result = (result_type, locations[-1]) if result_type is not None else None
        return Site(offset, self.base_address + offset, kind, reason, tuple(frames),
                    locations[nvars:nvars + ngc], result)


def _inflate(data: bytes) -> bytes:
    """A table's body from its raw DEFLATE stream, which must end the table."""
    unpacker = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        body = unpacker.decompress(data)
    except zlib.error as error:
        raise SideTableError(f"body does not inflate: {error}") from None
    if not unpacker.eof:
        raise SideTableError("truncated body")
    if unpacker.unused_data:
        raise SideTableError(f"{len(unpacker.unused_data)} bytes after the last site")
    return body


def inflated(data: bytes) -> bytes:
    """The table with its body inflated: the bytes before DEFLATE (for measurements)."""
    reader = _Reader(data)
    reader.uv()
    reader.uv()
    return bytes(data[:reader.pos]) + _inflate(bytes(data[reader.pos:]))


class TableBody:
    """The decoded body of a table: the shared tables, then each site's record.

    `strings` (presets first), `locations`, `whys` ((kind, reason)), `lists` ((locations,
    ngc, result type or None)), `blocks` ((function, version, block)), `scopes` (variables
    as (name, IR type)), `frames` ((FrameDesc, parent reference, variables in the chain)),
    and per site, in address order, `offsets` and `records` ((why, frame reference, list)).
    """

    def __init__(self, data: bytes, nsites: int):
        reader = _Reader(data)
        nstrings, nlocations, nwhys, nlists, nblocks, nscopes, nframes = (
            reader.uv() for _ in range(7))
        self.strings = PRESET_STRINGS + self._read_strings(reader, nstrings)
        self.locations = tuple(self._read_location(reader) for _ in range(nlocations))
        self.whys = tuple(self._read_why(reader.uv()) for _ in range(nwhys))
        self.lists = tuple(self._read_list(reader) for _ in range(nlists))
        self.blocks = tuple(tuple(self._string(reader.uv()) for _ in range(3))
                            for _ in range(nblocks))
        self.scopes = tuple(tuple(self._read_variable(reader.uv()) for _ in range(reader.uv()))
                            for _ in range(nscopes))
        self.frames = []
        for _ in range(nframes):
            self.frames.append(self._read_frame(reader))
        self.offsets, self.records = self._read_sites(reader, nsites)
        if reader.pos != len(data):
            raise SideTableError(f"{len(data) - reader.pos} bytes after the last site")

    @staticmethod
    def _read_sites(reader, count: int) -> tuple:
        """Site offsets and records: four varints a site."""
        offsets, records = [], []
        offset = newest = 0
        for _ in range(count):
            offset += reader.uv()
            offsets.append(offset)
            why, ref = reader.uv(), newest + reader.sv()
            records.append((why, ref, reader.uv()))
            newest = max(newest, ref)
        return offsets, records

    @staticmethod
    def _read_strings(reader, count: int) -> tuple:
        """The stored strings: each shares a head and a tail with the one before."""
        texts, previous = [], b""
        for _ in range(count):
            head, tail = reader.uv(), reader.uv()
            if head + tail > len(previous):
                raise SideTableError(f"string shares {head} + {tail} bytes of {len(previous)}")
            previous = (previous[:head] + reader.raw(reader.uv())
                        + previous[len(previous) - tail:])
            try:
                texts.append(previous.decode("utf-8"))
            except UnicodeDecodeError:
                raise SideTableError(f"string {previous!r} is not UTF-8") from None
        return tuple(texts)

    @staticmethod
    def _read_location(reader) -> Location:
        """One location entry."""
        head = reader.uv()
        try:
            kind = LocationKind(head & 7)
        except ValueError:
            raise SideTableError(f"unknown location kind {head & 7}") from None
        return Location(kind, reader.uv(), head >> 3, reader.sv())

    def _read_why(self, packed: int) -> tuple:
        """One (kind, reason) entry."""
        try:
            kind = SITE_KINDS[packed & KIND_MASK]
        except IndexError:
            raise SideTableError(f"unknown site kind {packed & KIND_MASK}") from None
        return kind, self._string(packed >> KIND_BITS)

    def _read_list(self, reader) -> tuple:
        """One location list: (locations, ngc, result type or None)."""
        count, head = reader.uv(), reader.uv()
        locations = tuple(self.entry(self.locations, reader.uv(), "location")
                          for _ in range(count))
        code, ngc = head & TYPE_MASK, head >> TYPE_BITS
        if ngc + bool(code) > count:
            raise SideTableError(f"location list of {count} with {ngc} GC-only entries")
        return locations, ngc, code_type(code) if code else None

    def _read_frame(self, reader):
        """One frame node: (FrameDesc, parent reference, variables in its chain)."""
        parent = reader.uv()
        if parent > len(self.frames):
            raise SideTableError(f"frame {len(self.frames)} names a later parent {parent - 1}")
        func, version, block = self.entry(self.blocks, reader.uv(), "block")
        index = reader.uv()
        packed = reader.uv()
        variables = self.entry(self.scopes, packed >> 1, "scope")
        desc = FrameDesc(func, version, block, index, bool(packed & 1), variables)
        return desc, parent, len(variables) + self.chain_vars(parent)

    def _read_variable(self, packed: int) -> tuple:
        """One (name, IR type) of a scope."""
        return self._string(packed >> TYPE_BITS), code_type(packed & TYPE_MASK)

    def _string(self, index: int) -> str:
        """String `index` of the string table."""
        return self.entry(self.strings, index, "string")

    def chain_vars(self, ref: int) -> int:
        """The number of variables in the frame chain starting at reference `ref`."""
        return self.frame(ref)[2] if ref else 0

    def frame(self, ref: int) -> tuple:
        """Frame node `ref - 1`."""
        if not 0 < ref <= len(self.frames):
            raise SideTableError(f"frame reference {ref} beyond {len(self.frames)} frames")
        return self.frames[ref - 1]

    @staticmethod
    def entry(table: tuple, index: int, what: str):
        """Entry `index` of one of the shared tables."""
        try:
            return table[index]
        except IndexError:
            raise SideTableError(f"{what} index {index} out of range") from None


# --- dump -------------------------------------------------------------------------------

def dump(table: SideTable) -> str:
    """The table as text: a header, then one line per site and one per frame (innermost first)."""
    body = table.body
    lines = [f"side table: {len(table)} sites, {len(body.frames)} frames, "
             f"{len(body.strings) - len(PRESET_STRINGS)} strings, "
             f"{len(body.locations)} locations, {table.nbytes} bytes"]
    for site in table.sites():
        lines += site_lines(site)
    return "\n".join(lines)


def site_lines(site: Site) -> list:
    """One site as text (`dump`'s lines, the disassembler's annotations): its offset,
    kind, reason and GC roots, then one line per frame, innermost first, with the
    location of every variable."""
    roots = " ".join(loc.text() for loc in site.gc_locations)
    reason = f" {site.reason!r}" if site.reason else ""
    lines = [f"+{site.offset:#x} {site.kind}{reason} frames={len(site.frames)} gc=[{roots}]"]
    for depth, frame in enumerate(site.frames):
        desc = frame.desc
        values = " ".join(f"%{name}:{ty.text()}={loc.text()}"
                          for name, ty, loc in frame.variables())
        wait = " waiting" if desc.waiting else ""
        lines.append(f"  #{depth} @{desc.func} {desc.version} %{desc.block}:{desc.index}"
                     f"{wait}" + (f" {values}" if values else ""))
    return lines
