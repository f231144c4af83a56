"""Trace events as data: `--trace-format=json` lines for every category of TRACE_EVENTS,
the text format unchanged, and `--stats-format=json`."""
import io
import json
import re

import pytest

from offramp.trace import TRACE_EVENTS, Tracer, print_stats

FIELDS_LOX = """
class P { init(x) { this.x = x; } }
fun get(p) { return p.x; }
var s = 0;
for (var i = 0; i < 5; i = i + 1) s = s + get(P(i));
print s;
"""

THREADS_LOX = """
fun work() { var s = 0; for (var i = 0; i < 50; i = i + 1) s = s + i; return s; }
print join(spawn(work));
"""

DEOPT_LOX = """
fun d(n) { deoptHere(); return n + 1; }
print d(1);
"""

LOOP_LOX = """
var s = 0;
for (var i = 0; i < 200; i = i + 1) s = s + i;
print s;
"""

GC_LOX = """
class N { init(n) { this.n = n; } }
var keep = nil;
for (var i = 0; i < 3; i = i + 1) keep = N(i);
print keep.n;
"""

TRAP_IR = "examples/trap.ir"


def _has(**expected):
    """A check that an event's fields hold `expected` (a type: any value of that type)."""
    def check(fields):
        return all(isinstance(fields.get(k), v) if isinstance(v, type) else fields.get(k) == v
                   for k, v in expected.items())
    return check


# category -> (source (a .lox text, or the path of an IR file), options, a check that at
# least one event of the category passes)
CASES = {
    "ic": (FIELDS_LOX, ["--tier=eager"],
           _has(kind="get_field", field="x", function="lox.fn2.get", old="uninitialized",
                new="mono", shapes=list, site=int, address=int)),
    "safepoint": (THREADS_LOX, ["--tier=eager", "--handshake-stress=20"],
                  _has(kind="stress", target=int, how=str, microseconds=float)),
    "deopt": (DEOPT_LOX, ["--tier=eager"],
              _has(tier="native", kind="lazy", reason="lazy deopt", function="lox.fn1.d",
                   version=str, frames=list)),
    "tier": (FIELDS_LOX, ["--tier=eager"],
             _has(event="compiled", function="lox.fn2.get", version=str, sites=int,
                  side_table_bytes=int, address=int, size=int)),
    "osr": (LOOP_LOX, ["--tier=jit"],
            _has(event="enter", function=str, iteration=int)),
    "gc": (GC_LOX, ["--tier=interp", "--gc-stress"],
           _has(event="collection", reason=str, bytes_before=int, bytes_after=int,
                freed=int, collection=int)),
    "trap": (TRAP_IR, ["--tier=eager"],
             _has(op="TRAP", name="tenfold", function="sum", version="v1", block="report",
                  index=0)),
}


def test_every_category_has_a_case():
    assert set(CASES) == set(TRACE_EVENTS)


def _run(run_offramp, tmp_path, source, options, *extra):
    """Run a Lox program (or an IR file of the checkout) with `options`."""
    if source.endswith(".ir"):
        path = source
    else:
        path = tmp_path / "program.lox"
        path.write_text(source)
    return run_offramp(["run", *options, *extra, str(path)])


@pytest.mark.parametrize("category", sorted(CASES))
def test_json_events_of_each_category(category, run_offramp, tmp_path):
    source, options, check = CASES[category]
    result = _run(run_offramp, tmp_path, source, options, f"--trace={category}",
                  "--trace-format=json")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stderr.splitlines()]
    assert events
    for event in events:
        assert event["category"] == category
        assert isinstance(event["time"], float) and event["time"] >= 0
        assert isinstance(event["thread"], int) and isinstance(event["thread_name"], str)
        assert isinstance(event["message"], str) and isinstance(event["fields"], dict)
    assert any(check(event["fields"]) for event in events), events


def test_json_events_name_the_thread_that_emitted_them(run_offramp, tmp_path):
    result = _run(run_offramp, tmp_path, THREADS_LOX, ["--tier=eager"], "--trace=tier",
                  "--trace-format=json")
    threads = {json.loads(line)["thread_name"] for line in result.stderr.splitlines()}
    assert threads == {"main", "thread 1"}


def test_json_message_is_the_text_line(run_offramp, tmp_path):
    text = _run(run_offramp, tmp_path, FIELDS_LOX, ["--tier=eager"], "--trace=ic")
    data = _run(run_offramp, tmp_path, FIELDS_LOX, ["--tier=eager"], "--trace=ic",
                "--trace-format=json")
    assert text.stderr.splitlines() == [f"[ic] {json.loads(line)['message']}"
                                        for line in data.stderr.splitlines()]
    assert re.fullmatch(r"\[ic\] ic0 get_field 'x' in @lox.fn2.get %s1 line 3: "
                        r"uninitialized -> mono \(shapes \d+\)\n", text.stderr)


def test_text_format_is_the_default():
    stream = io.StringIO()
    Tracer({"gc"}, stream).emit("gc", "collection 1", bytes_before=8)
    Tracer({"gc"}, stream).emit("tier", "not enabled")
    assert stream.getvalue() == "[gc] collection 1\n"


def test_unknown_trace_format_is_refused():
    with pytest.raises(ValueError, match="unknown trace format"):
        Tracer((), io.StringIO(), "xml")


def test_stats_as_one_json_object(run_offramp, tmp_path):
    result = _run(run_offramp, tmp_path, FIELDS_LOX, ["--tier=eager"], "--stats",
                  "--stats-format=json")
    assert result.returncode == 0 and result.stdout == "10\n"
    (line,) = result.stderr.splitlines()
    stats = json.loads(line)
    assert stats["inline caches"]["mono"] >= 1 and stats["compiled versions"] >= 3


def test_ir_stats_as_one_json_object(run_offramp):
    result = run_offramp(["run", "--tier=interp", "--stats", "--stats-format=json", TRAP_IR])
    assert result.returncode == 0
    stats = json.loads(result.stderr.splitlines()[-1])
    assert "heap collections" in stats


def test_stats_text_is_name_value_lines():
    stream = io.StringIO()
    print_stats({"a": 1, "b": {"c": 2}}, stream)
    assert stream.getvalue() == "a: 1\nb: {'c': 2}\n"
