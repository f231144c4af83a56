"""Hostile IR through `offramp run FILE.ir`, in every tier: forged references, pointers and
function references, accesses outside a global's cell, endless deopts, deep frame states,
integer division's edge cases and trap results end in a result or a clean message with the
right exit status — never a signal, a traceback or a hang."""
import pytest

MODES = {
    "interp": ["--tier=interp"],
    "jit": ["--tier=jit"],
    "eager": ["--tier=eager"],
    "deopt-stress": ["--tier=eager", "--deopt-stress=1"],
}

HEADER = """\
.typedef @i1 = int<1>
.typedef @i8 = int<8>
.typedef @i16 = int<16>
.typedef @i32 = int<32>
.typedef @i64 = int<64>
.typedef @void = void
.typedef @r = ref
.typedef @p = ptr
.typedef @tr = tagref64
.funcsig @main_sig = () -> (@i64)
.typedef @fn = funcref<@main_sig>
.funcsig @print_sig = (@i64) -> ()
.extern @print.i64 <@print_sig>
.global @g <@i64>
.global @h <@i64>
.global @gp <@p>
.global @gf <@fn>
"""


def main(body: str, unsafe: bool = False) -> str:
    """HEADER and a @main whose entry block holds `body`."""
    marker = " UNSAFE" if unsafe else ""
    lines = "".join(f"    {line}\n" for line in body.strip().splitlines())
    return HEADER + f".funcdef @main VERSION %v1 <@main_sig>{marker} {{\n  %entry():\n{lines}}}\n"


FORGED_REF_LOAD = "%w = TR64_FROM_INT 4096\n%r = TR64_TO_REF %w\n%v = LOAD <@i64> %r 0\nRET (%v)"
NULL_PTR_LOAD = "%q = LOAD <@p> @gp 0\n%v = LOAD <@i64> %q 0\nRET (%v)"
LINE = HEADER.count("\n") + 1    # the line of @main's .funcdef

# name -> (source, extra options, exit status, fragments of stderr, stdout)
REJECTED = {
    "forged ref load": (main(FORGED_REF_LOAD), [], 65,
                        [f":{LINE + 3}:5: @main VERSION %v1", "(TR64_TO_REF)",
                         "only a version marked UNSAFE"], ""),
    "forged ref load marked UNSAFE, no --unsafe": (
        main(FORGED_REF_LOAD, unsafe=True), [], 65,
        [f":{LINE}:10: @main VERSION %v1 is marked UNSAFE", "--unsafe"], ""),
    "forged funcref": (main("%f = LOAD <@fn> @gf 0\n%v = CALL <@main_sig> %f ()\nRET (%v)"),
                       [], 65, ["LOAD of a funcref", "only a version marked UNSAFE"], ""),
    "forged ref literal": (main("%r = TR64_TO_INT -1\nRET (%r)"), [], 65,
                           ["literal 0xffffffffffffffff forges a heap reference"], ""),
    "store past a global": (main("STORE <@i64> @g 8 42\n%v = LOAD <@i64> @h 0\nRET (%v)"),
                            [], 65, ["offset 8 is outside global @g"], ""),
    "load far past a global": (main("%v = LOAD <@i64> @g 100000000\nRET (%v)"), [], 65,
                               ["offset 100000000 is outside global @g"], ""),
    "walking pointer": (main("%q = LOAD <@p> @gp 0\n%v = LOAD <@i64> %q 8\nRET (%v)"), [], 65,
                        ["LOAD through %q"], ""),
    "null ptr load": (main(NULL_PTR_LOAD), [], 65, ["LOAD through %q"], ""),
    "deopt into itself": (main('DEOPT "again" [@main %v1 %entry 0 ()]'), [], 65,
                          ["it would deoptimize forever"], ""),
    "declared, never defined": (main("%v = CALL <@main_sig> @nobody ()\nRET (%v)").replace(
        ".funcdef", ".funcdecl @nobody <@main_sig>\n.funcdef"), [], 65,
        ["@nobody is declared (.funcdecl) but has no .funcdef"], ""),
}


def run_ir(run_offramp, tmp_path, source, options, mode):
    path = tmp_path / "hostile.ir"
    path.write_text(source)
    result = run_offramp(["run", str(path), *MODES[mode], *options], timeout=120)
    assert "Traceback" not in result.stderr, result.stderr
    return result


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", REJECTED, ids=str)
def test_unsafe_or_out_of_bounds_ir_is_refused_before_it_runs(run_offramp, tmp_path, case,
                                                               mode):
    source, options, status, fragments, stdout = REJECTED[case]
    result = run_ir(run_offramp, tmp_path, source, options, mode)
    assert (result.returncode, result.stdout) == (status, stdout), result.stderr
    assert result.stderr.count("\n") == 1
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


@pytest.mark.parametrize("body", [FORGED_REF_LOAD, NULL_PTR_LOAD], ids=["forged", "null"])
def test_unsafe_code_runs_when_asked_and_the_interpreter_stops_a_wild_access(
        run_offramp, tmp_path, body):
    result = run_ir(run_offramp, tmp_path, main(body, unsafe=True), ["--unsafe"], "interp")
    assert result.returncode == 70
    assert f":{LINE + 4 - (body == NULL_PTR_LOAD)}:5: @main VERSION %v1, block %entry" \
        in result.stderr
    assert "Bad memory access: LOAD of 8 byte(s) at address" in result.stderr


def division_program() -> tuple:
    """Every division and remainder of every width by zero and MIN by -1, printed; and what
    ir/ops.py says they give."""
    lines, expected = [], []
    for bits in (8, 16, 32, 64):
        low = -(1 << (bits - 1))
        for op, by_zero, overflow in (("SDIV", 0, low), ("SREM", 7, 0),
                                      ("UDIV", 0, 0), ("UREM", 7, low)):
            for k, (a, b, want) in enumerate(((7, 0, by_zero), (low, -1, overflow))):
                name = f"%{op.lower()}{bits}_{k}"
                lines.append(f"{name} = {op} <@i{bits}> {a} {b}")
                if bits < 64:
                    ext = "ZEXT" if op.startswith("U") else "SEXT"
                    lines.append(f"{name}w = {ext} <@i{bits} @i64> {name}")
                    name += "w"
                lines.append(f"CCALL @print.i64 ({name})")
                if op == "UREM" and k == 1:
                    want = low & ((1 << bits) - 1) if bits < 64 else low
                expected.append(str(want))
    lines.append("RET (0)")
    return main("\n".join(lines)), "\n".join(expected) + "\n0\n"


@pytest.mark.parametrize("mode", MODES)
def test_division_by_zero_and_overflow_give_the_documented_results(run_offramp, tmp_path,
                                                                   mode):
    source, expected = division_program()
    result = run_ir(run_offramp, tmp_path, source, [], mode)
    assert (result.returncode, result.stdout, result.stderr) == (0, expected, "")


def deep_states(depth: int) -> str:
    """@main deoptimizes into `depth` frames of @f, each waiting for its call's result."""
    parents = " PARENT ".join(["[@f %v1 %entry 0 ()"] * depth)
    state = (f"[@f %v1 %entry 1 (%x=1) PARENT {parents} PARENT [@main %v1 %b 0 ()"
             + "]" * (depth + 2))
    return HEADER + f"""
.funcdef @f VERSION %v1 <@main_sig> {{
  %entry():
    %x = CALL <@main_sig> @f ()
    RET (%x)
}}
.funcdef @main VERSION %v1 <@main_sig> {{
  %entry():
    DEOPT "deep" {state}
  %b():
    %c = CALL <@main_sig> @f ()
    RET (%c)
}}
"""


@pytest.mark.parametrize("mode", MODES)
def test_a_thousand_nested_parent_states_rebuild_every_frame(run_offramp, tmp_path, mode):
    result = run_ir(run_offramp, tmp_path, deep_states(1000), [], mode)
    assert (result.returncode, result.stdout, result.stderr) == (0, "1\n", "")


@pytest.mark.parametrize("mode", MODES)
def test_more_parent_states_than_frames_is_a_stack_overflow(run_offramp, tmp_path, mode):
    result = run_ir(run_offramp, tmp_path, deep_states(1200), ["--max-frames=1000"], mode)
    assert (result.returncode, result.stdout) == (70, "")
    assert result.stderr.endswith("(CALL): Stack overflow.\n"), result.stderr


@pytest.mark.parametrize("mode", MODES)
def test_a_funcref_trap_result_is_checked(run_offramp, tmp_path, mode):
    source = main("%f = [%pick] TRAP <@fn>\n%v = CALL <@main_sig> %f ()\nRET (%v)")
    result = run_ir(run_offramp, tmp_path, source, [], mode)
    assert result.returncode == 70
    assert result.stdout == "trap %pick at @main %v1 %entry[0]: keepalive ()\n"
    assert "trap handler passed 0" in result.stderr
    assert "not a function of the funcref's signature" in result.stderr


@pytest.mark.parametrize("mode", MODES)
def test_a_funcref_result_prints_as_its_function_in_every_tier(run_offramp, tmp_path, mode):
    source = HEADER.replace(".funcsig @print_sig", ".funcsig @pick_sig = () -> (@fn)\n"
                                                   ".funcsig @print_sig") + """
.funcdef @seven VERSION %v1 <@main_sig> {
  %entry():
    RET (7)
}
.funcdef @main VERSION %v1 <@pick_sig> {
  %entry():
    %v = CALL <@main_sig> @seven ()
    %c = EQ <@i64> %v 7
    %f = SELECT <@fn> %c @seven @seven
    RET (%f)
}
"""
    result = run_ir(run_offramp, tmp_path, source, [], mode)
    assert (result.returncode, result.stdout, result.stderr) == (0, "@seven\n", "")
