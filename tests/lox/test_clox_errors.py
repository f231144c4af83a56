"""clox's behaviour on errors and numbers, in every tier: messages, stack traces, exit status.

Each case is a program with clox's stdout, stderr and exit status, written here as clox
(the book's C implementation) gave them.  Most are hot: the failing site runs 200 times
with good values first, so the jit tier has compiled it (with speculated fast paths,
inlined callees and runtime helpers called from native code) before the error comes; the
error then has to come out of native code with clox's message and trace.
"""
import io

import pytest

from offramp.config import Config
from offramp.lox.driver import run_lox

TIERS = {
    "interp": dict(tier="interp"),
    "jit": dict(tier="jit"),
    "eager": dict(tier="eager"),
    "deopt-stress": dict(tier="eager", deopt_stress=1),
}

CLASS_A = ("class A { init() { this.x = 1; this.f = nil; } m() { return 1; } "
           "m2(a, b) { return a; } }\n")
CLASS_B = "class B < A { sn() { return super.nope(); } sg() { return super.nope; } }\n"

CASES = {
    'method call on a number': (
        CLASS_A + 'fun f(o) {\n'
        '  return o.m();\n'
        '}\n'
        'for (var i = 0; i < 200; i = i + 1) f(A());\n'
        'print "before";\n'
        'print f(4);\n',
        'before\n',
        'Only instances have methods.\n[line 3] in f()\n[line 7] in script\n', 70),
    'method call on a class': (
        CLASS_A + 'fun f(o) {\n'
        '  return o.m();\n'
        '}\n'
        'for (var i = 0; i < 200; i = i + 1) f(A());\n'
        'print "before";\n'
        'print f(A);\n',
        'before\n',
        'Only instances have methods.\n[line 3] in f()\n[line 7] in script\n', 70),
    'method call on nil, cold': (
        CLASS_A + 'fun f(o) {\n'
        '  return o.m();\n'
        '}\n'
        'print "before";\n'
        'print f(nil);\n',
        'before\n',
        'Only instances have methods.\n[line 3] in f()\n[line 6] in script\n', 70),
    'property get on a number': (
        CLASS_A + 'fun f(o) {\n'
        '  return o.x;\n'
        '}\n'
        'for (var i = 0; i < 200; i = i + 1) f(A());\n'
        'print "before";\n'
        'print f(4);\n',
        'before\n',
        'Only instances have properties.\n[line 3] in f()\n[line 7] in script\n', 70),
    'property get on a string, cold': (
        CLASS_A + 'fun f(o) {\n'
        '  return o.x;\n'
        '}\n'
        'print "before";\n'
        'print f("s");\n',
        'before\n',
        'Only instances have properties.\n[line 3] in f()\n[line 6] in script\n', 70),
    'grouped get then call on a number': (
        CLASS_A + 'fun f(o) {\n'
        '  return (o.m)();\n'
        '}\n'
        'for (var i = 0; i < 200; i = i + 1) f(A());\n'
        'print "before";\n'
        'print f(4);\n',
        'before\n',
        'Only instances have properties.\n[line 3] in f()\n[line 7] in script\n', 70),
    'property set on a number': (
        CLASS_A + 'fun f(o) {\n'
        '  o.x = 2; return 1;\n'
        '}\n'
        'for (var i = 0; i < 200; i = i + 1) f(A());\n'
        'print "before";\n'
        'print f(true);\n',
        'before\n',
        'Only instances have fields.\n[line 3] in f()\n[line 7] in script\n', 70),
    'undefined property get': (
        CLASS_A + 'fun f(o) {\n'
        '  return o.y;\n'
        '}\n'
        'for (var i = 0; i < 200; i = i + 1) f(A());\n'
        'print "before";\n'
        'print f(A());\n',
        '',
        "Undefined property 'y'.\n[line 3] in f()\n[line 5] in script\n", 70),
    'undefined method call': (
        CLASS_A + 'fun f(o) {\n'
        '  return o.nope();\n'
        '}\n'
        'for (var i = 0; i < 200; i = i + 1) f(A());\n'
        'print "before";\n'
        'print f(A());\n',
        '',
        "Undefined property 'nope'.\n[line 3] in f()\n[line 5] in script\n", 70),
    'calling a field that holds nil': (
        CLASS_A + 'fun f(o) {\n'
        '  return o.f();\n'
        '}\n'
        'for (var i = 0; i < 200; i = i + 1) f(A());\n'
        'print "before";\n'
        'print f(A());\n',
        '',
        'Can only call functions and classes.\n[line 3] in f()\n[line 5] in script\n', 70),
    'super call of an undefined method': (
        CLASS_A + CLASS_B + 'fun f(o) {\n'
        '  return o.sn();\n'
        '}\n'
        'for (var i = 0; i < 200; i = i + 1) f(A());\n'
        'print "before";\n'
        'print f(B());\n',
        '',
        "Undefined property 'sn'.\n[line 4] in f()\n[line 6] in script\n", 70),
    'super get of an undefined method': (
        CLASS_A + CLASS_B + 'fun f(o) {\n'
        '  return o.sg();\n'
        '}\n'
        'for (var i = 0; i < 200; i = i + 1) f(A());\n'
        'print "before";\n'
        'print f(B());\n',
        '',
        "Undefined property 'sg'.\n[line 4] in f()\n[line 6] in script\n", 70),
    'calling nil': (
        CLASS_A + 'fun f(o) {\n'
        '  return o();\n'
        '}\n'
        'for (var i = 0; i < 200; i = i + 1) f(f);\n'
        'print "before";\n'
        'print f(nil);\n',
        '',
        'Expected 1 arguments but got 0.\n[line 3] in f()\n[line 5] in script\n', 70),
    'calling an instance': (
        CLASS_A + 'fun f(o) {\n'
        '  return o();\n'
        '}\n'
        'for (var i = 0; i < 200; i = i + 1) f(A);\n'
        'print "before";\n'
        'print f(A());\n',
        'before\n',
        'Can only call functions and classes.\n[line 3] in f()\n[line 7] in script\n', 70),
    'arity of a function': (
        CLASS_A + 'fun f(o) {\n'
        '  return o(1);\n'
        '}\n'
        'for (var i = 0; i < 200; i = i + 1) f(A);\n'
        'print "before";\n'
        'print f(f);\n',
        '',
        'Expected 0 arguments but got 1.\n[line 3] in f()\n[line 5] in script\n', 70),
    'arity of a method': (
        CLASS_A + 'fun f(o) {\n'
        '  return o.m2(1);\n'
        '}\n'
        'for (var i = 0; i < 200; i = i + 1) f(A());\n'
        'print "before";\n'
        'print f(A());\n',
        '',
        'Expected 2 arguments but got 1.\n[line 3] in f()\n[line 5] in script\n', 70),
    'arity of a bound method': (
        CLASS_A + 'fun f(o) {\n'
        '  var b = o.m2; return b(1);\n'
        '}\n'
        'for (var i = 0; i < 200; i = i + 1) f(A());\n'
        'print "before";\n'
        'print f(A());\n',
        '',
        'Expected 2 arguments but got 1.\n[line 3] in f()\n[line 5] in script\n', 70),
    'arity of a class without init': (
        'class A {}\n'
        'fun f(o) {\n'
        '  return o(1, 2);\n'
        '}\n'
        'for (var i = 0; i < 200; i = i + 1) f(f);\n'
        'print "before";\n'
        'print f(A);\n',
        '',
        'Expected 1 arguments but got 2.\n[line 3] in f()\n[line 5] in script\n', 70),
    'subtraction of a string': (
        CLASS_A + 'fun f(o) {\n'
        '  return o - 1;\n'
        '}\n'
        'for (var i = 0; i < 200; i = i + 1) f(1);\n'
        'print "before";\n'
        'print f("s");\n',
        'before\n',
        'Operands must be numbers.\n[line 3] in f()\n[line 7] in script\n', 70),
    'multiplication of nil': (
        CLASS_A + 'fun f(o) {\n'
        '  return 2 * o;\n'
        '}\n'
        'for (var i = 0; i < 200; i = i + 1) f(1);\n'
        'print "before";\n'
        'print f(nil);\n',
        'before\n',
        'Operands must be numbers.\n[line 3] in f()\n[line 7] in script\n', 70),
    'division of a string, cold': (
        CLASS_A + 'fun f(o) {\n'
        '  return o / 2;\n'
        '}\n'
        'print "before";\n'
        'print f("s");\n',
        'before\n',
        'Operands must be numbers.\n[line 3] in f()\n[line 6] in script\n', 70),
    'addition of a number and a string': (
        CLASS_A + 'fun f(o) {\n'
        '  return o + 1;\n'
        '}\n'
        'for (var i = 0; i < 200; i = i + 1) f(1);\n'
        'print "before";\n'
        'print f("s");\n',
        'before\n',
        'Operands must be two numbers or two strings.\n[line 3] in f()\n[line 7] in script\n', 70),
    'addition of a string and a number': (
        CLASS_A + 'fun f(o) {\n'
        '  return o + "a";\n'
        '}\n'
        'for (var i = 0; i < 200; i = i + 1) f("b");\n'
        'print "before";\n'
        'print f(1);\n',
        'before\n',
        'Operands must be two numbers or two strings.\n[line 3] in f()\n[line 7] in script\n', 70),
    'negation of a string': (
        CLASS_A + 'fun f(o) {\n'
        '  return -o;\n'
        '}\n'
        'for (var i = 0; i < 200; i = i + 1) f(1);\n'
        'print "before";\n'
        'print f("s");\n',
        'before\n',
        'Operand must be a number.\n[line 3] in f()\n[line 7] in script\n', 70),
    'less of a string': (
        CLASS_A + 'fun f(o) {\n'
        '  return o < 1;\n'
        '}\n'
        'for (var i = 0; i < 200; i = i + 1) f(1);\n'
        'print "before";\n'
        'print f("s");\n',
        'before\n',
        'Operands must be numbers.\n[line 3] in f()\n[line 7] in script\n', 70),
    'less-equal of a string': (
        CLASS_A + 'fun f(o) {\n'
        '  return o <= 1;\n'
        '}\n'
        'for (var i = 0; i < 200; i = i + 1) f(1);\n'
        'print "before";\n'
        'print f("s");\n',
        'before\n',
        'Operands must be numbers.\n[line 3] in f()\n[line 7] in script\n', 70),
    'greater of nil': (
        CLASS_A + 'fun f(o) {\n'
        '  return o > 1;\n'
        '}\n'
        'for (var i = 0; i < 200; i = i + 1) f(1);\n'
        'print "before";\n'
        'print f(nil);\n',
        'before\n',
        'Operands must be numbers.\n[line 3] in f()\n[line 7] in script\n', 70),
    'greater-equal of a string': (
        CLASS_A + 'fun f(o) {\n'
        '  return 1 >= o;\n'
        '}\n'
        'for (var i = 0; i < 200; i = i + 1) f(1);\n'
        'print "before";\n'
        'print f("s");\n',
        'before\n',
        'Operands must be numbers.\n[line 3] in f()\n[line 7] in script\n', 70),
    'inheriting from a number': (
        CLASS_A + 'fun f(o) {\n'
        '  class C < o {} return C;\n'
        '}\n'
        'for (var i = 0; i < 200; i = i + 1) f(A);\n'
        'print "before";\n'
        'print f(1);\n',
        'before\n',
        'Superclass must be a class.\n[line 3] in f()\n[line 7] in script\n', 70),
    'undefined global read': (
        CLASS_A + 'fun f(o) {\n'
        '  if (o) return nope; return 1;\n'
        '}\n'
        'for (var i = 0; i < 200; i = i + 1) f(false);\n'
        'print "before";\n'
        'print f(true);\n',
        'before\n',
        "Undefined variable 'nope'.\n[line 3] in f()\n[line 7] in script\n", 70),
    'undefined global assignment': (
        CLASS_A + 'fun f(o) {\n'
        '  if (o) nope = 1; return 1;\n'
        '}\n'
        'for (var i = 0; i < 200; i = i + 1) f(false);\n'
        'print "before";\n'
        'print f(true);\n',
        'before\n',
        "Undefined variable 'nope'.\n[line 3] in f()\n[line 7] in script\n", 70),
    'error in an inlined callee': (
        'fun add1(x) { return x + 1; }\n'
        'fun f(o) {\n'
        '  return add1(o);\n'
        '}\n'
        'for (var i = 0; i < 200; i = i + 1) f(1);\n'
        'print "before";\n'
        'print f("s");\n',
        'before\n',
        'Operands must be two numbers or two strings.\n[line 1] in add1()\n[line 3] in f()\n[line 7] in script\n', 70),
    'error three calls deep, with the trace of each': (
        'fun a(x) { return b(x); }\n'
        'fun b(x) { return c(x); }\n'
        'fun c(x) { return -x; }\n'
        'var s = 0;\n'
        'for (var i = 0; i < 300; i = i + 1) s = s + a(i);\n'
        'print s;\n'
        'print a(nil);\n',
        '-44850\n',
        'Operand must be a number.\n[line 3] in c()\n[line 2] in b()\n[line 1] in a()\n[line 7] in script\n', 70),
    'error in an initializer and a method': (
        'class P {\n'
        '  init(n) { this.n = n; }\n'
        '  get() { return this.n; }\n'
        '  add(o) { return this.n + o.get(); }\n'
        '}\n'
        'class Q < P {\n'
        '  init(n) { super.init(n); }\n'
        '  add(o) { return super.add(o) * 2; }\n'
        '}\n'
        'var s = 0;\n'
        'for (var i = 0; i < 300; i = i + 1) {\n'
        '  var b = Q(1);\n'
        '  if (i == 299) b.n = "str";\n'
        '  s = s + Q(i).add(b);\n'
        '}\n'
        'print s;\n',
        '',
        'Operands must be two numbers or two strings.\n[line 4] in add()\n[line 8] in add()\n[line 14] in script\n', 70),
    'error on a line of its own in a multi-line expression': (
        'fun outer() {\n'
        '  var k = 1;\n'
        '  fun inner(x) {\n'
        '    return x\n'
        '      +\n'
        '      k;\n'
        '  }\n'
        '  return inner;\n'
        '}\n'
        'var f = outer();\n'
        'var t = 0;\n'
        'for (var i = 0; i < 250; i = i + 1) t = t + f(i);\n'
        'print t;\n'
        'print f(\n'
        '  "a"\n'
        ');\n',
        '31375\n',
        'Operands must be two numbers or two strings.\n[line 6] in inner()\n[line 16] in script\n', 70),
    'error in a hot loop of the script (OSR)': (
        'var s = 0;\n'
        'var x = 1;\n'
        'for (var i = 0; i < 500; i = i + 1) {\n'
        '  s = s + i * x;\n'
        '  if (i == 400) x = "oops";\n'
        '}\n'
        'print s;\n',
        '',
        'Operands must be numbers.\n[line 4] in script\n', 70),
    'a global that stops being a function': (
        'fun g() { return 1; }\n'
        'var n = 0;\n'
        'for (var i = 0; i < 300; i = i + 1) n = n + g();\n'
        'g = 3;\n'
        'print n;\n'
        'print g();\n',
        '300\n',
        'Can only call functions and classes.\n[line 6] in script\n', 70),
    'this outside a class': (
        'fun f() { return this; }\n',
        '',
        "[line 1] Error at 'this': Can't use 'this' outside of a class.\n", 65),
    'a class inheriting from itself': (
        'class A < A {}\n',
        '',
        "[line 1] Error at 'A': A class can't inherit from itself.\n", 65),
    'NaN keeps its sign; <= and >= are true with a NaN, hot and cold': (
        'fun add(a, b) { return a + b; }\n'
        'fun sub(a, b) { return a - b; }\n'
        'fun mul(a, b) { return a * b; }\n'
        'fun div(a, b) { return a / b; }\n'
        'fun le(a, b) { return a <= b; }\n'
        'fun ge(a, b) { return a >= b; }\n'
        'fun lt(a, b) { return a < b; }\n'
        'fun gt(a, b) { return a > b; }\n'
        'fun ile(a, b) { if (a <= b) return "y"; return "n"; }\n'
        'fun ige(a, b) { if (a >= b) return "y"; return "n"; }\n'
        'fun neg(a) { return -a; }\n'
        'var s = 0;\n'
        'for (var i = 0; i < 300; i = i + 1) {\n'
        '  s = s + add(i, 1) + sub(i, 1) + mul(i, 2) + div(i, 2) + neg(i);\n'
        '  if (le(i, 3)) s = s + 1;\n'
        '  if (ge(i, 3)) s = s + 1;\n'
        '  if (lt(i, 3)) s = s + 1;\n'
        '  if (gt(i, 3)) s = s + 1;\n'
        '  if (ile(i, 3) == "y") s = s + 1;\n'
        '  if (ige(i, 3) == "y") s = s + 1;\n'
        '}\n'
        'print s;\n'
        'var n = 0/0;\n'
        'var p = -n;\n'
        'print add(n, p); print add(p, n); print add(n, 1); print add(1, p);\n'
        'print sub(n, p); print sub(p, n);\n'
        'print mul(n, p); print mul(p, n);\n'
        'print div(n, p); print div(p, n); print div(0, 0); print div(1, 0); print div(-1, 0);\n'
        'print neg(n); print neg(p); print neg(0);\n'
        'print le(n, 1); print ge(n, 1); print lt(n, 1); print gt(n, 1);\n'
        'print le(1, n); print ge(1, n);\n'
        'print ile(n, 1); print ige(n, 1); print ile(1, 2); print ige(1, 2);\n'
        'print sub(1/0, 1/0); print mul(1/0, 0); print add(-1/0, 1/0);\n',
        '157876\n-nan\nnan\n-nan\nnan\n-nan\nnan\n-nan\nnan\n-nan\nnan\n-nan\ninf\n-inf\nnan\n-nan\n-0\ntrue\ntrue\nfalse\nfalse\ntrue\ntrue\ny\ny\ny\nn\n-nan\n-nan\n-nan\n',
        '', 0),
    'numbers print as printf %g does': (
        'print 0/0; print -(0/0); print -0; print 1/0; print -1/0;\n'
        'print 1000000000000000000000; print 123456789; print 100000; print 1000000; print 999999.5;\n'
        'print 0.1; print 0.0000001; print 0.00001; print 1/3; print 2/3 * 1000000000; print -1.5;\n'
        'print 1234567.8; print 0.000123456789; print 18446744073709551616;\n',
        '-nan\nnan\n-0\ninf\n-inf\n1e+21\n1.23457e+08\n100000\n1e+06\n1e+06\n0.1\n1e-07\n1e-05\n0.333333\n6.66667e+08\n-1.5\n1.23457e+06\n0.000123457\n1.84467e+19\n',
        '', 0),
    'natives ignore extra arguments': (
        'fun f(g) { return g(1, 2) >= 0; }\n'
        'var n = 0;\n'
        'for (var i = 0; i < 300; i = i + 1) if (f(clock)) n = n + 1;\n'
        'print n;\n'
        'print clock(nil) >= 0;\n',
        '300\ntrue\n',
        '', 0),
    'print shows every kind of value': (
        'fun show(v) { print v; }\n'
        'class C { m() {} }\n'
        'for (var i = 0; i < 200; i = i + 1) if (i < 0) show(i);\n'
        'show(clock); show(show); show(C); show(C()); show(C().m); show(nil); show(true);\n'
        'show(false); show("str"); show(-0); show(1.5); show(0/0);\n'
        'print show; print C; print nil; print 2 <= 0/0;\n',
        '<native fn>\n<fn show>\nC\nC instance\n<fn m>\nnil\ntrue\nfalse\nstr\n-0\n1.5\n-nan\n<fn show>\nC\nnil\ntrue\n',
        '', 0),
}


def run(source: str, **config):
    out, err = io.StringIO(), io.StringIO()
    status = run_lox(source, "test.lox", Config(**config), out, err)
    return out.getvalue(), err.getvalue(), status


@pytest.mark.parametrize("tier", sorted(TIERS))
@pytest.mark.parametrize("name", sorted(CASES))
def test_like_clox(name, tier):
    source, stdout, stderr, status = CASES[name]
    assert run(source, **TIERS[tier]) == (stdout, stderr, status)
