"""Programs at clox's bytecode-format limits, run by clox and by offramp: do they agree?

Not a pytest module (tests/lox/test_clox_limits.py holds a fixed sample with clox's answers
written in): a campaign to run by hand against the reference clox when the front end changes,

    PYTHONPATH=. python tests/lox/clox_limits_campaign.py [--clox /tmp/clox/clox] [-k "jumps: "]

Each family sweeps a size across a limit -- constants in the script, a function, a method, a
class body; locals; upvalues; if/else/while/for/and/or bodies around 65535 bytes -- so that
every sweep has programs clox accepts and programs it rejects; both implementations run
every program (offramp in its interpreter tier) and their stdout, stderr and exit status are
compared.  Bodies of a given byte size are built from `nil(nil, ..., nil)` calls (one byte
per `nil`, three for the call), so that sizes are exact without constants or deep nesting.
"""
import argparse
import io
import subprocess
import sys
import tempfile
import time

from offramp.config import Config
from offramp.lox.driver import run_lox

MAX_ARGS = 255


def term(size: int) -> str:
    """An expression compiling to exactly `size` bytes (1 to 258), with no constant."""
    if size == 1:
        return "nil"
    if size == 2:
        return "!nil"
    return "nil(" + ", ".join(["nil"] * (size - 3)) + ")"


def expression(size: int) -> str:
    """An expression of exactly `size` bytes: terms joined by `==` (one byte each)."""
    terms = []
    while size > MAX_ARGS + 3:
        part = min(MAX_ARGS + 3, size - 2)
        terms.append(term(part))
        size -= part + 1
    terms.append(term(size))
    return " ==\n".join(terms)


def statements(size: int) -> str:
    """Expression statements of exactly `size` bytes (at least 2): each is its
    expression and a POP."""
    parts = []
    while size > 0:
        part = min(MAX_ARGS + 4, size)
        if size - part == 1:
            part -= 1
        parts.append(expression(part - 1) + ";\n")
        size -= part
    return "".join(parts)


def sweep(low: int, high: int):
    return range(low, high + 1)


def constants():
    """Programs around 256 constants in one chunk."""
    for n in sweep(254, 258):
        yield f"script numbers {n}", "print 1;\n" * n + "print 2;\nprint 3;\n"
        yield f"script strings {n}", 'print "s";\n' * n + 'print "t";\n'
        yield f"function {n}", "fun f() {\n" + "print 1;\n" * n + "}\nf();\n"
        yield f"method {n}", "class A {\n m() {\n" + "print 1;\n" * n + "}\n}\nA().m();\n"
        yield (f"nested function {n}", "fun outer() {\n fun inner() {\n" + "print 1;\n" * n
               + " }\n inner();\n}\nouter();\n")
        yield f"local classes {n}", "fun f() {\n" + "".join(
            f"class C{i} {{}}\n" for i in range(n)) + "}\nf();\n"
        yield f"gets {n}", "fun f(o) {\n" + "o.p;\n" * n + "}\n"
        yield f"invokes {n}", "fun f(o) {\n" + "o.p();\n" * n + "}\n"
        yield f"global gets {n}", "fun f() {\n" + "g;\n" * n + "}\n"
        yield (f"super gets {n}", "class A { m() {} }\nclass B < A {\n m() {\n"
               + "super.m;\n" * n + " }\n}\nB().m();\n")
        yield (f"super invokes {n}", "class A { m() {} }\nclass B < A {\n m() {\n"
               + "super.m();\n" * n + " }\n}\nB().m();\n")
        yield (f"then more errors {n}", "print 1;\n" * n + "print 1 + 2 + 3;\nprint x y;\n"
               + "var 1;\nprint 4;\n")
        yield f"mid-expression {n}", "print " + " + ".join(["1"] * n) + " + 2 + 3;\nprint 1;\n"
    for n in sweep(126, 129):
        yield f"global vars {n}", "".join(f"var v{i} = {i};\n" for i in range(n))
        yield f"property sets {n}", "fun f(o) {\n" + "o.p = nil;\n" * n + "}\n"
        yield f"global sets {n}", "fun f() {\n" + "g = nil;\n" * n + "}\n"
        yield f"class body {n}", "class A {\n" + "".join(
            f" m{i}() {{}}\n" for i in range(n)) + "}\nprint A;\n"
        yield f"global funs {n}", "".join(f"fun f{i}() {{}}\n" for i in range(n)) + "print f0;\n"
        yield (f"class in class body {n}", "class A {\n m() {\n" + "".join(
            f"  class C{i} {{ m() {{}} }}\n" for i in range(n)) + " }\n}\n")
    for n in sweep(252, 256):
        yield (f"closure at brace {n}", "print 1;\n" * n + "fun f() {\n print 2;\n}\n"
               "print f;\n")
        yield (f"method closure at brace {n}", "fun g() {\n" + "print 1;\n" * (n - 1)
               + " class A {\n  m() {\n  }\n }\n}\n")
        yield (f"class names {n}", "print 1;\n" * n + "class A < B {\n}\n")


def locals_():
    """Programs around 256 locals in one function (slot zero included)."""
    for n in sweep(253, 257):
        decls = "".join(f"var a{i};\n" for i in range(n))
        yield f"function locals {n}", "fun f() {\n" + decls + "print 1;\n}\nf();\n"
        yield f"method locals {n}", "class A {\n m() {\n" + decls + " }\n}\nA().m();\n"
        yield f"block locals {n}", "{\n" + decls + "print 1;\n}\n"
        yield (f"use after {n}", "{\n" + decls + f"print a{n - 1};\na{n - 1} = 2;\nvar b;\n"
               "print b;\n}\n")
        yield (f"params and locals {n}", "fun f(" + ", ".join(f"p{i}" for i in range(100))
               + ") {\n" + "".join(f"var a{i};\n" for i in range(n - 100)) + "}\n")
        yield (f"nested blocks {n}", "fun f() {\n" + "".join(f"var a{i};\n" for i in range(200))
               + "{\n" + "".join(f"var b{i};\n" for i in range(n - 200)) + "print 1;\n}\n"
               "var c; var d;\n}\n")
        yield (f"local funs {n}", "fun f() {\n" + "".join(
            f"fun g{i}() {{}}\n" for i in range(n)) + "}\n")
        yield (f"local classes {n}", "fun f() {\n" + "".join(
            f"class C{i} {{}}\n" for i in range(n)) + "}\n")
        yield (f"for variable {n}", "fun f() {\n" + "".join(f"var a{i};\n" for i in range(n - 1))
               + "for (var i = 0; i < 1; i = i + 1) print i;\n}\nf();\n")
        yield (f"super local {n}", "class A {}\nfun f() {\n" + "".join(
            f"var a{i};\n" for i in range(n - 2)) + "class B < A {\n m() { return super.m; }\n}\n}\n"
               "f();\n")
        yield (f"redeclared after {n}", "fun f() {\n" + decls + "{\n var a0; var a0;\n}\n"
               "var b; var b;\n}\n")


def upvalues():
    """Programs around 256 upvalues in one function."""
    for n in sweep(254, 258):
        outer = "".join(f"  var a{i} = {i};\n" for i in range(200))
        middle = "".join(f"   var b{i} = {i};\n" for i in range(n - 200))
        uses = "".join(f"     s = s + a{i};\n" for i in range(200)) + "".join(
            f"     s = s + b{i};\n" for i in range(n - 200))
        yield (f"two levels {n}", "fun outer() {\n" + outer + "  fun middle() {\n" + middle
               + "    fun inner() {\n     var s = 0;\n" + uses + "     return s;\n    }\n"
               "    return inner();\n  }\n  return middle();\n}\nprint outer();\nprint 1;\n")
        uses_twice = "".join(f"     s = s + a{i} + a{i};\n" for i in range(200)) + "".join(
            f"     s = s + b{i};\n" for i in range(n - 200))
        yield (f"used twice {n}", "fun outer() {\n" + outer + "  fun middle() {\n" + middle
               + "    fun inner() {\n     var s = 0;\n" + uses_twice + "     return s;\n    }\n"
               "    return inner();\n  }\n  return middle();\n}\nprint outer();\n")
        yield (f"in a method {n}", "fun outer() {\n" + outer + "  fun middle() {\n" + middle
               + "   class C {\n    m() {\n     var s = 0;\n" + uses + "     return s;\n    }\n"
               "   }\n   return C().m();\n  }\n  return middle();\n}\nprint outer();\n"
               "print x y;\nprint 2;\n")
        yield (f"through a level {n}", "fun outer() {\n" + outer + "  fun middle() {\n" + middle
               + "    fun inner() {\n     fun innermost() {\n      var s = 0;\n" + uses
               + "      return s;\n     }\n     return innermost();\n    }\n"
               "    return inner();\n  }\n  return middle();\n}\nprint outer();\n")


def jumps():
    """Programs whose jumps and loops are around 65535 bytes long: each shape's body size
    sweeps the size from which clox rejects it (its jump's or loop's other bytes aside)."""
    shapes = {   # name -> (program around a body of n bytes, first n rejected)
        "then": (lambda n: "if (false) {\n" + statements(n) + "}\nprint 1;\n", 65532),
        "then else": (lambda n: "if (true) print 1; else {\n" + statements(n) + "}\nprint 2;\n",
                      65535),
        "while": (lambda n: "while (false) {\n" + statements(n) + "}\nprint 1;\n", 65528),
        "for cond": (lambda n: "for (var i = 0; i < 0; i = i + 1) {\n" + statements(n)
                     + "}\nprint 1;\n", 65518),
        "for no clauses": (lambda n: "fun f() {\n for (;;) {\n" + statements(n) + "}\n}\n"
                           "print 1;\n", 65533),
        "for increment only": (lambda n: "fun f() {\n for (;; nil) {\n" + statements(n)
                               + "}\n}\n", 65528),
        "for cond only": (lambda n: "for (; false;) {\n" + statements(n) + "}\nprint 1;\n",
                          65528),
        "for big increment": (lambda n: "for (; false; " + expression(n) + ") {}\nprint 1;\n",
                              65524),
        "and": (lambda n: "print false and " + expression(n) + ";\nprint 1;\n", 65535),
        "or": (lambda n: "print true or " + expression(n) + ";\nprint 1;\n", 65535),
        "in a method": (lambda n: "class A {\n m() {\n  if (false) {\n" + statements(n)
                        + "}\n  return 1;\n }\n}\nprint A().m();\nprint x y;\nprint 3;\n",
                        65532),
        "nested loops": (lambda n: "fun f() {\n while (false) {\n  while (false) {\n"
                         + statements(n) + "  }\n }\n}\nprint 1;\n", 65519),
    }
    for name, (program, rejected_from) in shapes.items():
        for n in sweep(rejected_from - 4, rejected_from + 3):
            yield f"{name} {n}", program(n)
    # 200 locals popped or closed at the end of the block, a closure with 2 or 200 upvalues.
    for n in sweep(65121, 65132):
        pops = "".join(f"var v{i};\n" for i in range(200))
        yield (f"pops and closes {n}", "fun f() {\n if (false) {\n" + pops
               + "fun c() { return v0 + v1; }\n" + statements(n) + "}\n}\n")
        yield (f"closure operands {n}", "fun f() {\n" + "".join(f" var v{i};\n" for i in range(200))
               + " if (false) {\n  fun c() {\n" + "".join(f"   v{i};\n" for i in range(200))
               + "  }\n" + statements(n) + " }\n}\n")


FAMILIES = {"constants": constants, "locals": locals_, "upvalues": upvalues, "jumps": jumps}


def run_clox(clox: str, source: str) -> tuple[str, str, int]:
    with tempfile.NamedTemporaryFile("w", suffix=".lox") as file:
        file.write(source)
        file.flush()
        result = subprocess.run([clox, file.name], capture_output=True, timeout=60)
    return result.stdout.decode(), result.stderr.decode(), result.returncode


def run_offramp(source: str) -> tuple[str, str, int]:
    out, err = io.StringIO(), io.StringIO()
    status = run_lox(source, "limits.lox", Config(tier="interp"), out, err)
    return out.getvalue(), err.getvalue(), status


def main() -> int:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("--clox", default="/tmp/clox/clox")
    arguments.add_argument("-k", default="", help="only programs whose name contains this")
    arguments.add_argument("-v", action="store_true", help="print every program's outcome")
    options = arguments.parse_args()
    programs = mismatches = 0
    for family, generate in FAMILIES.items():
        outcomes = {"error": 0, "ok": 0}
        for name, source in generate():
            name = f"{family}: {name}"
            if options.k not in name:
                continue
            start = time.perf_counter()
            expected, actual = run_clox(options.clox, source), run_offramp(source)
            programs += 1
            outcomes["error" if expected[2] == 65 else "ok"] += 1
            if options.v:
                print(f"{name}: {expected[2]} {expected[1].splitlines()[:1]} "
                      f"({time.perf_counter() - start:.2f} s)")
            if expected != actual:
                mismatches += 1
                print(f"MISMATCH {name}\n  clox:    {expected}\n  offramp: {actual}"[:2000])
        print(f"{family}: {outcomes['ok']} accepted, {outcomes['error']} rejected by clox")
    print(f"{programs} programs, {mismatches} mismatches")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
