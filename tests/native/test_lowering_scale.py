"""The native pipeline is linear in a unit's size, and a unit above
Config.max_native_instructions stays interpreted with the program's output unchanged."""
import io

from offramp.config import Config
from offramp.ir import analysis
from offramp.lox.driver import run_lox
from offramp.native import lower


def instructions_read_lowering(monkeypatch, statements: int) -> int:
    """How many times liveness looked at an instruction while `statements` prints were
    lowered (eager mode compiles the script at once)."""
    reads = [0]
    original = analysis.uses

    def counting(instr):
        reads[0] += 1
        return original(instr)
    monkeypatch.setattr(analysis, "uses", counting)
    lowered = []
    original_lower = lower.Lowering.run

    def run(self):
        lowered.append(self.version.func)
        return original_lower(self)
    monkeypatch.setattr(lower.Lowering, "run", run)
    out = io.StringIO()
    # `print true`, not `print 1`: clox allows 256 constants (one a literal) in the script.
    assert run_lox("print true;\n" * statements, "t.lox", Config(tier="eager"), out,
                   io.StringIO()) == 0
    assert out.getvalue() == "true\n" * statements
    assert "lox.fn0.script" in lowered
    return reads[0]


def test_liveness_of_a_long_script_is_linear(monkeypatch):
    small = instructions_read_lowering(monkeypatch, 200)
    large = instructions_read_lowering(monkeypatch, 800)
    assert large <= 5 * small     # quadratic: 16x


PROGRAM = """
fun add(a, b) { return a + b; }
var s = 0;
for (var i = 0; i < 100; i = i + 1) { s = add(s, i); }
print s;
"""


def test_a_unit_too_large_stays_interpreted():
    for tier in ("jit", "eager"):
        out, err = io.StringIO(), io.StringIO()
        config = Config(tier=tier, max_native_instructions=8, stats=True,
                        trace=frozenset({"tier"}))
        assert run_lox(PROGRAM, "t.lox", config, out, err) == 0
        assert out.getvalue() == "4950\n"
        lines = err.getvalue().splitlines()
        assert any(line.startswith("[tier] compiling @lox.fn0.script")
                   and "size failed (ValueError: @lox.fn0.script" in line
                   and line.endswith("left in the interpreter") for line in lines)
        failures = [line for line in lines if line.startswith("compile failures by stage: ")]
        assert failures and "'size'" in failures[0]
        left = [line for line in lines if line.startswith("units left interpreted: ")]
        assert left and int(left[0].split(": ")[1]) >= 1
