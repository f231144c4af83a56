"""`offramp debug`: scripted sessions that stop in interpreted, native and inlined frames,
read and change variables, step, and continue in native code."""
import io
import textwrap

import pytest

from offramp.config import Config
from offramp.tools.debug_cli import debug_lox

HOT = textwrap.dedent("""\
    fun work(n) {
      var sum = 0;
      var i = 0;
      while (i < n) {
        sum = sum + i;
        if (i == 5000) {
          sum = sum + 1;
        }
        i = i + 1;
      }
      return sum;
    }
    print work(10000);
    """)

INLINED = textwrap.dedent("""\
    fun add(a, b) {
      var t = a + b;
      var dead = a * 2;
      if (b == 500) {
        t = t + 0;
      }
      return t;
    }
    fun loop(n) {
      var s = 0;
      for (var i = 0; i < n; i = i + 1) {
        s = add(s, i);
      }
      return s;
    }
    print loop(1000);
    """)

STEPS = textwrap.dedent("""\
    fun f(x) {
      var y = x + 1;
      return y * 2;
    }
    var a = f(1);
    print a;
    """)


def session(source, commands, tier, **options):
    """(exit status, program output, debugger output with the trace)."""
    out, err = io.StringIO(), io.StringIO()
    config = Config(tier=tier, **options)
    status = debug_lox(source, "t.lox", config, io.StringIO(textwrap.dedent(commands)),
                       out, err)
    return status, out.getvalue(), err.getvalue()


def stops(err):
    return [line for line in err.splitlines() if line.startswith("stopped at")]


CHANGE_I = """\
    break 7
    continue
    print sum
    print i
    set i = 5100
    delete 1
    continue
    """


@pytest.mark.parametrize("tier", ["interp", "jit", "eager"])
def test_a_stop_in_a_hot_loop_reads_and_changes_it_and_the_loop_runs_native_again(tier):
    status, out, err = session(HOT, CHANGE_I, tier, trace=frozenset({"osr", "deopt"}))
    assert status == 0
    # i jumps from 5000 to 5100 once sum has 0..5000 and the 1: the sum of 5101..9999
    assert out == f"{sum(range(5001)) + 1 + sum(range(5101, 10000)):g}\n"
    assert stops(err) == [f"stopped at t.lox:7 in work "
                          f"({'interp' if tier == 'interp' else 'native'})"]
    assert "sum = 1.25025e+07" in err and "i = 5000" in err and "i = 5100" in err
    if tier != "interp":
        after = err[err.index("i = 5100"):]
        assert "[deopt] lazy" in after            # the frame left with the new i ...
        assert "[osr] re-enter @lox.fn1.work" in after   # ... and the loop is native again


@pytest.mark.parametrize("tier", ["interp", "jit", "eager"])
def test_the_same_session_prints_what_the_interpreter_prints(tier):
    assert session(HOT, CHANGE_I, tier)[:2] == session(HOT, CHANGE_I, "interp")[:2]


BACKTRACE = """\
    break 5
    continue
    backtrace
    print dead
    print t
    frame 1
    print i
    continue
    """


@pytest.mark.parametrize("tier", ["jit", "eager"])
@pytest.mark.parametrize("debuggable", [False, True])
def test_backtrace_in_code_inlined_into_a_compiled_caller(tier, debuggable):
    status, out, err = session(INLINED, BACKTRACE, tier, debuggable=debuggable)
    assert (status, out) == (0, "499500\n")
    assert stops(err) == ["stopped at t.lox:5 in add (inlined)"]
    assert "*#0 add at t.lox:5 (inlined)\n #1 loop at t.lox:12 (native)\n" in err
    assert "t = 125250" in err and "i = 500" in err
    assert ("dead = 249500" if debuggable else "dead = <optimized out>") in err


def test_step_next_and_finish_follow_the_lines():
    commands = """\
        step
        step
        step
        next
        finish
        continue
        """
    for tier in ("interp", "eager"):
        status, out, err = session(STEPS, commands, tier)
        assert (status, out) == (0, "4\n")
        assert stops(err) == ["stopped at t.lox:1 in script (interp)",
                              "stopped at t.lox:5 in script (interp)",
                              "stopped at t.lox:2 in f (interp)",
                              "stopped at t.lox:3 in f (interp)",
                              "stopped at t.lox:6 in script (interp)"]


def test_next_from_a_native_frame_steps_in_the_interpreter_then_continues_natively():
    commands = """\
        break 7
        continue
        next
        next
        continue
        """
    status, out, err = session(HOT, commands, "jit", trace=frozenset({"osr"}))
    assert (status, out) == (0, f"{sum(range(10000)) + 1:g}\n")
    assert stops(err) == ["stopped at t.lox:7 in work (native)",
                          "stopped at t.lox:9 in work (interp)",
                          "stopped at t.lox:4 in work (interp)"]
    assert "[osr] re-enter" in err[err.rindex("stopped at"):]


def test_globals_fields_threads_and_errors():
    source = textwrap.dedent("""\
        class P { init(x) { this.x = x; } }
        var p = P(3);
        var g = "s";
        print g;
        """)
    commands = """\
        break 4
        continue
        print p.x
        print g
        set g = "changed"
        print nope
        print p.y
        set g = 1 +
        break 99
        threads
        bogus
        continue
        """
    status, out, err = session(source, commands, "eager")
    assert (status, out) == (0, "changed\n")
    for line in ('p.x = 3', 'g = "s"', 'g = "changed"', "error: no variable 'nope'",
                 "error: no field 'y'", "error: not a Lox literal: 1 +",
                 "error: no code at line 99", "* 1 main", "error: unknown command 'bogus'"):
        assert line in err


def test_quit_ends_the_program_and_end_of_commands_detaches():
    status, out, _ = session(HOT, "break 7\ncontinue\nquit\n", "jit")
    assert (status, out) == (0, "")
    status, out, _ = session(HOT, "break 7\ncontinue\n", "jit")
    assert (status, out) == (0, f"{sum(range(10000)) + 1:g}\n")


def test_threads_lists_every_thread_and_thread_n_shows_its_frames():
    source = textwrap.dedent("""\
        var started = false;
        var go = false;
        fun worker() {
          started = true;
          var k = 0;
          while (!go) {
            k = k + 1;
          }
          return k > 0;
        }
        var t = spawn(worker);
        while (!started) {}
        var j = 0;
        while (j < 10000) {
          j = j + 1;
          if (j == 5000) {
            print "half";
          }
        }
        go = true;
        print join(t);
        """)
    for tier in ("interp", "jit"):
        status, out, err = session(source, "break 17\ncontinue\nthreads\nthread 2\n"
                                           "thread 1\nprint j\ncontinue\n", tier)
        assert (status, out) == (0, "half\ntrue\n")
        assert "* 1 main (running)" in err and "  2 thread 1 (" in err
        assert "*#0 worker at t.lox:" in err and "*#0 script at t.lox:17" in err
        assert "j = 5000" in err


def test_finish_from_code_inlined_into_a_native_caller_stops_in_the_caller():
    commands = """\
        break 5
        continue
        finish
        backtrace
        print i
        continue
        """
    for tier in ("jit", "eager"):
        status, out, err = session(INLINED, commands, tier, trace=frozenset({"osr"}))
        assert (status, out) == (0, "499500\n")
        assert stops(err) == ["stopped at t.lox:5 in add (inlined)",
                              "stopped at t.lox:11 in loop (interp)"]
        assert "*#0 loop at t.lox:11 (interp)" in err and "i = 500" in err
        assert "[osr] re-enter" in err[err.rindex("stopped at"):]
