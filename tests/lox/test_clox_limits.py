"""clox's bytecode-format limits are compile errors, exactly as clox reports them.

clox compiles each function to a chunk with one-byte constant, local and upvalue indices and
16-bit jump offsets; a program that does not fit is a compile error (exit 65), reported at
the token being parsed when the limit is crossed (offramp/lox/bytecode.py).  Each case is a
program just under or just over one limit with clox's exit status and its error lines, or
its output, written in as the book's C implementation gave them.  The parser alone decides;
programs clox accepts also run in the interpreter tier and print what clox printed, except
those with 64 KiB bodies (expected output None), which are only parsed: compiling them takes
seconds.  tests/lox/clox_limits_campaign.py sweeps every limit against a clox binary.
"""
import io

import pytest

from offramp.config import Config
from offramp.lox.driver import run_lox
from offramp.lox.parser import parse_program


def expression(size: int) -> str:
    """An expression of exactly `size` bytes of clox bytecode and no constant: parenthesized
    chains of `nil or nil ...` (8 bytes an `or nil`, shallow enough for the nesting limit)
    joined by `==` (1 byte), the last one's first `nil` behind `!`s (1 byte each)."""
    groups = []
    while size > 8001 + 1 + 8:
        groups.append("(nil" + " or nil" * 1000 + ")")
        size -= 8001 + 1
    ors, nots = divmod(size - 1, 8)
    groups.append("(" + "!" * nots + "nil" + " or nil" * ors + ")")
    return " ==\n".join(groups)


def statements(size: int) -> str:
    """An expression statement of exactly `size` bytes: its expression and OP_POP."""
    return expression(size - 1) + ";\n"


def closures(count: int, in_method: bool = False) -> str:
    """A function whose inner function (or method) reads `count` variables of the two
    functions around it: as many upvalues (the middle function has 200)."""
    outer = "".join(f"  var a{i} = {i};\n" for i in range(200))
    middle = "".join(f"    var b{i} = {i};\n" for i in range(count - 200))
    uses = "".join(f"      s = s + {name};\n" for name in
                   [f"a{i}" for i in range(200)] + [f"b{i}" for i in range(count - 200)])
    inner = "    fun inner() {\n      var s = 0;\n" + uses + "      return s;\n    }\n"
    call = "    return inner();\n"
    if in_method:
        inner = ("    class C {\n     inner() {\n      var s = 0;\n" + uses
                 + "      return s;\n     }\n    }\n")
        call = "    return C().inner();\n"
    tail = "print x y;\nprint 2;\n" if in_method else ""
    return ("fun outer() {\n" + outer + "  fun middle() {\n" + middle + inner + call
            + "  }\n  return middle();\n}\nprint outer();\n" + tail)


CASES = {   # name -> (source, clox's exit status, clox's error lines or output)
    "256 constants in the script": (
        "print 1;\n" * 256,
        0, "1\n" * 256),
    "257 constants in the script": (
        "print 1;\n" * 257,
        65, ["[line 257] Error at '1': Too many constants in one chunk."]),
    "a string is a new constant each time": (
        "print \"s\";\n" * 257,
        65, ["[line 257] Error at '\"s\"': Too many constants in one chunk."]),
    "256 constants in a function": (
        "fun f() {\n" + "print 1;\n" * 256 + "}\nf();\n",
        0, "1\n" * 256),
    "257 constants in a function": (
        "fun f() {\n" + "print 1;\n" * 257 + "}\nf();\n",
        65, ["[line 258] Error at '1': Too many constants in one chunk."]),
    "257 constants in a method": (
        "class A {\n  m() {\n" + "print 1;\n" * 257 + "  }\n}\nA().m();\n",
        65, ["[line 259] Error at '1': Too many constants in one chunk."]),
    "257 constants in a nested function": (
        "fun outer() {\n  fun inner() {\n" + "print 1;\n" * 257 + "  }\n  inner();\n}\nouter();\n",
        65, ["[line 259] Error at '1': Too many constants in one chunk."]),
    "a function's closure is a constant, at its closing brace": (
        "print 1;\n" * 255 + "fun f() {\n  print 2;\n}\nprint 3;\n",
        65, [
            "[line 258] Error at '}': Too many constants in one chunk.",
            "[line 259] Error at '3': Too many constants in one chunk.",
        ]),
    "a function's closure is the 256th constant": (
        "print 1;\n" * 254 + "fun f() {\n  print 2;\n}\n",
        0, "1\n" * 254),
    "a method's closure at its closing brace": (
        "fun g() {\n" + "print 1;\n" * 254 + "  class A {\n    m() {\n    }\n  }\n}\n",
        65, [
            "[line 258] Error at '}': Too many constants in one chunk.",
            "[line 261] Error at end: Expect '}' after block.",
        ]),
    "127 methods fill a class body": (
        "class A {\n" + "".join(f"  m{i}() {{}}\n" for i in range(127)) + "}\n",
        0, ""),
    "128 methods overflow a class body": (
        "class A {\n" + "".join(f"  m{i}() {{}}\n" for i in range(128)) + "}\n",
        65, ["[line 129] Error at 'm127': Too many constants in one chunk."]),
    "local class names are constants": (
        "fun f() {\n" + "".join(f"  {{ class C{i} {{}} }}\n" for i in range(257)) + "}\n",
        65, [
            "[line 258] Error at 'C256': Too many constants in one chunk.",
            "[line 260] Error at end: Expect '}' after block.",
            "[line 260] Error at end: Expect '}' after block.",
        ]),
    "256 property names": (
        "fun f(o) {\n" + "  o.p;\n  o.p = nil;\n  o.p();\n" * 85 + "  o.q;\n}\n",
        0, ""),
    "257 property names": (
        "fun f(o) {\n" + "  o.p;\n  o.p = nil;\n  o.p();\n" * 85 + "  o.q;\n  o.r;\n}\n",
        65, ["[line 258] Error at 'r': Too many constants in one chunk."]),
    "super method names are constants": (
        "class A { m() {} }\nclass B < A {\n  m() {\n" + "    super.m;\n    super.m();\n" * 128
        + "    super.x;\n  }\n}\n",
        65, ["[line 260] Error at 'x': Too many constants in one chunk."]),
    "global declarations and reads are constants": (
        "var v0 = 0;\n" + "".join(f"var v{i} = v{i - 1};\n" for i in range(1, 128))
        + "var w = 1;\n",
        65, ["[line 129] Error at 'w': Too many constants in one chunk."]),
    "statements after the limit each report it": (
        "print 1;\n" * 256
        + "print 2;\nvar x = 3;\nprint x y;\nprint (4;\nfun f() { print 5; }\nprint 6 + 7;\n",
        65, [
            "[line 257] Error at '2': Too many constants in one chunk.",
            "[line 258] Error at 'x': Too many constants in one chunk.",
            "[line 259] Error at 'x': Too many constants in one chunk.",
            "[line 260] Error at '4': Too many constants in one chunk.",
            "[line 261] Error at 'f': Too many constants in one chunk.",
            "[line 261] Error at '}': Too many constants in one chunk.",
            "[line 262] Error at '6': Too many constants in one chunk.",
        ]),
    "the limit in an expression, then synchronize": (
        "print " + " + ".join(["1"] * 300) + ";\nprint 2;\n",
        65, [
            "[line 1] Error at '1': Too many constants in one chunk.",
            "[line 2] Error at '2': Too many constants in one chunk.",
        ]),
    "255 locals and slot zero": (
        "fun f() {\n" + "".join(f"  var a{i} = {i};\n" for i in range(255))
        + "  print a254;\n}\nf();\n",
        0, '254\n'),
    "256 locals and slot zero": (
        "fun f() {\n" + "".join(f"  var a{i};\n" for i in range(256)) + "}\n",
        65, ["[line 257] Error at 'a255': Too many local variables in function."]),
    "256 locals in a method (slot zero is this)": (
        "class A {\n  m() {\n" + "".join(f"    var a{i};\n" for i in range(256)) + "  }\n}\n",
        65, ["[line 258] Error at 'a255': Too many local variables in function."]),
    "256 locals in the script's blocks": (
        "{\n" + "".join(f"  var a{i};\n" for i in range(200))
        + "  {\n" + "".join(f"    var b{i};\n" for i in range(56)) + "  }\n}\n",
        65, ["[line 258] Error at 'b55': Too many local variables in function."]),
    "the local not added is read as a global": (
        "fun f() {\n" + "".join(f"  var a{i};\n" for i in range(256))
        + "  print a255;\n  var b; var b;\n}\n",
        65, [
            "[line 257] Error at 'a255': Too many local variables in function.",
            "[line 259] Error at 'b': Too many local variables in function.",
            "[line 259] Error at 'b': Too many local variables in function.",
        ]),
    "the class's super slot is one local too many": (
        "class A {}\nfun f() {\n" + "".join(f"  var a{i};\n" for i in range(254))
        + "  class B < A {}\n}\n",
        65, [
            "[line 257] Error at 'A': Too many local variables in function.",
            "[line 259] Error at end: Expect '}' after block.",
        ]),
    "parameters count as locals": (
        "fun f(" + ", ".join(f"p{i}" for i in range(200)) + ") {\n"
        + "".join(f"  var a{i};\n" for i in range(56)) + "}\n",
        65, ["[line 57] Error at 'a55': Too many local variables in function."]),
    "256 upvalues": (
        closures(256),
        0, '21440\n'),
    "257 upvalues": (
        closures(257),
        65, ["[line 518] Error at 'b56': Too many closure variables in function."]),
    "257 upvalues in a method, then more statements": (
        closures(257, in_method=True),
        65, [
            "[line 519] Error at 'b56': Too many closure variables in function.",
            "[line 528] Error at 'y': Expect ';' after value.",
        ]),
    "then branch of 65535 bytes": (
        "if (false) {\n" + statements(65531) + "}\nprint 1;\n",
        0, None),
    "then branch of 65536 bytes": (
        "if (false) {\n" + statements(65532) + "}\nprint 1;\n",
        65, ["[line 11] Error at '}': Too much code to jump over."]),
    "else branch of 65535 bytes": (
        "if (true) print 1; else {\n" + statements(65534) + "}\nprint 2;\n",
        0, None),
    "else branch of 65536 bytes": (
        "if (true) print 1; else {\n" + statements(65535) + "}\nprint 2;\n",
        65, ["[line 11] Error at '}': Too much code to jump over."]),
    "while loop of 65535 bytes": (
        "while (false) {\n" + statements(65527) + "}\nprint 1;\n",
        0, None),
    "while loop of 65536 bytes": (
        "while (false) {\n" + statements(65528) + "}\nprint 1;\n",
        65, ["[line 11] Error at '}': Loop body too large."]),
    "for loop with all clauses, 65535 bytes": (
        "for (var i = 0; i < 0; i = i + 1) {\n" + statements(65517) + "}\nprint 1;\n",
        0, None),
    "for loop with all clauses, 65536 bytes": (
        "for (var i = 0; i < 0; i = i + 1) {\n" + statements(65518) + "}\nprint 1;\n",
        65, ["[line 11] Error at '}': Too much code to jump over."]),
    "for loop: a loop over its increment": (
        "for (; false; " + expression(65524) + ") {}\nprint 1;\n",
        65, ["[line 9] Error at ')': Loop body too large."]),
    "for loop without clauses": (
        "fun f() {\n  for (;;) {\n" + statements(65533) + "  }\n}\n",
        65, [
            "[line 12] Error at '}': Loop body too large.",
            "[line 14] Error at end: Expect '}' after block.",
        ]),
    "and of 65535 bytes": (
        "print false and " + expression(65534) + ";\n",
        0, None),
    "and of 65536 bytes": (
        "print false and " + expression(65535) + ";\n",
        65, ["[line 9] Error at ')': Too much code to jump over."]),
    "or of 65536 bytes": (
        "print true or " + expression(65535) + ";\n",
        65, ["[line 9] Error at ')': Too much code to jump over."]),
    "a jump too long in a method, then more statements": (
        "class A {\n  m() {\n    if (false) {\n" + statements(65532)
        + "    }\n    return 1;\n  }\n}\nprint x y;\nprint 3;\n",
        65, [
            "[line 13] Error at '}': Too much code to jump over.",
            "[line 17] Error at 'y': Expect ';' after value.",
        ]),
    "pops and closes at the end of a block count": (
        "fun f() {\n  if (false) {\n" + "".join(f"    var v{i};\n" for i in range(200))
        + "    fun c() { return v0 + v1; }\n" + statements(65125) + "  }\n}\n",
        65, [
            "[line 213] Error at '}': Too much code to jump over.",
            "[line 215] Error at end: Expect '}' after block.",
        ]),
    "closure operands count": (
        "fun f() {\n" + "".join(f"  var v{i};\n" for i in range(200))
        + "  if (false) {\n    fun c() {\n" + "".join(f"      v{i};\n" for i in range(200))
        + "    }\n" + statements(65129) + "  }\n}\n",
        65, [
            "[line 414] Error at '}': Too much code to jump over.",
            "[line 416] Error at end: Expect '}' after block.",
        ]),
    "a function's own code is not jumped over": (
        "if (false) {\n  fun g() {\n" + statements(70000) + "  }\n}\nprint 1;\n",
        0, None),

}


@pytest.mark.parametrize("name", list(CASES))
def test_limits_as_clox_reports_them(name):
    source, status, expected = CASES[name]
    script, errors = parse_program(source)
    if status == 65:
        assert errors == expected
        return
    assert errors == []
    if expected is not None:
        out, err = io.StringIO(), io.StringIO()
        assert run_lox(source, "limits.lox", Config(tier="interp"), out, err) == status
        assert (out.getvalue(), err.getvalue()) == (expected, "")


def test_each_statement_past_the_limit_reports_it_in_linear_time():
    """Thousands of `print 1;` lines: clox reports the constant of every line from the
    257th (as it does for a 10 MB file of them); the parser stays linear."""
    errors = parse_program("print 1;\n" * 5_000)[1]
    assert errors == [f"[line {n}] Error at '1': Too many constants in one chunk."
                      for n in range(257, 5_001)]


def test_the_error_is_the_exit_status_of_the_command():
    out, err = io.StringIO(), io.StringIO()
    assert run_lox("print 1;\n" * 257, "limits.lox", Config(tier="interp"), out, err) == 65
    assert (out.getvalue(), err.getvalue()) == (
        "", "[line 257] Error at '1': Too many constants in one chunk.\n")
