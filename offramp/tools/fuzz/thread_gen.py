"""Random threaded Lox programs whose output does not depend on the interleaving.

`generate(seed)` gives the program text; `generate_tree(seed)` the tree it is printed from
(tree.py), which the shrinker reduces.  A program is 1-3 sections run one after the other by
the main thread, each with 2-8 threads (function, closure or bound-method bodies, spawned
from main or from spawner threads that join their own), drawn from SECTIONS:

    counter    increments of a global, a field or an Array slot under a Lock: exact count;
    racy       the same without a Lock: only facts true under any interleaving are printed
               (the count lies between 1 and the total, the last value written is one of
               the values written);
    queue      producers and consumers through a ring buffer (an Array) guarded by a Lock,
               with busy waits; the sums are printed after the joins;
    churn      threads that allocate (linked lists, instances, strings, Arrays) while others
               run hot loops (2000-20000 iterations: compiled, entered by OSR), call a shared
               function whose argument changes from number to string, or `deoptHere()`;
    invalidate threads run hot calls through a global while main reassigns it to a function
               that computes the same values (code invalidated under running threads);
    relay      threads print in a forced order (a turn counter under a Lock).

Optionally one thread's runtime error nobody joins (printed at the end, exit 70) sits
among the sections, and a program may end with an `ending`: an error joined by main (it
ends the script, the trace spans both threads), main blocking on a Lock a finished thread
still holds (`Deadlock.` in the script), a thread joining itself, or a cycle of threads
each holding a Lock the next one wants (arranged by a barrier; nobody joins them, so every
one of them gets `Deadlock.` once the others are done, reported in thread order).

Determinism: only main prints, except the relay's threads whose turns are forced; every
value printed is the same under any interleaving; at most one thread fails, unless a
deadlock cycle fails them all the same way; main never joins a thread that may be the last
to block.  Synchronisation (lock pairs, barriers, spawns with their joins and prints) is
fixed text of one statement, so that the shrinker cannot drop half of it and leave a racy
program; loop counts that must agree between threads (queue quotas) are fixed too.
"""
import random

from .lox_gen import script_constants
from .tree import block, count, expr, fixed, render, seq, stmt

HOT_MIN, HOT_MAX, HOT_BIG = 2000, 4000, 20000   # hot loop iterations (the thresholds are 30)
WORDS = ("a", "bc", "xyz", "hi", "q7")
EXTENSION_MARKS = ("spawn(", "Lock(", "Array(", "deoptHere(")
SCRIPT_CONSTANTS = 200              # clox's limit is 256 constants per chunk


def generate(seed: int) -> str:
    """The text of the program for `seed`."""
    return render(generate_tree(seed)) + "\n"


def generate_tree(seed: int):
    """The program for `seed`, as a tree (see tree.py)."""
    return ThreadGen(seed).program()


def uses_extensions(text: str) -> bool:
    """Whether the program uses offramp's natives (every threaded program does)."""
    return any(mark in text for mark in EXTENSION_MARKS)


class ThreadGen:
    """The state of one program's generation: the random source and the name counter."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.counter = 0

    # --- helpers -------------------------------------------------------------------------

    def prefix(self) -> str:
        """A fresh prefix for a section's names."""
        self.counter += 1
        return f"s{self.counter}"

    def chance(self, p: float) -> bool:
        """True with probability p."""
        return self.rng.random() < p

    def hot(self) -> int:
        """Iterations of a hot loop: mostly a few thousand, sometimes 20000."""
        if self.chance(0.05):
            return self.rng.randint(HOT_MAX, HOT_BIG)
        return self.rng.randint(HOT_MIN, HOT_MAX)

    def loop(self, var: str, n, body) -> object:
        """`for (var V = 0; V < n; V = V + 1) { body }` (n a count or a global's name)."""
        limit = n if isinstance(n, str) else count(n)
        return stmt(fixed(f"for (var {var} = 0; {var} < "), limit,
                    fixed(f"; {var} = {var} + 1) "), block(body))

    def threads(self, most: int = 8) -> int:
        """How many threads a section starts (the interpreter hands its lock over at
        every poll while others wait: many busy threads make the oracle slow)."""
        return self.rng.randint(2, most)

    # --- thread bodies and how they are spawned ------------------------------------------

    def worker(self, name: str, body_of, styles=("function", "closure", "method")):
        """A thread body in one of three forms; returns (declarations, spawn_of) where
        spawn_of(index) is the expression to spawn for that thread.  `body_of(k)` gives the
        statements of the body for `k` the expression of the thread's index (the function
        form has none: its k is 0)."""
        style = self.rng.choice(styles)
        if style == "function":
            return [stmt(f"fun {name}() ", block(body_of("0")))], lambda index: name
        if style == "closure":
            decl = stmt(f"fun {name}(k) ", block([stmt("fun run() ", block(body_of("k"))),
                                                  stmt("return run;")]))
            return [decl], lambda index: f"{name}({index})"
        decl = stmt(f"class {name} ", block([
            stmt("init(k) ", block([stmt("this.k = k;")])),
            stmt("run() ", block(body_of("this.k")))]))
        return [decl], lambda index: f"{name}({index}).run"

    def launch(self, p: str, spawns: list, joined=None, reverse: bool = False,
               main_work: bool = True) -> list:
        """Spawn one thread per expression of `spawns` (from main, or from 2 spawner
        threads that join their own) and join those of `joined` (default: all) in order
        (or reverse order), their results in the Array `{p}res`: one fixed statement each,
        so that no spawn loses its join.  With `main_work`, main may meanwhile run the
        first thread's body itself."""
        n = len(spawns)
        joined = list(range(n)) if joined is None else joined
        order = list(reversed(joined)) if reverse else joined
        if n >= 3 and self.chance(0.35):
            return self.nested_launch(p, spawns, order)
        lines = [f"var {p}res = Array({n});", f"var {p}ts = Array({n});"]
        lines += [f"{p}ts.set({i}, spawn({e}));" for i, e in enumerate(spawns)]
        own = []
        if main_work and self.chance(0.3):
            # main calls one of the bodies itself meanwhile (it competes for the lock).
            own = [stmt(f"var {p}own = ", expr(_call(spawns[0])), ";")]
        joins = [f"{p}res.set({i}, join({p}ts.get({i})));" for i in order]
        return [stmt(fixed("\n".join(lines))), *own, stmt(fixed("\n".join(joins)))]

    def nested_launch(self, p: str, spawns: list, order: list) -> list:
        """Two spawner threads, each spawning and joining half of the threads."""
        n = len(spawns)
        half = self.rng.randint(1, n - 1)
        groups = [[i for i in order if i < half], [i for i in order if i >= half]]
        lines = [f"var {p}res = Array({n});"]
        for number, (lo, hi) in enumerate(((0, half), (half, n))):
            body = [f"var ts = Array({hi - lo});"]
            body += [f"ts.set({i - lo}, spawn({spawns[i]}));" for i in range(lo, hi)]
            body += [f"{p}res.set({i}, join(ts.get({i - lo})));" for i in groups[number]]
            body.append(f"return {len(groups[number])};")
            lines.append(f"fun {p}group{number}() {{\n  " + "\n  ".join(body) + "\n}")
        lines.append(f"var {p}ga = spawn({p}group0); var {p}gb = spawn({p}group1);")
        joins = f"var {p}joined = join({p}ga) + join({p}gb);\nprint {p}joined;"
        return [stmt(fixed("\n".join(lines))), stmt(fixed(joins))]

    def print_results(self, p: str, indices) -> list:
        """Main prints the joined results (one line each, or their sum)."""
        if self.chance(0.5):
            return [stmt(fixed("print " + " + ".join(f"{p}res.get({i})"
                                                     for i in indices) + ";"))]
        return [stmt(fixed(f"print {p}res.get({i});")) for i in indices]

    # --- the program -----------------------------------------------------------------------

    def program(self):
        """1-3 sections, maybe an unjoined error among them, maybe an ending."""
        chosen = [self.rng.choice(SECTIONS) for _ in range(self.rng.randint(1, 3))]
        parts = [section(self) for section in chosen]
        if self.chance(0.2):
            parts.insert(self.rng.randint(0, len(parts)), unjoined_error(self))
        if self.chance(0.4):
            parts.append(self.rng.choice(ENDINGS)(self))
        stmts, room = [], SCRIPT_CONSTANTS
        for part in parts:
            placed = self.place(part, room)
            room -= script_constants(placed)
            stmts += placed
        return seq(stmts)

    def place(self, part: list, room: int) -> list:
        """The section at top level (its names globals), or in a function called once (its
        names locals, the threads' bodies closures over them): always when the script's
        constants would not fit (clox's 256 per chunk)."""
        if script_constants(part) <= room and self.chance(0.5):
            return part
        wrapper = f"{self.prefix()}main"
        return [stmt(f"fun {wrapper}() ", block(part)), stmt(f"{wrapper}();")]


def _call(spawned: str) -> str:
    """The call of a spawnable expression in the current thread."""
    return f"{spawned}()"


# --- sections ------------------------------------------------------------------------------

def _target(g: ThreadGen, p: str):
    """A shared number: a global, a field or an Array slot; (setup, read, write(v))."""
    kind = g.rng.choice(("global", "field", "array"))
    if kind == "global":
        return [stmt(f"var {p}n = 0;")], f"{p}n", lambda v: f"{p}n = {v};"
    if kind == "field":
        return ([stmt(f"class {p}Box ", block([stmt("init() ", block([stmt("this.n = 0;")]))])),
                 stmt(f"var {p}box = {p}Box();")],
                f"{p}box.n", lambda v: f"{p}box.n = {v};")
    slot = g.rng.randint(0, 2)
    return ([stmt(f"var {p}arr = Array(3);"), stmt(f"{p}arr.set({slot}, 0);")],
            f"{p}arr.get({slot})", lambda v: f"{p}arr.set({slot}, {v});")


def _pure_work(g: ThreadGen, var: str, k: str) -> list:
    """Maybe a statement that computes something thread-local (shrinkable)."""
    if not g.chance(0.5):
        return []
    return [stmt("var w = ", expr("(", expr(var), f" * {g.rng.choice(('2', '3', '0.5'))})"),
                 " + ", expr(k), ";")]


def counter(g: ThreadGen) -> list:
    """N threads increment a shared number under a Lock; main prints it after the joins."""
    p = g.prefix()
    n, rounds = g.threads(), g.rng.randint(20, 200)
    setup, read, write = _target(g, p)
    lock = f"{p}lock"
    if g.chance(0.5):
        critical = f"{lock}.acquire();\n{write(read + ' + 1')}\n{lock}.release();"
    else:  # read, work, write back: a lost update would show
        critical = (f"{lock}.acquire();\nvar seen = {read};\nvar pad = seen * 2;\n"
                    f"{write('seen + 1')}\n{lock}.release();")
    helper = []
    if g.chance(0.3):
        helper = [stmt(f"fun {p}bump() ", block([stmt(fixed(critical))]))]
        critical = f"{p}bump();"

    def body(k):
        return [g.loop("i", rounds, [stmt(fixed(critical)), *_pure_work(g, "i", k)]),
                stmt("return ", expr(k), " + ", count(rounds), ";")]
    decls, spawn_of = g.worker(f"{p}W", body)
    launch = g.launch(p, [spawn_of(i) for i in range(n)])
    return [*setup, stmt(f"var {lock} = Lock();"), *helper, *decls, *launch,
            *g.print_results(p, range(n)), stmt(fixed(f"print {read};"))]


def racy(g: ThreadGen) -> list:
    """N threads increment a shared number and write a shared `last` without a Lock; main
    prints what holds under any interleaving."""
    p = g.prefix()
    n = g.threads()
    setup, read, write = _target(g, p)
    last = f"{p}last"

    def body(k):
        return [stmt("var flip = false;"),
                g.loop("i", f"{p}R", [stmt(fixed(write(read + " + 1"))),
                                      stmt("flip = !flip;"),
                                      stmt(fixed(f'if (flip) {last} = {k}; else {last} = "s";')),
                                      *_pure_work(g, "i", k)]),
                stmt(f"return {k};")]
    decls, spawn_of = g.worker(f"{p}W", body)
    values = " or ".join(f"{last} == {v}" for v in ["nil", '"s"', *range(n + 1)])
    checks = stmt(fixed(f"print {read} >= 1 and {read} <= {p}R * {n + 1};\n"
                        f"print {values};"))
    return [*setup, stmt(fixed(f"var {p}R = "), count(g.rng.randint(50, 600)), fixed(";")),
            stmt(f"var {last} = nil;"), *decls, *g.launch(p, [spawn_of(i) for i in range(n)]),
            *g.print_results(p, range(n)), checks]


def queue(g: ThreadGen) -> list:
    """Producers and consumers through a ring buffer guarded by a Lock, with busy waits;
    every put is taken (producers put C*m, consumers take P*m each)."""
    p = g.prefix()
    producers, consumers = g.rng.randint(1, 4), g.rng.randint(1, 4)
    m = g.rng.randint(5, 40)
    size = g.rng.randint(1, 8)
    lock = f"{p}lock"
    state = stmt(fixed(f"var {p}size = {size};\nvar {p}buf = Array({p}size);\n"
                       f"var {p}count = 0; var {p}putAt = 0; var {p}takeAt = 0;\n"
                       f"var {lock} = Lock();"))
    # A waiter reads the count without the lock and takes the lock only when it may go
    # on: threads spinning on acquire/release could starve a blocked one for ever (a Lock
    # is not fair), while this way every acquisition but a bounded number makes progress.
    put = stmt(fixed(
        f"fun {p}put(v) {{\n  var done = false;\n  while (!done) {{\n"
        f"    if ({p}count < {p}size) {{\n      {lock}.acquire();\n"
        f"      if ({p}count < {p}size) {{\n        {p}buf.set({p}putAt, v);\n"
        f"        {p}putAt = {p}putAt + 1; if ({p}putAt == {p}size) {p}putAt = 0;\n"
        f"        {p}count = {p}count + 1; done = true;\n      }}\n"
        f"      {lock}.release();\n    }}\n  }}\n}}"))
    take = stmt(fixed(
        f"fun {p}take() {{\n  while (true) {{\n    if ({p}count > 0) {{\n"
        f"      {lock}.acquire();\n      if ({p}count > 0) {{\n"
        f"        var v = {p}buf.get({p}takeAt);\n"
        f"        {p}takeAt = {p}takeAt + 1; if ({p}takeAt == {p}size) {p}takeAt = 0;\n"
        f"        {p}count = {p}count - 1;\n        {lock}.release();\n        return v;\n"
        f"      }}\n      {lock}.release();\n    }}\n  }}\n}}"))

    def producer(k):
        return [stmt(fixed(f"for (var i = 0; i < {consumers * m}; i = i + 1) "
                           f"{p}put({k} * 1000 + i);")), stmt(f"return {k};")]

    def consumer(k):
        return [stmt("var s = 0;"),
                stmt(fixed(f"for (var i = 0; i < {producers * m}; i = i + 1) "
                           f"s = s + {p}take();")),
                stmt("return s;")]
    pdecls, pspawn = g.worker(f"{p}Prod", producer, ("closure", "method"))
    cdecls, cspawn = g.worker(f"{p}Cons", consumer)
    spawns = [pspawn(i) for i in range(producers)] + [cspawn(i) for i in range(consumers)]
    order = list(range(len(spawns)))
    g.rng.shuffle(order)
    spawns = [spawns[i] for i in order]
    cons = [order.index(producers + i) for i in range(consumers)]
    prods = [order.index(i) for i in range(producers)]
    lines = [f"print " + " + ".join(f"{p}res.get({i})" for i in cons) + ";",
             f"print " + " + ".join(f"{p}res.get({i})" for i in prods) + ";",
             f"print {p}count;"]
    launch = g.launch(p, spawns, main_work=False)   # main must not take items
    return [state, put, take, *pdecls, *cdecls, *launch, stmt(fixed("\n".join(lines)))]


def _churn_body(g: ThreadGen, p: str, kind: str):
    """The body of one churn thread of `kind` (its declarations, body_of)."""
    hot = g.hot()
    if kind == "list":
        decl = [stmt(f"class {p}Node ", block([stmt("init(v, next) ", block([
            stmt("this.v = v;"), stmt("this.next = next;")]))]))]
        return decl, lambda k: [
            stmt("var t = 0;"),
            g.loop("r", g.rng.randint(2, 8), [
                stmt("var head = nil;"),
                g.loop("i", g.rng.randint(20, 100), [stmt(f"head = {p}Node(i + {k}, head);")]),
                stmt("while (head != nil) { t = t + head.v; head = head.next; }")]),
            stmt("return t;")]
    if kind == "instances":
        decl = [stmt(f"class {p}Pt ", block([
            stmt("init(x, y) ", block([stmt("this.x = x;"), stmt("this.y = y;")])),
            stmt("sum() ", block([stmt("return this.x + this.y;")]))]))]
        return decl, lambda k: [
            stmt("var t = 0;"),
            g.loop("i", g.rng.randint(200, 1000), [
                stmt(f"var o = {p}Pt(i, {k});"),
                stmt(fixed("if (i > "), count(g.rng.randint(50, 150)), fixed(") o.extra = i;")),
                stmt("t = t + o.sum();")]),
            stmt("return t;")]
    if kind == "strings":
        word = g.rng.choice(WORDS)
        length = g.rng.randint(50, 300)
        result = "return s;" if length < 120 else "return n;"
        return [], lambda k: [
            stmt('var s = "";'), stmt("var n = 0;"),
            g.loop("i", length, [
                stmt(f's = s + "{word}";'),
                stmt("if (s == s + \"\") n = n + 1;"),
                stmt(fixed("if (i == "), count(g.rng.randint(20, 49)), fixed(') s = "";'))]),
            stmt(result)]
    if kind == "arrays":
        return [], lambda k: [
            stmt("var a = Array(4);"), stmt("var t = 0;"),
            g.loop("i", g.rng.randint(200, 1000), [
                stmt("var b = Array(3);"), stmt(f"b.set(1, i + {k});"),
                stmt("a.set(2, b);"), stmt("t = t + a.get(2).get(1);")]),
            stmt("return t;")]
    if kind == "spin":
        factor = g.rng.choice(("2", "3", "0.5", "7"))
        return [], lambda k: [
            stmt("var x = 0;"),
            g.loop("i", hot, [stmt(f"x = x + i * {factor} - {k};"),
                              stmt("if (x > 100000000) x = x - 100000000;")]),
            stmt("return x;")]
    if kind == "calls":
        return [stmt(f"fun {p}sq(x) ", block([stmt("return x * x - x + 1;")]))], lambda k: [
            stmt("var x = 0;"),
            g.loop("i", hot, [stmt(f"x = x + {p}sq(i - {k}) - i * i;")]),
            stmt("return x;")]
    if kind == "retype":   # the shared function sees numbers, then strings
        cut = g.rng.randint(100, min(hot - 1, 3000))
        word = g.rng.choice(WORDS)
        return [stmt(f"fun {p}tw(x) ", block([stmt("return x + x;")]))], lambda k: [
            stmt("var acc = 0;"), stmt('var s = "";'),
            g.loop("i", hot, [stmt(fixed("if (i < "), count(cut), fixed(") "),
                                   fixed(f"acc = acc + {p}tw(i + {k}); "
                                         f'else s = {p}tw("{word}");'))]),
            stmt(f'if (s == "{word}{word}") acc = acc + 1;'),
            stmt("return acc;")]
    deopt_at = g.rng.randint(40, hot - 1)   # "deopt"
    return [stmt(f"fun {p}d(x) ", block([stmt(fixed("if (x == "), count(deopt_at),
                                               fixed(") deoptHere();")),
                                          stmt("return x + 1;")]))], lambda k: [
        stmt("var acc = 0;"),
        g.loop("i", hot, [stmt(f"acc = acc + {p}d(i);"),
                          stmt(fixed("if (i == "), count(g.rng.randint(31, hot - 1)),
                               fixed(") deoptHere();"))]),
        stmt(f"return acc + {k};")]


CHURN_KINDS = ("list", "instances", "strings", "arrays", "spin", "calls", "retype", "deopt")


def churn(g: ThreadGen) -> list:
    """Threads that allocate next to threads that run hot loops, call a function whose
    argument type changes, or deoptimize; main prints each result."""
    p = g.prefix()
    n = g.threads(5)
    decls, spawns, declared = [], [], set()
    for index in range(n):
        kind = g.rng.choice(CHURN_KINDS)
        shared, body_of = _churn_body(g, p, kind)
        if kind not in declared:
            decls += shared
            declared.add(kind)
        worker_decls, spawn_of = g.worker(f"{p}{kind}{index}", body_of)
        decls += worker_decls
        spawns.append(spawn_of(index))
    return [*decls, *g.launch(p, spawns, reverse=g.chance(0.3)),
            *g.print_results(p, range(n))]


def invalidate(g: ThreadGen) -> list:
    """Threads run hot calls through a global function; main reassigns the global to
    another function computing the same values while they run (and maybe back)."""
    p = g.prefix()
    n = g.threads(4)
    fn = f"{p}f"
    variants = ("return x + x;", "return x * 2;", "return 2 * x;", "var y = x; return y + x;")
    first, second = g.rng.sample(variants, 2)

    def body(k):
        return [stmt("var acc = 0;"),
                g.loop("i", g.hot(), [stmt(f"acc = acc + {fn}(i - {k});")]),
                stmt("return acc;")]
    decls, spawn_of = g.worker(f"{p}W", body)
    launch = g.launch(p, [spawn_of(i) for i in range(n)])
    switch = [stmt(f"fun {p}alt(x) ", block([stmt(second)])),
              g.loop("i", g.rng.randint(10, 3000), [stmt("var z = i * 2;")]),
              stmt(f"{fn} = {p}alt;")]
    if g.chance(0.5):
        switch += [stmt(f"fun {p}third(x) ", block([stmt(g.rng.choice(variants))])),
                   g.loop("i", g.rng.randint(10, 3000), [stmt("var z = i * 2;")]),
                   stmt(f"{fn} = {p}third;")]
    return [stmt(f"fun {fn}(x) ", block([stmt(first)])), *decls,
            launch[0], *switch, *launch[1:], *g.print_results(p, range(n))]


def relay(g: ThreadGen) -> list:
    """Threads print in turn: thread k prints at turns k, k+N, ... (a counter under a
    Lock, busy waits); main prints after the joins."""
    p = g.prefix()
    n = g.rng.randint(2, 5)
    rounds = g.rng.randint(1, 3)
    lock, turn = f"{p}lock", f"{p}turn"

    def body(k):
        wait = (f"while ({turn} != r * {n} + {k}) {{}}\n{lock}.acquire();\n"
                f"print \"{p} \" + value;\n{turn} = {turn} + 1;\n{lock}.release();")
        return [stmt("var acc = 0;"),
                stmt(fixed(f"for (var r = 0; r < {rounds}; r = r + 1) "), block([
                    g.loop("i", g.rng.randint(10, 400), [stmt(f"acc = acc + i * {k};")]),
                    stmt('var value = "x";'),
                    stmt("if (acc > 10) value = \"big\";"),
                    stmt(fixed(wait))])),
                stmt("return acc;")]
    decls, spawn_of = g.worker(f"{p}W", body, ("closure", "method"))
    launch = g.launch(p, [spawn_of(i) for i in range(n)], main_work=False)
    return [stmt(f"var {lock} = Lock();"), stmt(f"var {turn} = 0;"), *decls, *launch,
            *g.print_results(p, range(n)), stmt(fixed(f"print {turn};"))]


SECTIONS = (counter, counter, racy, queue, churn, churn, invalidate, relay)


# --- errors and deadlocks --------------------------------------------------------------------

def _failure(g: ThreadGen, p: str):
    """A runtime error: (setup, the failing statement over `v`, good value, bad value)."""
    kind = g.rng.randrange(8)
    if kind == 0:
        return [], g.rng.choice(("return v * 2;", "return -v;", "return v + 1;",
                                 "return v < 1;")), "i", g.rng.choice(('"s"', "nil", "true"))
    if kind == 1:
        return ([stmt(f"var {p}arr = Array(10);")], f"return {p}arr.get(v);", "3",
                g.rng.choice(("10", "-1", "1.5")))
    if kind == 2:
        return ([stmt(f"class {p}Has ", block([stmt("init() ", block([stmt("this.zz = 1;")]))])),
                 stmt(f"class {p}Lacks " + "{}")], "return v.zz;", f"{p}Has()", f"{p}Lacks()")
    if kind == 3:
        return [], f"if (v) return {p}undefined;", "false", "true"
    if kind == 4:
        return ([stmt(f"var {p}lk = Lock();")],
                g.rng.choice((f"if (v) {p}lk.release();",
                              f"if (v) {{ {p}lk.acquire(); {p}lk.acquire(); }}")),
                "false", "true")
    if kind == 5:
        return [], "if (v) join(v);", "false", "true"
    if kind == 6:
        return ([stmt(f"fun {p}one(x) ", block([stmt("return x;")]))],
                f"if (v) spawn({p}one);", "false", "true")
    return [], "return v(1);", f"{p}id", g.rng.choice(("3", "nil", '"s"'))


def _failing_threads(g: ThreadGen, p: str, n: int, bad: int):
    """Declarations and spawn expressions of n threads of which thread `bad` fails at one
    iteration of its (hot) loop."""
    setup, op, good, value = _failure(g, p)
    if good == f"{p}id":
        setup = [stmt(f"fun {p}id(x) ", block([stmt("return x;")]))]
    hot = g.rng.randint(50, 2000)

    def body(k):
        return [stmt("var acc = 0;"),
                g.loop("i", hot, [stmt(f"var v = {good};"),
                                  stmt(fixed(f"if ({k} == {bad} and i == "),
                                       count(g.rng.randint(31, hot - 1)),
                                       fixed(f") v = {value};")),
                                  stmt(f"var r = {p}op(v);"),
                                  stmt("acc = acc + 1;")]),
                stmt("return acc;")]
    decls, spawn_of = g.worker(f"{p}W", body, ("closure", "method"))
    op_decl = stmt(f"fun {p}op(v) ", block([stmt(fixed(op)), stmt("return 0;")]))
    return [*setup, op_decl, *decls], [spawn_of(i) for i in range(n)]


def unjoined_error(g: ThreadGen) -> list:
    """One of N threads fails and nobody joins it: reported at the end, exit 70."""
    p = g.prefix()
    n = g.rng.randint(1, 5)
    bad = g.rng.randrange(n)
    decls, spawns = _failing_threads(g, p, n, bad)
    others = [i for i in range(n) if i != bad]
    launch = g.launch(p, spawns, joined=others, main_work=False)
    return [*decls, *launch, *(g.print_results(p, others) if others else [])]


def joined_error(g: ThreadGen) -> list:
    """One of N threads fails and main joins it: the error ends the script."""
    p = g.prefix()
    n = g.rng.randint(1, 5)
    bad = g.rng.randrange(n)
    decls, spawns = _failing_threads(g, p, n, bad)
    return [*decls, *g.launch(p, spawns, reverse=g.chance(0.3), main_work=False),
            stmt('print "unreachable";')]


def held_lock(g: ThreadGen) -> list:
    """A thread ends holding a Lock; then main (or an unjoined thread) acquires it: the
    only live thread left blocks for ever, `Deadlock.`."""
    p = g.prefix()
    lock = f"{p}lock"
    stmts = [stmt(f"var {lock} = Lock();"),
             stmt(f"fun {p}hold() ", block([stmt(f"{lock}.acquire();"), stmt("return 1;")])),
             stmt(fixed(f"print join(spawn({p}hold));"))]
    if g.chance(0.5):
        # busy threads nobody joins keep running while main waits
        stmts += [stmt(f"fun {p}busy() ", block([
            stmt("var x = 0;"), g.loop("i", g.hot(), [stmt("x = x + i;")]),
            stmt("return x;")])),
            stmt(fixed(f"for (var i = 0; i < {g.rng.randint(1, 3)}; i = i + 1) "
                       f"spawn({p}busy);"))]
    if g.chance(0.5):
        stmts += [stmt(f"fun {p}wait() ", block([stmt(fixed(f"{lock}.acquire();")),
                                                 stmt('print "unreachable";')])),
                  stmt(fixed(f"spawn({p}wait);")), stmt('print "main done";')]
    else:
        stmts += [stmt(fixed(f"{lock}.acquire();")), stmt('print "unreachable";')]
    return stmts


def self_join(g: ThreadGen) -> list:
    """A thread nobody joins joins itself (a lock makes sure it sees its own thread): it
    blocks for ever once everything else is done, `Deadlock.` at the end."""
    p = g.prefix()
    lock = f"{p}lock"
    return [stmt(fixed(f"var {lock} = Lock();\nvar {p}t = nil;")),
            stmt(f"fun {p}me() ", block([stmt(fixed(f"{lock}.acquire(); {lock}.release();")),
                                         stmt(f"return join({p}t);")])),
            stmt(fixed(f"{lock}.acquire();\n{p}t = spawn({p}me);\n{lock}.release();")),
            stmt('print "main done";')]


def cycle(g: ThreadGen) -> list:
    """N threads each take their Lock, meet at a barrier, then want the next one's: every
    one of them gets `Deadlock.` (nobody joins them; dead holders keep their locks)."""
    p = g.prefix()
    n = g.rng.randint(2, 4)
    barrier = f"{p}bar"

    def body(k):
        return [stmt(fixed(f"{p}locks.get({k}).acquire();\n{barrier}.acquire();\n"
                           f"{p}ready = {p}ready + 1;\n{barrier}.release();\n"
                           f"while ({p}ready != {n}) {{}}\n"
                           f"var next = {k} + 1;\nif (next == {n}) next = 0;\n"
                           f"{p}locks.get(next).acquire();")),
                stmt("return 1;")]
    decls, spawn_of = g.worker(f"{p}W", body, ("closure", "method"))
    return [stmt(fixed(f"var {barrier} = Lock();\nvar {p}ready = 0;\n"
                       f"var {p}locks = Array({n});\n"
                       f"for (var i = 0; i < {n}; i = i + 1) {p}locks.set(i, Lock());")),
            *decls,
            stmt(fixed("\n".join(f"spawn({spawn_of(i)});" for i in range(n)))),
            stmt('print "main done";')]


ENDINGS = (joined_error, joined_error, held_lock, self_join, cycle)
