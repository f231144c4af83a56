"""`offramp disasm`: machine code of the units a run compiled, with stack-map sites, inline
cache regions and trample regions annotated as they are in memory after the run."""
import re

import pytest

from offramp.cli import main
from tests.conftest import run_offramp

# Field accesses through an inline cache (eager: `get` is compiled before its first call,
# so its region goes uninitialized -> mono), calls, guards, deoptHere(), and a global
# reassigned after `f` assumed it: `f`'s first unit is invalidated (its regions trampled).
PROGRAM = """
class P { init(x) { this.x = x; } }
fun get(p) { return p.x; }
fun add(a, b) { return a + b; }
fun f(n) { var s = 0; for (var i = 0; i < n; i = i + 1) s = add(s, get(P(i))); return s; }
print f(5);
fun d(n) { deoptHere(); return n + 1; }
print d(1);
fun sub(a, b) { return a - b; }
add = sub;
print f(3);
"""
OUTPUT = "10\n2\n-3\n"

INSTRUCTION = re.compile(r"  0x[0-9a-f]+ \+[0-9a-f]+ +([0-9a-f]{2} )+ *[a-z]")
SITE = re.compile(r"  ;;   site \+0x[0-9a-f]+ ([a-z]+)")


@pytest.fixture(scope="module", name="eager")
def eager_fixture(tmp_path_factory):
    """The command's result on PROGRAM with every function compiled at its first call."""
    path = tmp_path_factory.mktemp("disasm") / "program.lox"
    path.write_text(PROGRAM)
    return run_offramp(["disasm", "--eager", str(path)])


def units(listing: str) -> dict:
    """The listing split by unit: its `unit ...` line -> its lines."""
    found, current = {}, None
    for line in listing.splitlines():
        if line.startswith("unit "):
            current = found.setdefault(line, [])
        elif current is not None:
            current.append(line)
    return found


def unit_of(listing: str, name: str, valid: bool = True) -> list:
    """The lines of the first unit of function `name`, valid or invalid."""
    for title, lines in units(listing).items():
        if f"@{name} " in title and ("INVALID" not in lines[0]) == valid:
            return lines
    raise AssertionError(f"no {'valid' if valid else 'invalid'} unit of {name}")


def test_program_output_comes_before_the_listing(eager):
    assert eager.returncode == 0, eager.stderr
    assert eager.stdout.startswith(OUTPUT + "unit @")


def test_units_have_a_header_and_machine_code(eager):
    lines = unit_of(eager.stdout, "lox.fn2.get")
    assert re.fullmatch(r"  address 0x[0-9a-f]+, \d+ bytes, valid", lines[0])
    assert re.fullmatch(r"  side table: \d+ sites, \d+ bytes; raw stack maps: \d+ bytes",
                        lines[1])
    assert lines[2] == "  patch regions: 1 inline caches, 3 trample regions"
    assert sum(bool(INSTRUCTION.match(line)) for line in lines) > 20
    assert any(line.endswith(" ret") for line in lines)


def test_sites_show_kind_reason_frames_and_locations(eager):
    kinds = {m.group(1) for m in map(SITE.match, eager.stdout.splitlines()) if m}
    assert {"guard", "call", "ccall", "lazy", "entry"} <= kinds
    lines = unit_of(eager.stdout, "lox.fn2.get")
    at = next(i for i, line in enumerate(lines) if SITE.match(line) and " ccall " in line)
    assert INSTRUCTION.match(lines[at - 1]) and " call " in lines[at - 1]
    assert re.match(r"  ;;     #0 @lox\.fn2\.get v1 %entry:\d+ waiting %p0:tagref64=\S+",
                    lines[at + 1])


def test_inline_cache_region_is_mono_with_its_shape(eager):
    lines = unit_of(eager.stdout, "lox.fn2.get")
    start = next(i for i, line in enumerate(lines) if "--- ic0 get_field 'x'" in line)
    assert re.search(r": mono \(shapes \d+\) \[0x[0-9a-f]+, 192 bytes\]$", lines[start])
    end = next(i for i in range(start, len(lines)) if "--- end of region" in lines[i])
    code = [line for line in lines[start:end] if INSTRUCTION.match(line)]
    assert any(re.search(r"cmp e[a-z]+, \d+$", line) for line in code)    # the shape check
    end_address = re.search(r"\[(0x[0-9a-f]+)\]", lines[end]).group(1)
    assert " jmp " in code[-1] and code[-1].endswith(end_address)      # the jump out
    assert "bytes after the jump out: never run" in lines[end - 1]


def test_trample_regions_are_valid_until_the_unit_is_invalid(eager):
    valid = unit_of(eager.stdout, "lox.fn4.f")
    invalid = unit_of(eager.stdout, "lox.fn4.f", valid=False)
    assert "INVALID" in invalid[0]
    assert any(re.search(r"--- trample region \(.*\): valid \[", line) for line in valid)
    trampled = [i for i, line in enumerate(invalid) if "--- trample region" in line]
    assert trampled and all(": trampled [" in invalid[i] for i in trampled)
    assert " or r" in invalid[trampled[0] + 2]      # status |= STATUS_TRAMPLED


def test_func_selects_units_and_output_goes_to_a_file(tmp_path):
    path, out = tmp_path / "program.lox", tmp_path / "listing.txt"
    path.write_text(PROGRAM)
    result = run_offramp(["disasm", "--tier=eager", "-o", str(out), str(path), "fn2.get"])
    assert (result.returncode, result.stdout) == (0, OUTPUT)
    assert list(units(out.read_text())) == [
        line for line in out.read_text().splitlines() if line.startswith("unit @lox.fn2.get ")]


def test_no_unit_compiled_says_so(tmp_path, capsys):
    path = tmp_path / "short.lox"
    path.write_text("print 1;\n")
    assert main(["disasm", str(path), "nothing"]) == 0
    assert capsys.readouterr().out == "1\n;; no compiled unit of a function containing 'nothing'\n"


@pytest.mark.parametrize("argv", [["disasm", "--tier=interp", "x.lox"], ["disasm", "x.ir"],
                                  ["disasm"]])
def test_usage_errors_exit_64(argv, capsys):
    assert main(argv) == 64
    assert capsys.readouterr().err.strip()


def test_an_unwritable_listing_file_exits_74(tmp_path, capsys):
    path = tmp_path / "short.lox"
    path.write_text("print 1;\n")
    assert main(["disasm", "-o", str(tmp_path / "no" / "such" / "dir"), str(path)]) == 74
    assert capsys.readouterr().err.startswith('offramp: could not write file "')
