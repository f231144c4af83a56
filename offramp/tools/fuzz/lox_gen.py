"""Random Lox programs that terminate, get hot, and then change what their hot code sees.

`generate(seed)` gives the program text; `generate_tree(seed)` gives the tree it is printed
from (tree.py), which the shrinker reduces.  A program is a prelude (special doubles as
globals) followed by sections, each drawn from SECTIONS: a hot function, closures, a class
chain 3 deep with `super` (bound methods, a closure over `this`, a method shadowed by a
field), shapes, recursion, string building, nested loops with early returns, call targets
and globals that change, arrays, doubles, many values live across calls, a megamorphic
call site.  Each section runs a loop
past the VM's compile thresholds (Config.call_threshold and loop_threshold, 30) and then,
inside the loop or after it, hands the hot code other types, shapes, targets or values
that stay valid for what the code does ("families": numbers only; numbers or strings
under `+`; anything under `==`, `!` and `print`).  About one program in four plans one
runtime error (wrong operand types, calling a non-callable, undefined variable or
property, arity, a method call on a non-instance...) at a random call depth, triggered at
a random iteration of a hot loop; the other programs end normally.

Programs use no clock().  `deoptHere()` and `Array` are offramp extensions that clox does
not have: programs that use neither (`uses_extensions(text)` is false) can be compared
with clox too.  Everything is drawn from `random.Random(seed)`: a seed always gives the
same program.  Sizes stay under clox's limits (256 constants per function, 64 frames).
"""
import random
import re

from .tree import block, count, expr, fixed, render, seq, stmt

HOT_MIN, HOT_MAX = 50, 300          # iterations of a hot loop (the thresholds are 30)
CHANGE_MIN = 35                     # the earliest iteration at which a hot loop changes

PRELUDE = (
    "var E50 = 100000000000000000000000000000000000000000000000000;",
    "var HUGE = E50 * E50 * E50 * E50 * E50 * E50;",
    "var TINY = 1 / HUGE;",
    "var BIG53 = 9007199254740992;",
)
NUM_LITERALS = ("0", "1", "2", "3", "7", "10", "100", "0.5", "2.25", "1.5", "0.1", "-3")
SPECIAL_NUMBERS = ("(0/0)", "(-0)", "HUGE", "(HUGE * 10)", "(-HUGE * 10)", "TINY",
                   "(TINY / 10000000000)", "BIG53", "(BIG53 + 1)", "(BIG53 - 1)",
                   "9007199254740993", "(0.1 + 0.2)", "(-(0/0))")
WORDS = ("a", "bc", "xyz", "", "hi", " ", "q7")
EXTENSION_MARKS = ("deoptHere(", "Array(")
SCRIPT_CONSTANTS = 200              # clox allows 256 constants per function, the script too
TOKEN = re.compile(r'"[^"]*"|[A-Za-z_][A-Za-z_0-9]*|\d+(?:\.\d+)?')
KEYWORDS = frozenset("and class else false for fun if nil or print return super this true "
                     "var while".split())


def uses_extensions(text: str) -> bool:
    """Whether the program calls offramp's natives that clox lacks."""
    return any(mark in text for mark in EXTENSION_MARKS)


def script_constants(stmts) -> int:
    """An over-estimate of the constants top-level statements add to the script's chunk:
    clox adds one per use of a global name and per literal (without sharing them); a
    function's or class's body has its own chunk."""
    total = 0
    for statement in stmts:
        text = render(statement)
        if text.startswith("fun "):
            total += 2
        elif text.startswith("class "):
            total += 4 + text.count("\n  ") // 2
        else:
            total += sum(1 for token in TOKEN.findall(text) if token not in KEYWORDS)
    return total


def generate(seed: int) -> str:
    """The text of the program for `seed`."""
    return render(generate_tree(seed)) + "\n"


def generate_tree(seed: int):
    """The program for `seed`, as a tree (see tree.py)."""
    return LoxGen(seed).program()


class LoxGen:
    """The state of one program's generation: the random source, names, and the plan."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.counter = 0
        self.extensions = self.rng.random() < 0.65
        self.plan_error = self.rng.random() < 0.25

    # --- helpers -------------------------------------------------------------------------

    def name(self, base: str) -> str:
        """A fresh global-unique name."""
        self.counter += 1
        return f"{base}{self.counter}"

    def chance(self, p: float) -> bool:
        """True with probability p."""
        return self.rng.random() < p

    def hot_count(self) -> int:
        """Iterations for a hot loop."""
        return self.rng.randint(HOT_MIN, HOT_MAX)

    def change_at(self, n: int) -> int:
        """An iteration of a hot loop of `n` at which its values change (past the threshold)."""
        return self.rng.randint(CHANGE_MIN, max(CHANGE_MIN, n - 5))

    def loop(self, var: str, n: int, body) -> object:
        """`for (var V = 0; V < n; V = V + 1) { body }`."""
        return stmt(fixed(f"for (var {var} = 0; {var} < "), count(n),
                    fixed(f"; {var} = {var} + 1) "), block(body))

    def deopt(self, var: str | None = None) -> list:
        """Maybe a `deoptHere();`, often only at one iteration of `var`."""
        if not self.extensions or not self.chance(0.3):
            return []
        if var and self.chance(0.7):
            return [stmt(fixed(f"if ({var} == "), count(self.rng.randint(31, 200)),
                         fixed(") deoptHere();"))]
        return [stmt("deoptHere();")]

    def sometimes_print(self, var: str, value) -> list:
        """`if (var == K) print value;` for one K past the thresholds."""
        return [stmt(fixed(f"if ({var} == "), count(self.rng.randint(31, 120)),
                     fixed(") print "), value, ";")]

    # --- expressions by type ---------------------------------------------------------------

    def num(self, env: dict, depth: int = 2):
        """A number-valued expression over the number variables in `env`."""
        names = [n for n, t in env.items() if t in ("num", "idx")]
        if depth <= 0 or self.chance(0.4):
            roll = self.rng.random()
            if names and roll < 0.5:
                return expr(self.rng.choice(names))
            if roll < 0.6:
                return expr(self.rng.choice(SPECIAL_NUMBERS))
            return expr(self.rng.choice(NUM_LITERALS))
        if self.chance(0.15):
            return expr("(-", self.num(env, depth - 1), ")")
        op = self.rng.choice("+-*/+*")
        return expr("(", self.num(env, depth - 1), f" {op} ", self.num(env, depth - 1), ")")

    def string(self, env: dict, depth: int = 2):
        """A string-valued expression over the string variables in `env`."""
        names = [n for n, t in env.items() if t == "str"]
        if depth <= 0 or self.chance(0.4):
            if names and self.chance(0.5):
                return expr(self.rng.choice(names))
            return expr(f'"{self.rng.choice(WORDS)}"')
        return expr("(", self.string(env, depth - 1), " + ", self.string(env, depth - 1), ")")

    def boolean(self, env: dict, depth: int = 1):
        """A boolean (or truthy/falsy) expression."""
        roll = self.rng.random()
        if depth <= 0 or roll < 0.2:
            return expr(self.rng.choice(("true", "false")))
        if roll < 0.6:
            op = self.rng.choice(("<", "<=", ">", ">="))
            return expr("(", self.num(env, 1), f" {op} ", self.num(env, 1), ")")
        if roll < 0.85:
            op = self.rng.choice(("==", "!="))
            return expr("(", self.anything(env, 1), f" {op} ", self.anything(env, 1), ")")
        return expr("!", self.boolean(env, depth - 1))

    def anything(self, env: dict, depth: int = 1):
        """An expression of any type."""
        names = [n for n, t in env.items() if t in ("any", "num", "str")]
        if names and self.chance(0.4):
            return expr(self.rng.choice(names))
        kind = self.rng.choice(("num", "str", "nil", "bool"))
        if kind == "num":
            return self.num(env, depth)
        if kind == "str":
            return self.string(env, depth)
        if kind == "nil":
            return expr("nil")
        return self.boolean(env, depth)

    def of_family(self, family: str, env: dict, depth: int = 2):
        """An expression valid whatever values of `family` the variables of `env` hold."""
        if family == "num":
            return self.num(env, depth)
        names = [n for n, t in env.items() if t == family]
        if family == "addable":
            if depth <= 0 or self.chance(0.3):
                return expr(self.rng.choice(names))
            return expr("(", self.of_family(family, env, depth - 1), " + ",
                        self.of_family(family, env, depth - 1), ")")
        roll = self.rng.random()
        if roll < 0.4:
            return expr(self.rng.choice(names))
        if roll < 0.7:
            return expr("(", expr(self.rng.choice(names)), " == ",
                        expr(self.rng.choice(names)), ")")
        if roll < 0.85:
            return expr("!", expr(self.rng.choice(names)))
        return expr("(", expr(self.rng.choice(names)), self.rng.choice((" and ", " or ")),
                    expr(self.rng.choice(names)), ")")

    def condition(self, family: str, env: dict):
        """A condition that is valid for the family's values."""
        if family == "num":
            return self.boolean(env, 1)
        names = [n for n, t in env.items() if t in (family, "num", "idx")]
        left, right = self.rng.choice(names), self.rng.choice(names)
        if self.chance(0.5):
            return expr("(", expr(left), " == ", expr(right), ")")
        return expr("!", expr(left))

    # --- statements ----------------------------------------------------------------------

    def body(self, family: str, params, depth: int = 2) -> list:
        """A function body over params of `family`: locals, ifs, nested loops with early
        returns; it ends with a return."""
        env = {p: family for p in params}
        stmts = []
        for _ in range(self.rng.randint(1, 4)):
            stmts.extend(self.body_statement(family, env, depth))
        stmts.extend(self.deopt())
        stmts.append(stmt("return ", self.of_family(family, env), ";"))
        return stmts

    def body_statement(self, family: str, env: dict, depth: int) -> list:
        """One statement of a hot body (it may nest loops and ifs while depth lasts)."""
        roll = self.rng.random()
        if roll < 0.35 or depth <= 0:
            local = self.name("t")
            value = self.of_family(family, env)
            env[local] = family
            return [stmt(f"var {local} = ", value, ";")]
        if roll < 0.55:
            then = self.body_statement(family, dict(env), depth - 1)
            other = self.body_statement(family, dict(env), depth - 1)
            if self.chance(0.5):
                return [stmt("if (", self.condition(family, env), ") ", block(then))]
            return [stmt("if (", self.condition(family, env), ") ", block(then),
                         " else ", block(other))]
        if roll < 0.85:
            return [self.early_exit_loop(family, env, depth)]
        target = self.rng.choice([n for n, t in env.items() if t == family])
        return [stmt(f"{target} = ", self.of_family(family, env), ";")]

    def early_exit_loop(self, family: str, env: dict, depth: int):
        """A for or while loop (maybe two nested) that may `return` from inside."""
        var = self.name("j")
        inner_env = dict(env)
        inner_env[var] = "idx"  # read as a number, never assigned: the loop must end
        exit_test = expr("(", expr(var), " == ", count(self.rng.randint(1, 6)), ")") \
            if self.chance(0.6) else self.condition(family, inner_env)
        inner = [stmt("if (", exit_test, ") return ", self.of_family(family, env), ";")]
        if depth > 1 and self.chance(0.4):
            inner.append(self.early_exit_loop(family, inner_env, depth - 1))
        targets = [n for n, t in env.items() if t == family]
        if targets and self.chance(0.6):
            target = self.rng.choice(targets)
            inner.append(stmt(f"{target} = ", self.of_family(family, env, 1), ";"))
        n = self.rng.randint(2, 8)
        if self.chance(0.5):
            return self.loop(var, n, inner)
        return stmt(fixed(f"var {var} = 0;\nwhile ({var} < "), count(n), fixed(") "),
                    block([stmt(f"{var} = {var} + 1;"), *inner]))

    # --- values of a family ----------------------------------------------------------------

    def first_value(self, family: str, var: str):
        """What a hot loop passes first (numbers, for every family)."""
        return expr(self.rng.choice((var, f"({var} * 0.5)", f"({var} - 100)", f"({var} / 3)")))

    def changed_value(self, family: str, var: str):
        """What the hot loop passes after its change, still valid for the family."""
        if family == "num":
            return expr(self.rng.choice(SPECIAL_NUMBERS + (f"(-{var})", "0.25")))
        if family == "addable":
            return expr(f'"{self.rng.choice(WORDS)}"')
        return expr(self.rng.choice(("nil", "true", "false", '"s"', "clock", "HUGE")))

    # --- the program -----------------------------------------------------------------------

    def program(self):
        """Prelude, 2-5 sections, and (if planned) the runtime error section."""
        sections = [stmt(line) for line in PRELUDE]
        chosen = [self.rng.choice(SECTIONS) for _ in range(self.rng.randint(2, 5))]
        if not self.extensions:
            chosen = [s for s in chosen if not s.needs_extensions] or [HOT_FUNCTION]
        error_section = self.error_section() if self.plan_error else []
        room = SCRIPT_CONSTANTS - script_constants(sections + error_section)
        for section in chosen:
            placed = self.place(section, room)
            room -= script_constants(placed)
            sections.extend(placed)
        if error_section:
            at = len(sections) if self.chance(0.7) else self.rng.randint(len(PRELUDE),
                                                                          len(sections))
            sections[at:at] = error_section
        return seq(sections)

    def place(self, section, room: int) -> list:
        """The section's statements, at top level or wrapped in a function called once (if
        it may be, and always when the script's constants would not fit otherwise)."""
        stmts = section.build(self)
        top_level = script_constants(stmts) <= room and (not section.wrappable
                                                          or self.chance(0.5))
        if top_level:
            return stmts
        if not section.wrappable:
            return []
        wrapper = self.name("section")
        return [stmt(f"fun {wrapper}() ", block(stmts)), stmt(f"{wrapper}();")]

    def error_section(self) -> list:
        """A chain of calls whose innermost does something that fails for the bad value that
        a hot loop passes at one iteration."""
        kinds = [k for k in ERRORS if self.extensions or not k.needs_extensions]
        kind = self.rng.choice(kinds)
        setup, op, good, bad = kind.build(self)
        depth = self.rng.randint(0, 5)
        names = [self.name("err") for _ in range(depth + 1)]
        decls = []
        for index, name in enumerate(names):
            if index == depth:
                body = [*self.deopt(), stmt(op)]
            else:
                body = [stmt(f"return {names[index + 1]}(v);")]
            decls.append(stmt(f"fun {name}(v) ", block(body)))
        n = self.hot_count()
        value = self.name("bad")
        loop = self.loop("i", n, [
            stmt(f"var {value} = ", expr(good), ";"),
            stmt(fixed("if (i == "), count(self.change_at(n)), fixed(f") {value} = "),
                 expr(bad), ";"),
            stmt(f"{names[0]}({value});"),
        ])
        return [*setup, *decls, loop, stmt('print "unreachable";')]


class Section:
    """One kind of section: how to build it and where it may go."""

    def __init__(self, build, wrappable=True, needs_extensions=False):
        self.build = build
        self.wrappable = wrappable
        self.needs_extensions = needs_extensions

    @staticmethod
    def hot_function(g: LoxGen) -> list:
        """A function of 1-3 params called 50-300 times with numbers, then (inside the loop
        at one iteration, and after it) with other values of its family."""
        family = g.rng.choice(("num", "num", "addable", "any"))
        params = ["a", "b", "c"][:g.rng.randint(1, 3)]
        name = g.name("hot")
        decl = stmt(f"fun {name}({', '.join(params)}) ", block(g.body(family, params)))
        last = g.name("last")
        n = g.hot_count()
        args = ", ".join(["x"] * len(params))
        loop_body = [stmt("var x = ", g.first_value(family, "i"), ";"),
                     stmt(fixed("if (i >= "), count(g.change_at(n)), fixed(") x = "),
                          g.changed_value(family, "i"), ";"),
                     *g.deopt("i"),
                     stmt(f"{last} = {name}({args});"),
                     *g.sometimes_print("i", expr(last))]
        after = [stmt(f"print {name}(", ", ".join(render(g.changed_value(family, "1"))
                                                   for _ in params), ");")]
        return [decl, stmt(f"var {last} = nil;"), g.loop("i", n, loop_body),
                stmt(f"print {last};"), *after]

    @staticmethod
    def closures(g: LoxGen) -> list:
        """A counter closure whose upvalue is mutated, a second closure sharing it, and a
        closure over a loop's local, all called hot; then a counter over strings."""
        maker, getter, adder = g.name("make"), g.name("get"), g.name("add")
        decl = stmt(f"fun {maker}(start, step) ", block([
            stmt("var c = start;"),
            stmt("fun add(d) ", block([stmt("c = c + d + step;"), *g.deopt(),
                                       stmt("return c;")])),
            stmt("fun get() ", block([stmt("return c;")])),
            stmt(f"{getter} = get;"),
            stmt("return add;"),
        ]))
        n = g.hot_count()
        captured = g.name("cap")
        loop_body = [stmt(f"{adder}(", g.first_value("addable", "i"), ");"),
                     stmt("var k = i;"),
                     stmt("fun seen() ", block([stmt("return k * 2;")])),
                     stmt(fixed("if (i == "), count(g.change_at(n)),
                          fixed(f") {captured} = seen;")),
                     *g.sometimes_print("i", expr(f"{getter}()"))]
        word = g.rng.choice(WORDS)
        return [stmt(f"var {getter} = nil;"), stmt(f"var {captured} = nil;"), decl,
                stmt(f"var {adder} = {maker}(0, ", g.num({}, 1), ");"),
                g.loop("i", n, loop_body),
                stmt(f"print {getter}();"), stmt(f"if ({captured} != nil) print {captured}();"),
                stmt(f'{adder} = {maker}("{word}", "-");'),
                g.loop("i", g.rng.randint(3, 40), [stmt(f'{adder}("{g.rng.choice(WORDS)}");')]),
                stmt(f"print {getter}();")]

    @staticmethod
    def classes(g: LoxGen) -> list:
        """Classes 3 deep with initializers and `super` calls; a polymorphic hot call site,
        a bound method stored and called later, and a method shadowed by a field."""
        a, b, c = g.name("A"), g.name("B"), g.name("C")
        env = {"y": "num", "this.x": "num"}
        class_a = stmt(f"class {a} ", block([
            stmt("init(x) ", block([stmt("this.x = x;"),
                                    stmt("if (x == nil) return;"), stmt("this.tag = 1;")])),
            stmt("m(y) ", block([*g.deopt(), stmt("return ", g.num(env, 1), ";")])),
            stmt("n() ", block([stmt("return this.x;")])),
            stmt("closure() ", block([stmt("fun inner(d) ", block([
                stmt("this.x = this.x + d;"), stmt("return this.x;")])),
                stmt("return inner;")])),
        ]))
        class_b = stmt(f"class {b} < {a} ", block([
            stmt("init(x) ", block([stmt("super.init(x);"), stmt("this.y = x * 2;")])),
            stmt("m(y) ", block([stmt("return super.m(y) + this.y;")])),
        ]))
        class_c = stmt(f"class {c} < {b} ", block([
            stmt("m(y) ", block([stmt("var up = super.m;"),
                                 stmt("return up(y) * 0.5 + this.n();")])),
            stmt("k() ", block([stmt("return this.n() + this.tag;")])),
        ]))
        first, second, bound, acc = g.name("oa"), g.name("oc"), g.name("bm"), g.name("acc")
        n = g.hot_count()
        switch = g.change_at(n)
        loop_body = [stmt(f"var o = {first};"),
                     stmt(fixed("if (i >= "), count(switch), fixed(f") o = {second};")),
                     *g.deopt("i"),
                     stmt(f"{acc} = {acc} + o.m(i) + {bound}(1);"),
                     *g.sometimes_print("i", expr(acc))]
        alt = g.name("alt")
        return [class_a, class_b, class_c,
                stmt(f"var {first} = {g.rng.choice((a, b, c))}(", g.num({}, 1), ");"),
                stmt(f"var {second} = {c}(", g.num({}, 1), ");"),
                stmt(f"var {bound} = {g.rng.choice((first, second))}.m;"),
                stmt(f"var {acc} = 0;"),
                g.loop("i", n, loop_body),
                stmt(f"print {acc};"), stmt(f"print {second}.k();"),
                stmt(f"var {bound}c = {second}.closure();"),
                g.loop("i", g.rng.randint(31, 90), [stmt(f"{acc} = {acc} + {bound}c(i);")]),
                stmt(f"print {acc};"), stmt(f"print {second}.x;"),
                stmt(f"print {second}.init(3) == {second};"),
                stmt(f"fun {alt}(y) ", block([stmt("return y + 1000;")])),
                stmt(f"{first}.m = {alt};"),
                g.loop("i", g.rng.randint(5, 60), [stmt(f"{acc} = {acc} + {first}.m(i);")]),
                stmt(f"print {acc};"), stmt(f"print {bound};"), stmt(f"print {second};")]

    @staticmethod
    def shapes(g: LoxGen) -> list:
        """Instances whose fields are added in different orders, read by a hot function; a
        field added to a live instance in the middle of the loop."""
        cls, reader = g.name("P"), g.name("sum")
        objs = [g.name("p") for _ in range(3)]
        fields = ["a", "b", "c", "d"]
        stmts = [stmt(f"class {cls} ", block([stmt("get() ", block([stmt("return this.a;")]))]))]
        for obj in objs:
            stmts.append(stmt(f"var {obj} = {cls}();"))
            order = fields[:]
            g.rng.shuffle(order)
            for field in order[:g.rng.randint(2, 4)] + ["a", "b"]:
                stmts.append(stmt(f"{obj}.{field} = ", g.num({}, 1), ";"))
        stmts.append(stmt(f"fun {reader}(o) ", block([
            *g.deopt(), stmt("return o.a + o.b * 2 + o.get();")])))
        n = g.hot_count()
        acc = g.name("acc")
        loop_body = [stmt(f"var o = {objs[0]};"),
                     stmt(fixed("if (i > "), count(g.change_at(n)), fixed(f") o = {objs[1]};")),
                     stmt(fixed("if (i > "), count(g.change_at(n)), fixed(f") o = {objs[2]};")),
                     stmt(fixed("if (i == "), count(g.change_at(n)),
                          fixed(f") {objs[0]}.z{g.counter} = i;")),
                     stmt(f"{acc} = {acc} + {reader}(o);")]
        stmts += [stmt(f"var {acc} = 0;"), g.loop("i", n, loop_body), stmt(f"print {acc};")]
        return stmts

    @staticmethod
    def recursion(g: LoxGen) -> list:
        """Bounded recursion: fib, a recursive `+` over numbers then strings, and (at top
        level) mutual recursion."""
        fib, rep, acc = g.name("fib"), g.name("rep"), g.name("acc")
        stmts = [
            stmt(f"fun {fib}(n) ", block([stmt("if (n < 2) return n;"), *g.deopt(),
                                          stmt(f"return {fib}(n - 2) + {fib}(n - 1);")])),
            stmt(fixed(f"print {fib}("), count(g.rng.randint(8, 16)), ");"),
            stmt(f"fun {rep}(n, x) ", block([stmt("if (n <= 0) return x;"),
                                             stmt(f"return {rep}(n - 1, x) + x;")])),
            stmt(f"var {acc} = 0;"),
            g.loop("i", g.hot_count(), [stmt(fixed(f"{acc} = {acc} + {rep}("),
                                             count(g.rng.randint(1, 20)), ", i);")]),
            stmt(f"print {acc};"),
            stmt(fixed(f"print {rep}("), count(g.rng.randint(1, 20)),
                 f', "{g.rng.choice(WORDS)}");'),
        ]
        return stmts

    @staticmethod
    def mutual(g: LoxGen) -> list:
        """Mutual recursion between two globals, hot, then one of them reassigned."""
        even, odd, other = g.name("even"), g.name("odd"), g.name("flip")
        count_true = g.name("cnt")
        n = g.hot_count()
        return [
            stmt(f"fun {other}(n) ", block([stmt("return n < 3;")])),
            stmt(f"fun {even}(n) ", block([stmt("if (n <= 0) return true;"),
                                           stmt(f"return {odd}(n - 1);")])),
            stmt(f"fun {odd}(n) ", block([stmt("if (n <= 0) return false;"),
                                          stmt(f"return {even}(n - 1);")])),
            stmt(f"var {count_true} = 0;"),
            g.loop("i", n, [stmt(fixed(f"if ({even}("), count(g.rng.randint(1, 25)),
                                 fixed(f")) {count_true} = {count_true} + 1;")),
                            stmt(fixed("if (i == "), count(g.change_at(n)),
                                 fixed(f") {odd} = {other};"))]),
            stmt(f"print {count_true};"),
        ]

    @staticmethod
    def strings(g: LoxGen) -> list:
        """String building by concatenation in a loop, compared and printed."""
        s, t = g.name("s"), g.name("w")
        n = g.rng.randint(HOT_MIN, 150)
        loop_body = [stmt(f"{s} = {s} + ", g.string({t: "str"}, 1), ";"),
                     stmt(fixed("if (i == "), count(g.change_at(n)),
                          fixed(f") {t} = "), expr(f'"{g.rng.choice(WORDS)}"'), ";"),
                     stmt(f'if ({s} == "") print "empty";')]
        return [stmt(f'var {s} = "";'), stmt(f'var {t} = "{g.rng.choice(WORDS)}";'),
                g.loop("i", n, loop_body), stmt(f"print {s};"),
                stmt(f"print {s} == {s} + \"\";")]

    @staticmethod
    def search(g: LoxGen) -> list:
        """Nested loops with `return` from inside, called hot, then with a string target."""
        finder, acc = g.name("find"), g.name("acc")
        decl = stmt(f"fun {finder}(n, t) ", block([
            g.loop("p", 6, [stmt("var q = 0;"),
                            stmt("while (q < n) ", block([
                                stmt("if (p * q == t) return p + q;"),
                                stmt("q = q + 1;")]))]),
            stmt("return -1;")]))
        n = g.hot_count()
        return [decl, stmt(f"var {acc} = 0;"),
                g.loop("i", n, [*g.deopt("i"),
                                stmt(fixed(f"{acc} = {acc} + {finder}("),
                                     count(g.rng.randint(2, 6)), fixed(", i);"))]),
                stmt(f"print {acc};"),
                stmt(f'print {finder}(4, "{g.rng.choice(WORDS)}");'),
                stmt(f"print {finder}(3, nil);")]

    @staticmethod
    def call_targets(g: LoxGen) -> list:
        """A call site whose target global is reassigned (another function, a class, a
        redeclared function) after it got hot."""
        one, two, cls, target, caller = (g.name("f"), g.name("g"), g.name("K"),
                                         g.name("target"), g.name("call"))
        n = g.hot_count()
        return [
            stmt(f"fun {one}(x) ", block([stmt("return x + 1;")])),
            stmt(f"fun {two}(x) ", block([stmt("return x * 2;")])),
            stmt(f"class {cls} ", block([stmt("init(x) ", block([stmt("this.x = x;")]))])),
            stmt(f"var {target} = {one};"),
            stmt(f"fun {caller}(x) ", block([*g.deopt(), stmt(f"return {target}(x);")])),
            stmt(f"var {target}r = 0;"),
            g.loop("i", n, [stmt(fixed("if (i == "), count(g.change_at(n)),
                                 fixed(f") {target} = {two};")),
                            stmt(f"{target}r = {target}r + {caller}(i);")]),
            stmt(f"print {target}r;"),
            stmt(f"{target} = {cls};"),
            stmt(f"print {caller}(5).x;"),
            stmt(f"fun {one}(x) ", block([stmt('return "re" + "defined";')])),
            stmt(f"{target} = {one};"),
            stmt(f"print {caller}(1);"),
        ]

    @staticmethod
    def global_values(g: LoxGen) -> list:
        """A global read by hot code changes value and type (number to NaN, inf, string)."""
        k, user, acc = g.name("K"), g.name("use"), g.name("acc")
        n = g.hot_count()
        return [
            stmt(f"var {k} = ", g.num({}, 1), ";"),
            stmt(f"fun {user}(x) ", block([stmt(f"return x * {k};")])),
            stmt(f"var {acc} = 0;"),
            g.loop("i", n, [stmt(fixed("if (i == "), count(g.change_at(n)),
                                 fixed(f") {k} = "), expr(g.rng.choice(SPECIAL_NUMBERS)), ";"),
                            *g.deopt("i"),
                            stmt(f"{acc} = {acc} + {user}(i);")]),
            stmt(f"print {acc};"),
            stmt(f'{k} = "now a string";'),
            stmt(f"print {k} + \"!\";"),
        ]

    @staticmethod
    def arrays(g: LoxGen) -> list:
        """An Array filled and summed in hot loops, then an element of another type."""
        arr, acc = g.name("arr"), g.name("acc")
        size = g.rng.randint(5, 40)
        n = g.hot_count()
        return [
            stmt(fixed(f"var {arr} = Array("), count(size), fixed(");")),
            stmt(f"var {acc} = 0;"),
            g.loop("i", n, [stmt(f"if (i < {arr}.length()) {arr}.set(i, i * 1.5);"),
                            stmt(f"{acc} = {acc} + {arr}.get(0);"),
                            *g.deopt("i")]),
            stmt(f"var {arr}g = {arr}.get;"),
            g.loop("i", g.rng.randint(31, 80), [stmt(f"{acc} = {acc} + {arr}g(1);")]),
            stmt(f"{arr}.set(1, \"str\");"),
            stmt(f"print {arr}.get(1) + \"ing\";"),
            stmt(f"print {arr}.length();"),
            stmt(f"print {arr}.get({size} - 1);"),
            stmt(f"print {acc};"),
        ]

    @staticmethod
    def many_live(g: LoxGen) -> list:
        """A function with many locals live across calls (numbers or strings), hot, then
        given other values of its family."""
        family = g.rng.choice(("num", "addable"))
        helper, wide, acc = g.name("helper"), g.name("wide"), g.name("acc")
        env = {"a": family, "b": family}
        body = []
        names = []
        for _ in range(g.rng.randint(8, 24)):
            local = g.name("v")
            body.append(stmt(f"var {local} = ", g.of_family(family, env, 1), ";"))
            env[local] = family
            names.append(local)
        picks = [g.rng.choice(names) for _ in range(3)]
        body.append(stmt(f"var r = {helper}({picks[0]}) + {helper}({picks[1]});"))
        body.extend(g.deopt())
        body.append(stmt(f"return r + {picks[2]} + " + " + ".join(names) + ";"))
        n = g.hot_count()
        first = "i" if family == "num" else '"" + "x"'
        return [
            stmt(f"fun {helper}(x) ", block([stmt("return x + x;")])),
            stmt(f"fun {wide}(a, b) ", block(body)),
            stmt(f"var {acc} = nil;"),
            g.loop("i", n, [stmt(f"var x = {first};"),
                            stmt(fixed("if (i >= "), count(g.change_at(n)), fixed(") x = "),
                                 g.changed_value(family, "i"), ";"),
                            stmt(f"{acc} = {wide}(x, x);")]),
            stmt(f"print {acc};"),
        ]

    @staticmethod
    def megamorphic(g: LoxGen) -> list:
        """One call site over 2-4 classes in turn (one instance with a field holding a
        function instead), a fifth receiver after the change point."""
        kinds = g.rng.randint(2, 4)
        classes = [g.name("R") for _ in range(kinds + 1)]
        stmts = []
        for cls in classes:
            stmts.append(stmt(f"class {cls} ", block([
                stmt("v(k) ", block([stmt("return ", g.num({"k": "num"}, 1), ";")]))])))
        objects = [g.name("r") for _ in classes]
        for obj, cls in zip(objects, classes):
            stmts.append(stmt(f"var {obj} = {cls}();"))
        field_fn = g.name("fv")
        stmts += [stmt(f"fun {field_fn}(k) ", block([stmt("return k * 3;")])),
                  stmt(f"{objects[0]}.v = {field_fn};")]
        n = g.hot_count()
        acc, turn = g.name("acc"), g.name("turn")
        pick = [stmt(f"if ({turn} == {index}) o = {obj};")
                for index, obj in enumerate(objects[:-1])]
        loop_body = [stmt(f"var o = {objects[0]};"), *pick,
                     stmt(fixed("if (i > "), count(g.change_at(n)),
                          fixed(f" and {turn} == 0) o = {objects[-1]};")),
                     stmt(f"{turn} = {turn} + 1;"),
                     stmt(f"if ({turn} == {kinds}) {turn} = 0;"),
                     stmt(f"{acc} = {acc} + o.v(i);"), *g.deopt("i")]
        return stmts + [stmt(f"var {acc} = 0;"), stmt(f"var {turn} = 0;"),
                        g.loop("i", n, loop_body), stmt(f"print {acc};")]

    @staticmethod
    def doubles(g: LoxGen) -> list:
        """Special doubles (NaN, -0, inf, tiny, 2^53 neighbours) through hot arithmetic and
        comparisons."""
        fn, acc = g.name("dbl"), g.name("acc")
        n = g.hot_count()
        special = g.rng.choice(SPECIAL_NUMBERS)
        return [
            stmt(f"fun {fn}(x, y) ", block([stmt("if (x == y) return x - y;"),
                                           stmt("if (x < y) return y / x;"),
                                           stmt("return x * y;")])),
            stmt(f"var {acc} = 0;"),
            g.loop("i", n, [stmt("var d = i;"),
                            stmt(fixed("if (i > "), count(g.change_at(n)),
                                 fixed(f") d = {special};")),
                            stmt(f"{acc} = {fn}(d, i) + {acc} * 0.5;"),
                            *g.sometimes_print("i", expr(acc))]),
            stmt(f"print {acc};"),
            stmt(f"print {special};"),
            stmt(f"print {special} == {special};"),
            stmt(f"print {special} <= {special};"),
            stmt(f"print {special} >= 1;"),
            stmt(f"print -{special};"),
            stmt(f"print {fn}({special}, BIG53);"),
        ]


SECTIONS = (
    Section(Section.hot_function),
    Section(Section.hot_function),
    Section(Section.closures, wrappable=False),
    Section(Section.classes),
    Section(Section.shapes),
    Section(Section.recursion),
    Section(Section.mutual, wrappable=False),
    Section(Section.strings),
    Section(Section.search),
    Section(Section.call_targets, wrappable=False),
    Section(Section.global_values, wrappable=False),
    Section(Section.arrays, needs_extensions=True),
    Section(Section.doubles),
    Section(Section.many_live),
    Section(Section.megamorphic),
)
HOT_FUNCTION = SECTIONS[0]


class ErrorKind:
    """A runtime error: the setup statements, the failing statement (over `v`), a value of
    `v` that works and one that fails."""

    def __init__(self, build, needs_extensions=False):
        self.build = build
        self.needs_extensions = needs_extensions


def _operands(g: LoxGen):
    """Wrong operand types: arithmetic, negation or comparison on a non-number."""
    op = g.rng.choice(("return v - 1;", "return v + 1;", "return -v;", "return v < 2;",
                       "return v * v;"))
    return [], op, "i", g.rng.choice(('"s"', "nil", "true"))


def _call_non_callable(g: LoxGen):
    """Calling a number, a string or nil."""
    ident = g.name("id")
    return ([stmt(f"fun {ident}(x) ", block([stmt("return x;")]))], "return v(1);", ident,
            g.rng.choice(("3", '"s"', "nil")))


def _undefined_variable(g: LoxGen):
    """Reading or assigning a global that was never defined."""
    missing = g.name("undefined")
    op = g.rng.choice((f"if (v) return {missing};", f"if (v) {missing} = 1;"))
    return [], op, "false", "true"


def _undefined_property(g: LoxGen):
    """A field read or method call on an instance that has neither."""
    has, lacks = g.name("Has"), g.name("Lacks")
    setup = [stmt(f"class {has} ", block([stmt("init() ", block([stmt("this.zz = 1;")])),
                                          stmt("w() ", block([stmt("return 2;")]))])),
             stmt(f"class {lacks} " + "{}")]
    op = g.rng.choice(("return v.zz;", "return v.w();"))
    return setup, op, f"{has}()", f"{lacks}()"


def _arity(g: LoxGen):
    """A call with the wrong number of arguments (a function or an initializer)."""
    one, two, cls = g.name("one"), g.name("two"), g.name("Two")
    setup = [stmt(f"fun {one}(x) ", block([stmt("return x;")])),
             stmt(f"fun {two}(x, y) ", block([stmt("return x;")])),
             stmt(f"class {cls} ", block([stmt("init(x, y) ", block([stmt("this.x = x;")]))]))]
    return setup, "return v(1);", one, g.rng.choice((two, cls))


def _not_an_instance(g: LoxGen):
    """A method call, property get or field set on a value that is not an instance."""
    cls = g.name("Obj")
    setup = [stmt(f"class {cls} ", block([stmt("m() ", block([stmt("return 1;")]))]))]
    op = g.rng.choice(("return v.m();", "return v.m;", "v.f = 1;"))
    return setup, op, f"{cls}()", g.rng.choice(("3", '"s"', "nil", cls))


def _superclass(g: LoxGen):
    """A class declared with a superclass that is not a class."""
    base = g.name("Base")
    setup = [stmt(f"class {base} " + "{}")]
    return setup, "class Sub < v {} return Sub;", base, g.rng.choice(("3", "nil"))


def _array_bounds(g: LoxGen):
    """An Array index out of bounds, or an Array method on a number."""
    return [], g.rng.choice(("return v.get(5);", "return v.set(7, 1);")), "Array(10)", \
        g.rng.choice(("Array(2)", "Array(0)", "3"))


ERRORS = (
    ErrorKind(_operands), ErrorKind(_call_non_callable), ErrorKind(_undefined_variable),
    ErrorKind(_undefined_property), ErrorKind(_arity), ErrorKind(_not_an_instance),
    ErrorKind(_superclass), ErrorKind(_array_bounds, needs_extensions=True),
)
