"""Side-table sizes, measured: LLVM's stack maps, our encoding, generic compressors.

    python bench/sidetables.py [--jobs 2] [--tiers eager,jit] [--cache FILE] [--only NAME ...]

Runs every benchmark of `bench/run.py` (at its `--quick` sizes) and every program of the Lox
test suite in each asked tier, each in a child process (`--collect TIER FILE`) that sends
back, per compiled unit, the raw `.llvm_stackmaps` section and the sites of its side table.
Then, per benchmark and for the suite as a whole, it prints one Markdown table
(`docs/sidetables.md` shows one) of:

- raw: the `.llvm_stackmaps` bytes LLVM emitted;
- before: our side tables in the format of `BASELINE_REVISION` (format 1);
- ours: our side tables in the current format (`offramp.native.sidetable`);
- zlib / lzma / bz2: each format-1 table compressed alone, and zlib over the whole
  program's format-1 tables concatenated;
- dict: each format-1 table compressed alone with a zlib dictionary trained on the other
  programs' tables (leave-one-out), and the same for the current format;
- decode cost per site at deopt time, in microseconds: a lookup in a table already decoded
  (what the engine does), a lookup in a fresh table (decoded for that one lookup), and
  decompress-then-lookup for each compressor.

Percentages are of the raw stack-map bytes.  zstd is measured only when the `zstandard`
module is installed (it is not a dependency).
"""
from __future__ import annotations

import argparse
import bz2
import importlib.util
import lzma
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bench.run import BENCHMARKS, scaled_source                    # noqa: E402
from offramp.native import sidetable as current                  # noqa: E402

SUITE_DIR = REPO_ROOT / "tests" / "lox" / "suite"
BASELINE_REVISION = "8125918"       # main before format 2: format 1's encoder
ZDICT_BYTES = 32 * 1024             # zlib's window: a preset dictionary beyond it is unused
CHILD_SECONDS = 120


# --- the child: run one program, send back its units ----------------------------------

def collect(tier: str, path: Path) -> list:
    """Run a Lox program in `tier`; per compiled unit, (raw stack-map section, sites)."""
    from offramp.config import Config
    from offramp.lox.codegen import compile_program
    from offramp.lox.driver import run_threads
    from offramp.lox.parser import parse_program
    from offramp.lox.runtime import GuestExit, LoxRuntime

    script, errors = parse_program(program_source(path))
    if errors:
        return []
    program = compile_program(script, profile=True)
    with open(os.devnull, "w") as sink:
        runtime = LoxRuntime(program, Config(tier=tier, max_frames=64), sink, sink,
                             open(os.devnull, "rb"))
        try:
            run_threads(runtime, program, sink, sink)
        except GuestExit:
            pass
    return [(code.compiled.section(".llvm_stackmaps") or b"",
             [(site.offset, site.info()) for site in code.table.sites()])
            for code in runtime.vm.tiers.engine.codes]


def program_source(path: Path) -> str:
    """A program's text; a benchmark's at its `--quick` sizes."""
    source = path.read_text(encoding="utf-8")
    bench = BENCHMARKS.get(path.stem) if path.parent.name == "benchmark" else None
    return scaled_source(bench, source) if bench else source


def collect_child(tier: str, path: Path) -> int:
    """`--collect`: the child's side; pickled units on standard output."""
    units = collect(tier, path)
    sys.stdout.buffer.write(pickle.dumps(units))
    return 0


# --- the parent: which programs, gathered how ------------------------------------------

@dataclass(frozen=True, slots=True)
class Program:
    """A Lox program and the row it counts in: its own (a benchmark) or 'suite'."""
    name: str
    path: Path
    row: str


def programs(only=()) -> list[Program]:
    """The benchmarks (a row each), then every other program of the Lox test suite."""
    benches = [Program(name, bench.lox_path, name) for name, bench in BENCHMARKS.items()]
    paths = {bench.path for bench in benches}
    suite = [Program(str(path.relative_to(SUITE_DIR)), path, "suite")
             for path in sorted(SUITE_DIR.rglob("*.lox")) if path not in paths]
    chosen = benches + suite
    return [p for p in chosen if not only or p.name in only or p.row in only]


def run_child(tier: str, program: Program) -> list:
    """The units of one program in one tier, from a child process ([] if it failed)."""
    argv = [sys.executable, __file__, "--collect", tier, str(program.path)]
    try:
        done = subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, timeout=CHILD_SECONDS,
                              env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)))
    except subprocess.TimeoutExpired:
        print(f"  {program.name} ({tier}): timed out", file=sys.stderr)
        return []
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:]
        print(f"  {program.name} ({tier}): exit {done.returncode} {tail}", file=sys.stderr)
        return []
    return pickle.loads(done.stdout)


def gather(tiers, chosen, jobs: int, cache: Path | None) -> dict:
    """{(tier, program name): units}, from the cache file when it has them."""
    found = pickle.loads(cache.read_bytes()) if cache and cache.exists() else {}
    wanted = [(tier, p) for tier in tiers for p in chosen if (tier, p.name) not in found]
    with ThreadPoolExecutor(jobs) as pool:
        for (tier, p), units in zip(wanted, pool.map(lambda job: run_child(*job), wanted)):
            found[tier, p.name] = units
    if cache:
        cache.write_bytes(pickle.dumps(found))
    return found


# --- formats and compressors -------------------------------------------------------------

def baseline_format():
    """Format 1's module (encoder and decoder), loaded from BASELINE_REVISION."""
    text = subprocess.run(["git", "show", f"{BASELINE_REVISION}:offramp/native/sidetable.py"],
                          cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout
    path = Path(tempfile.mkdtemp()) / "sidetable_v1.py"
    path.write_text(text, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("offramp.native.sidetable_v1", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def encode(module, sites) -> bytes:
    """One unit's table in a format (`module` has SideTableBuilder)."""
    builder = module.SideTableBuilder()
    for offset, info in sites:
        builder.add_site(offset, info)
    return builder.build()


def zstd_codec():
    """(compress, decompress) of zstd at level 19, or None when zstandard is not installed."""
    try:
        import zstandard
    except ImportError:
        return None
    return (zstandard.ZstdCompressor(level=19).compress,
            zstandard.ZstdDecompressor().decompress)


# name -> (compress, decompress): each at its strongest level.
COMPRESSORS = {
    "zlib": (lambda data: zlib.compress(data, 9), zlib.decompress),
    "lzma": (lambda data: lzma.compress(data, preset=9), lzma.decompress),
    "bz2": (lambda data: bz2.compress(data, 9), bz2.decompress),
}
if zstd_codec() is not None:
    COMPRESSORS["zstd"] = zstd_codec()


def zlib_with(zdict: bytes, data: bytes) -> bytes:
    """`data` deflated with a preset dictionary."""
    packer = zlib.compressobj(9, zdict=zdict) if zdict else zlib.compressobj(9)
    return packer.compress(data) + packer.flush()


def unzlib_with(zdict: bytes, data: bytes) -> bytes:
    """The inverse of `zlib_with`."""
    unpacker = zlib.decompressobj(zdict=zdict) if zdict else zlib.decompressobj()
    return unpacker.decompress(data) + unpacker.flush()


# --- shared dictionaries, leave-one-out ---------------------------------------------------

SEGMENT = 8     # bytes of the segments a dictionary is made of


def segments(tables) -> set:
    """Every SEGMENT-byte substring of a program's tables."""
    return {table[i:i + SEGMENT] for table in tables for i in range(len(table) - SEGMENT + 1)}


class DictionaryTrainer:
    """zlib dictionaries, each made of the segments found in the most programs but one.

    A crude COVER (zstd's trainer): count in how many programs each segment occurs, and
    for a program fill ZDICT_BYTES with the segments most common among the others, the most
    common last (zlib finds near matches more cheaply)."""

    def __init__(self, tables_by_program: dict):
        self.own = {name: segments(tables) for name, tables in tables_by_program.items()}
        counts = {}
        for found in self.own.values():
            for segment in found:
                counts[segment] = counts.get(segment, 0) + 1
        ranked = sorted(counts, key=counts.get, reverse=True)
        self.candidates = [(seg, counts[seg]) for seg in ranked[:2 * ZDICT_BYTES // SEGMENT]]

    def dictionary(self, left_out: str) -> bytes:
        """A dictionary trained on every program but `left_out` (None: on every program)."""
        own = self.own.get(left_out, set())
        scored = [(n - (seg in own), seg) for seg, n in self.candidates]
        chosen = sorted((item for item in scored if item[0] >= 2), reverse=True)
        return b"".join(seg for _, seg in reversed(chosen[:ZDICT_BYTES // SEGMENT]))


# --- sizes --------------------------------------------------------------------------------

@dataclass(slots=True)
class Sizes:
    """Bytes of one row (a program, or programs summed) in every form measured."""
    units: int = 0
    sites: int = 0
    raw: int = 0
    before: int = 0
    ours: int = 0
    plain: int = 0              # the current format with its body not deflated
    alone: dict = None          # compressor -> bytes, each format-1 table compressed alone
    whole: int = 0              # zlib over a program's format-1 tables concatenated
    dict_before: int = 0        # zlib with a leave-one-out dictionary, format 1
    dict_ours: int = 0          # the current format, its body deflated with such a dictionary

    def add(self, other: "Sizes") -> None:
        """Sum `other` into this row."""
        for name in ("units", "sites", "raw", "before", "ours", "plain", "whole",
                     "dict_before", "dict_ours"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.alone = {name: (self.alone or {}).get(name, 0) + n
                      for name, n in other.alone.items()}


@dataclass(slots=True)
class Encoded:
    """One program's units: raw sections and both formats' tables (the current one also
    with its body inflated)."""
    raw: list
    sites: list
    before: list
    ours: list
    plain: list


def program_sizes(encoded: Encoded, zdicts: tuple) -> Sizes:
    """Every size of one program's tables."""
    before_dict, ours_dict = zdicts
    return Sizes(
        units=len(encoded.raw), sites=sum(len(s) for s in encoded.sites),
        raw=sum(map(len, encoded.raw)), before=sum(map(len, encoded.before)),
        ours=sum(map(len, encoded.ours)), plain=sum(map(len, encoded.plain)),
        alone={name: sum(len(pack(t)) for t in encoded.before)
               for name, (pack, _) in COMPRESSORS.items()},
        whole=len(zlib.compress(b"".join(encoded.before), 9)) if encoded.before else 0,
        dict_before=sum(len(zlib_with(before_dict, t)) for t in encoded.before),
        dict_ours=sum(len(header) + len(zlib_with(ours_dict, body))
                      for header, body in map(split_header, encoded.plain)))


def split_header(plain: bytes) -> tuple:
    """(version and site count, body) of a table in the current format, not deflated."""
    reader = current._Reader(plain)
    reader.uv()
    reader.uv()
    return plain[:reader.pos], plain[reader.pos:]


def encode_all(found: dict, tier: str, chosen, v1) -> dict:
    """{program name: Encoded} of one tier."""
    out = {}
    for program in chosen:
        units = found.get((tier, program.name), [])
        ours = [encode(current, s) for _, s in units]
        out[program.name] = Encoded([raw for raw, _ in units], [s for _, s in units],
                                    [encode(v1, s) for _, s in units], ours,
                                    [current.inflated(table) for table in ours])
    return out


def rows(encoded: dict, chosen) -> dict:
    """{row: Sizes}: each benchmark, the suite, and 'all'."""
    trainers = (DictionaryTrainer({name: e.before for name, e in encoded.items()}),
                DictionaryTrainer({name: [split_header(t)[1] for t in e.plain]
                                   for name, e in encoded.items()}))
    out = {row: Sizes(alone={}) for row in [p.row for p in chosen] + ["all"]}
    for program in chosen:
        zdicts = tuple(trainer.dictionary(program.name) for trainer in trainers)
        sizes = program_sizes(encoded[program.name], zdicts)
        for row in (program.row, "all"):
            out[row].add(sizes)
    return out


# --- decode cost at deopt time ------------------------------------------------------------

SAMPLED_SITES = 100     # sites timed per tier, spread over the benchmarks' units
LOOPS = 5               # calls per timing; the best of 3 timings is kept


@dataclass(frozen=True, slots=True)
class Decoder:
    """One way to keep a unit's table and decode one of its sites at a deopt.

    `decoded`: the table object is kept decoded, as the engine keeps it, and a deopt only
    looks its site up; otherwise a deopt decodes the whole table for the one lookup, which
    is what any compressed form must do (after `codec`'s decompress)."""
    name: str
    format: str                     # 'before' (format 1) or 'ours'
    decoded: bool
    codec: tuple | None = None      # (compress, decompress)

    def prepare(self, formats: dict, tables: dict):
        """What is kept between deopts: a decoded table, or its (compressed) bytes."""
        data = tables[self.format]
        if self.decoded:
            table = formats[self.format].SideTable(data)
            table.lookup(-1)
            return table
        return self.codec[0](data) if self.codec else data

    def decode(self, formats: dict, kept, offset: int):
        """The site at `offset`, from what `prepare` kept."""
        if self.decoded:
            return kept.lookup(offset)
        data = self.codec[1](kept) if self.codec else kept
        return formats[self.format].SideTable(data).lookup(offset)


def decoders(zdict: bytes) -> list:
    """Every way of decoding measured."""
    return [Decoder("ours, body decoded", "ours", True),
            Decoder("ours, first lookup (inflate, decode)", "ours", False),
            Decoder("before, decoded table", "before", True),
            Decoder("before, fresh table", "before", False),
            *(Decoder(f"{name} + before", "before", False, codec)
              for name, codec in COMPRESSORS.items()),
            Decoder("zlib dict + before", "before", False,
                    (partial(zlib_with, zdict), partial(unzlib_with, zdict)))]


def sampled_sites(encoded: dict, names) -> list:
    """(before table, ours table, offset) of SAMPLED_SITES sites spread over the programs."""
    everything = [(before, ours, offset)
                  for name in names
                  for before, ours, sites in zip(encoded[name].before, encoded[name].ours,
                                                 encoded[name].sites)
                  for offset, _ in sites]
    step = max(1, len(everything) // SAMPLED_SITES)
    return everything[::step][:SAMPLED_SITES]


def decode_costs(encoded: dict, names, zdict: bytes, v1) -> dict:
    """name -> microseconds to decode one site, averaged over the sampled sites."""
    sample = sampled_sites(encoded, names)
    formats = {"before": v1, "ours": current}
    costs = {}
    for decoder in decoders(zdict):
        total = 0.0
        for before, ours, offset in sample:
            kept = decoder.prepare(formats, {"before": before, "ours": ours})
            decode = partial(decoder.decode, formats, kept, offset)
            assert decode() is not None
            total += best_time(decode)
        costs[decoder.name] = 1e6 * total / max(1, len(sample))
    return costs


def best_time(call) -> float:
    """Seconds per call, the best of 3 timings of LOOPS calls."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(LOOPS):
            call()
        best = min(best, (time.perf_counter() - start) / LOOPS)
    return best


# --- report -------------------------------------------------------------------------------

def percent(part: int, whole: int) -> str:
    """`part` bytes as a share of the raw stack-map bytes."""
    return f"{100 * part / whole:.1f}%" if whole else "-"


def size_table(tier: str, sizes: dict) -> str:
    """The Markdown table of one tier: bytes, then each form as a share of raw."""
    alone = list(next(iter(sizes.values())).alone)
    header = (["program", "units", "sites", "raw bytes", "before", "ours",
               "ours, not deflated"] + [f"{name} (before)" for name in alone]
              + ["whole program zlib (before)", "zlib+dict (before)", "ours, dict"])
    lines = [f"**--tier={tier}** (shares of the raw stack-map bytes)", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row, s in sizes.items():
        cells = [row, s.units, s.sites, s.raw, percent(s.before, s.raw),
                 percent(s.ours, s.raw), percent(s.plain, s.raw),
                 *(percent(s.alone[name], s.raw) for name in alone),
                 percent(s.whole, s.raw), percent(s.dict_before, s.raw),
                 percent(s.dict_ours, s.raw)]
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    return "\n".join(lines)


def cost_table(costs: dict) -> str:
    """The Markdown table of decode costs: one column per tier."""
    tiers = list(costs)
    lines = ["| decode one site | " + " | ".join(f"{t} (µs)" for t in tiers) + " |",
             "|---|" + "---|" * len(tiers)]
    for name in costs[tiers[0]]:
        lines.append(f"| {name} | " + " | ".join(f"{costs[t][name]:.1f}" for t in tiers)
                     + " |")
    return "\n".join(lines)


def machine() -> str:
    """One line naming the machine and the Pythons' versions."""
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info
                       if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{cpu}, {os.cpu_count()} cores; Python {sys.version.split()[0]}; "
            f"zlib {zlib.ZLIB_RUNTIME_VERSION}; compressors: {', '.join(COMPRESSORS)}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiers", default="eager,jit")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--only", nargs="*", default=(),
                        help="programs or rows (a benchmark's name, 'suite') to run")
    parser.add_argument("--cache", type=Path, help="keep the collected units in this file")
    args = parser.parse_args(argv)
    tiers = args.tiers.split(",")
    chosen = programs(args.only)
    found = gather(tiers, chosen, args.jobs, args.cache)
    v1 = baseline_format()
    costs = {}
    print(f"machine: {machine()}\n")
    for tier in tiers:
        encoded = encode_all(found, tier, chosen, v1)
        print(size_table(tier, rows(encoded, chosen)) + "\n")
        benches = [p.name for p in chosen if p.row != "suite"] or [p.name for p in chosen]
        zdict = DictionaryTrainer({n: e.before for n, e in encoded.items()
                                   if n not in benches}).dictionary(None)
        costs[tier] = decode_costs(encoded, benches, zdict, v1)
    print(cost_table(costs))
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--collect"]:
        sys.exit(collect_child(sys.argv[2], Path(sys.argv[3])))
    sys.exit(main())
