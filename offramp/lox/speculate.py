"""Speculation: a Lox function's baseline version rewritten into guarded fast paths.

The baseline (codegen's first version, `v1`) does every Lox operation through a generic
runtime helper, and its PROFILE sites count the classes of the values those helpers see
(`LoxRuntime.classify`).  `speculate` builds a new version from the same blocks in which a
helper whose site saw one class (at least MONOMORPHIC of the samples; for properties, up to
MAX_SHAPES shapes) becomes the fast path for it behind GUARDs, and the helpers that need no
speculation become plain IR.  PROFILE instructions are dropped, except at sites that have
no sample yet: there compiled code calls `lox.profile` (keep_profiling), and is compiled
again once the site has samples.

Names and frame states.  The new version keeps the baseline's block labels and SSA names:
a value the baseline computes keeps its name (a fast path's result is defined under the
helper's result name), so a frame state gives variable %x as %x.
- Every GUARD resumes in the baseline at the rewritten helper — at the PROFILEs right
  before it, the same point for the program — with exactly the variables live there.  A
  failed guard continues in the interpreter, which records the value that failed and runs
  the generic helper (raising clox's error if there is one).
- Every CALL and CCALL kept or created waits at the matching call of the baseline with the
  variables live after it (less its result): lazy deoptimization resumes there, and the
  inliner composes the states of an inlined callee under it.  A SAFEPOINT resumes after
  itself in the baseline.
An OSR entry clone (`F.osr.HEADER`, opt/osr.py) holds a copy of F's baseline blocks with the
same labels, positions and names: it is speculated with F's profiles, and its states resume
in F's baseline too.  Its blocks after the loop that never ran (the loop had not finished
its first run) become a DEOPT: the interpreter runs them, profiling, and OSR can enter a
later loop with that loop's profile.  A clone of any other version of F is left as it is.

Facts.  Blocks are rewritten each after its immediate dominator, inheriting what the code
proves about SSA values — a number's double, a Lox boolean's i1 — so a value is guarded and
unboxed once, and `if (a < b)` branches on the FOLT itself; the shapes checked stay known
within a block until a helper or call (which may add a field) runs.  A field access the
profile has no shapes for (eager code, a rare block) or whose site is left generic (its
guards kept failing, `excluded_sites`) stays the helper call, which native code compiles
as an inline cache (native/inline_cache.py): it learns new shapes in
place, without deoptimizing.  Measured against that alternative for every field access —
check the profiled shapes inline and call the inline cache otherwise, so that no new shape
ever deoptimizes — guards are 2.3-3.4x faster on properties, method_call and zoo: after a
guard the shape is known for the rest of the block, after a branch it is not.  Field and
method sites of a member name that more than MAX_SHAPES classes have (many_classes_have)
are inline caches even with a profile: the few shapes seen so far promise little there.

Guard reasons name the speculation, the site — the baseline instruction `block:index` — and
the function: "not a number @body3:5 in lox.fn1.fib".  The runtime files every reason
under (function, site) in `guard_sites`.  Sites in `excluded_sites` stay generic; a
speculation whose reason is in `failed_reasons` is not made again (another one at the same
site may be, e.g. a guard for the two shapes the site has seen since).

| helper(s)                      | speculated when            | guards           | fast path                  |
|--------------------------------|----------------------------|------------------|----------------------------|
| add sub mul div neg            | operands 'num'             | TR64_IS_FP       | FADD.. FNEG, TR64_FROM_FP  |
| less less_equal greater ..._eq | operands 'num'             | TR64_IS_FP       | FOLT/FOGT, SELECT booleans |
| truthy not                     | always                     | -                | NE nil, NE false, AND      |
| equal not_equal                | always                     | -                | both fp ? FOEQ : EQ        |
| box_get box_set upvalue        | always                     | -                | LOAD / STORE at offsets    |
| get_global set_global          | always                     | not UNDEFINED *  | LOAD (STORE) of the cell   |
| get_property get_method        | shapes, field in one slot  | ref, shape ids   | LOAD fields                |
| set_property                   | shapes, field in one slot  | ref, shape ids   | LOAD fields, STORE         |
| set_property (adds a field)    | one shape, known transition| ref, shape id    | STORE slot, STORE header   |
| get_method + call              | one class K, no field M ** | ref, kind, class | CALL @M (M, obj, args)     |
| get_method + call              | shapes sharing method M    | ref, shape ids   | CALL @M (M, obj, args)     |
| get_method + call              | one built-in kind (Lock..) | ref, kind id     | CALL @native (N, obj, args)|
| get_method + call              | none of the above ***      | -                | invoke IC, LOADs, CALL     |
| get_super + call               | superclass one class K     | superclass == K  | CALL @M (M, this, args)    |
| call of a global holding C/K   | always **                  | -                | as below                   |
| call                           | one closure C              | callee == C      | CALL @C (C, nil, args)     |
| call                           | one class K                | callee == K      | instantiate, CALL @init    |
* none once the global is defined: Lox never undefines a global.  A global that code
  assumes keeps its value (below) is assigned by the helper; other stores are guarded by
  the global's watch word.
** an assumption (lox/assumptions.py), not a guard: the version records its key, and a
  write breaking it drops the version (runtime/assumptions.py).  Keys already broken are
  never assumed again.
*** no profile yet, shapes with different methods, more than MAX_SHAPES shapes, an
  excluded site or no more speculation: one CCALL of `lox.invoke.A`, which native code
  compiles as an inline cache (kind `invoke`) returning a call record; the closure, code
  and `this` are LOADed from it (`method_cache`).  Never an uncommon trap, like a field
  site's cache.

Heap words a fast path embeds (closures, classes, the classes of speculated shapes, which
keep the shape ids' meaning) are rooted through `LoxRuntime.embed`.  A closure or class
seen by a profile is only trusted when it cannot have been freed since: it was profiled
after the last collection, is already embedded, or is the value of a Lox global now.
"""
from collections import Counter
from dataclasses import replace

from ..heap import HeapError, ObjKind
from ..heap.layout import (BOX_VALUE, CLOSURE_UPVALUES, HEADER_KIND_MASK, HEADER_LOW_MASK,
                           HEADER_OFFSET, HEADER_SHAPE_SHIFT, HEADER_SIZE_MASK,
                           HEADER_SIZE_SHIFT, INSTANCE_FIELDS, INSTANCE_KLASS,
                           VALUES_SLOTS)
from ..ir import tagref
from ..ir.inline_caches import RECORD_CLOSURE, RECORD_CODE, RECORD_RECEIVER, RECORD_THIS
from ..ir.analysis import dominators_in_order, reachable_from
from ..ir.nodes import Block, FrameState, FunctionVersion, Imm, Instr, Sym, Var
from ..ir.types import DOUBLE, I1, I64, TAGREF64
from ..opt.osr import held_by
from ..opt.rewrite import NameSupply, Substitution, remove_unreachable, successors
from .allocation import instance_allocator
from .assumptions import GLOBAL_PREFIX
from .codegen import RETURN_THIS

MONOMORPHIC = 0.95      # share of a site's samples one class must have
MIN_SAMPLES = 1         # a site never reached is not speculated on
MAX_SHAPES = 4          # a property site that saw more shapes stays generic
WARM_SAMPLES = 20       # samples a function's profile needs before unreached code deopts

NIL, TRUE, FALSE = Sym("lox.nil"), Sym("lox.true"), Sym("lox.false")
PROFILE_HELPER = "lox.profile"
UNDEFINED = Imm(tagref.UNDEFINED)

ARITHMETIC = {"lox.add": "FADD", "lox.sub": "FSUB", "lox.mul": "FMUL", "lox.div": "FDIV"}
# helper -> (the comparison, whether the result is its negation): clox compiles `a <= b`
# as `!(a > b)` and `a >= b` as `!(a < b)`, which are true when either operand is NaN.
COMPARISON = {"lox.less": ("FOLT", False), "lox.less_equal": ("FOGT", True),
              "lox.greater": ("FOGT", False), "lox.greater_equal": ("FOLT", True)}


def speculate(runtime, function, excluded_sites=frozenset(), name: str = "s1", *,
              guarded: bool = True, failed_reasons=frozenset(), method_caches: bool = True):
    """A new version `name` of `function` (a Lox function or an OSR clone of one), not
    installed, with the helpers its profiles allow rewritten into guarded fast paths.

    Sites in `excluded_sites` stay generic; a speculation whose guard reason is in
    `failed_reasons` is not made again (another one at its site may be: e.g. a shape guard
    for the shapes the site has seen since); `guarded=False` makes only the rewrites that
    need no guard; `method_caches=False` leaves the method calls it cannot speculate on
    generic (a version the interpreter may have to run: lox/optimizer.py)."""
    return Speculator(runtime, function, frozenset(excluded_sites), guarded,
                      frozenset(failed_reasons), method_caches).run(name)


def original_function(module, function) -> str:
    """The function whose baseline `function`'s frame states resume in (itself, or the
    function an OSR entry clone was made from)."""
    name = function.name
    if ".osr." in name:
        base = name.rsplit(".osr.", 1)[0]
        if base in module.functions:
            return base
    return name


def count_sites(version) -> Counter:
    """Speculations of a version by kind (the reason text before the site)."""
    counts = Counter()
    for block in version.blocks:
        for instr in block.instrs:
            if instr.op == "GUARD":
                what = instr.arg("reason").split(" @")[0]
                counts[what.rstrip("0123456789, ")] += 1
    return counts


class Speculator:
    """Rewrites one source version (a baseline or an OSR clone's copy of it)."""

    def __init__(self, runtime, function, excluded: frozenset, guarded: bool = True,
                 failed_reasons=frozenset(), method_caches: bool = True):
        module = runtime.program.module
        self.runtime, self.module, self.heap = runtime, module, runtime.heap
        self.source = function.versions[0]
        self.func = original_function(module, function)
        original = module.functions[self.func]
        self.baseline = original.version(self.source.name)
        # Only codegen's version has profiles and the call shapes matched below.
        self.active = self.baseline is original.versions[0]
        self.baseline_code = runtime.vm.interp.code_for(self.baseline)
        # In an OSR clone a baseline variable may be held under another name (osr.py).
        self.held = held_by(self.source, self.baseline, self.clone_live_in()) \
            if self.func != self.source.func else {}
        self.profiles = self.baseline_code.profiles
        self.excluded = excluded
        self.guarded = guarded
        self.failed_reasons = failed_reasons
        self.debuggable = runtime.vm.config.debuggable
        self.resume = 0
        self.names = NameSupply(self.source)
        self.subst = Substitution()
        # Reads of each name.  The baseline's counts serve an OSR clone too: a name its
        # blocks define is read only in blocks they reach, which the clone copied.
        self.uses = self.baseline_code.use_counts()
        self.states = {}
        self._globals_now = None
        self._definers = None
        self._many_classes = {}   # member name -> whether many classes have it
        self.assumed = set()       # keys of the assumptions made (runtime/assumptions.py)
        self.native_only = False   # a method call became an `invoke` inline cache
        self.method_caches = method_caches   # whether method calls may become such caches
        self.block = None
        self.where = None
        self.line = None
        _name_type(module, "double", DOUBLE)

    def clone_live_in(self) -> dict:
        """The baseline's liveness as the OSR entry clone being speculated was made with
        it (VM.osr_live_in: with --debuggable, every source variable at its header)."""
        header = self.source.blocks[0].instrs[-1].arg("dest").label
        return self.runtime.vm.osr_live_in(self.baseline, header, self.baseline_code.live_in())

    def run(self, name: str) -> FunctionVersion:
        """Rewrite the blocks, each after its immediate dominator (whose facts it inherits);
        the new version lists them in the source's order."""
        # UNSAFE: speculation reads the Lox heap layout directly and embeds heap references.
        out = FunctionVersion(self.source.func, name,
                              [Block(b.label, list(b.params), []) for b in self.source.blocks],
                              unsafe=True)
        new = {b.label: b for b in out.blocks}
        source = {b.label: b for b in self.source.blocks}
        baseline_labels = {b.label for b in self.baseline.blocks}
        order, idoms = dominators_in_order(self.source)
        reached = set(order)
        order += [b.label for b in self.source.blocks if b.label not in reached]
        ends = {}
        self.warm = sum(sum(c.values()) for c in self.profiles.values()) >= WARM_SAMPLES
        unreached = self.unreached() if self.active else set()
        if unreached:       # what only never-reached blocks lead to is not rewritten at all
            kept = reachable_from(self.source, self.source.blocks[0].label, unreached)
            order = [label for label in order if label in kept]
        for label in order:
            block, self.block = source[label], new[label]
            idom = idoms.get(label)
            self.facts = ends[idom].inherited() if idom in ends else Facts()
            if not self.active or label not in baseline_labels:
                self.block.instrs = list(block.instrs)   # e.g. an OSR clone's entry block
            elif label in unreached:
                self.where, self.line = (label, 0), block.instrs[0].line
                reason = self.reason("unreached")
                self.emit("DEOPT", reason, self.state(0))
            else:
                self.rewrite_block(block)
            ends[label] = self.facts
        self.subst.apply(out)
        remove_unreachable(out)     # what only the never-reached code led to
        out.assumptions = frozenset(self.assumed)
        out.native_only = self.native_only
        return out

    def unreached(self) -> set:
        """In an OSR entry clone, the blocks after the loop that the interpreter never ran
        (the first PROFILE site of the block has no sample): the loop has not finished its
        first run yet.  They deoptimize when reached, so the interpreter runs them with
        profiling, and OSR can enter a later loop with that loop's profile.  (Elsewhere a
        block without samples may just be rare; it is compiled.)"""
        original = self.module.functions[self.func]
        if self.func == self.source.func or not self.guarded or len(original.versions) > 1 \
                or sum(sum(c.values()) for c in self.profiles.values()) < WARM_SAMPLES:
            return set()
        entry = self.source.blocks[0].instrs[-1]
        in_loop = reaching(self.source, [d.label for d in entry.dests()])
        out = set()
        for block in self.source.blocks:
            if block.label in in_loop:
                continue
            first = next((i.arg("site") for i in block.instrs if i.op == "PROFILE"), None)
            if first is not None and not self.profiles.get(first) and \
                    f"{block.label}:0" not in self.excluded and \
                    f"unreached @{block.label}:0 in {self.func}" not in self.failed_reasons:
                out.add(block.label)
        return out

    def rewrite_block(self, block):
        instrs, i, profiled = block.instrs, 0, {}
        start = 0
        while i < len(instrs):
            instr = instrs[i]
            if instr.op == "PROFILE":
                if not profiled:
                    start = i
                profiled[instr.arg("value")] = instr.arg("site")
                i += 1
                continue
            # Guards resume at the helper's PROFILEs, so a deopt records the value that
            # broke the speculation (and a recompilation sees it).
            self.where, self.line = (block.label, i), instr.line
            self.resume = start if profiled else i
            if profiled and not self.inline_cached(instrs, i) and \
                    self.never_reached(profiled, start):
                return
            if profiled:
                self.keep_profiling(instrs, start, i)
            i += self.rewrite(instrs, i, profiled)
            profiled = {}

    def inline_cached(self, instrs, i) -> bool:
        """A field read or write, or a method call, native code compiles as an inline
        cache: never reached, it is not an uncommon trap — the cache learns its shapes
        when it runs."""
        instr = instrs[i]
        return instr.op == "CCALL" and (bool(self.module.externs[instr.arg("callee")].ic)
                                        or self.method_cache_at(instrs, i) is not None)

    def never_reached(self, profiled, start: int) -> bool:
        """An uncommon trap: in a warm function, an operation whose profile sites never saw
        a value deoptimizes when reached (emitting DEOPT; the rest of the block is dead),
        so it is compiled with a profile later instead of as slow generic code now.  Not
        in OSR clones: a rare block inside a hot loop is compiled (a deopt there would
        leave the rest of the loop to the interpreter)."""
        if not (self.active and self.guarded and self.warm and self.func == self.source.func):
            return False
        if any(self.profiles.get(site) for site in profiled.values()):
            return False
        where = self.where
        self.where = (where[0], start)
        reason = self.reason("unreached")
        self.where = where
        if reason in self.failed_reasons or f"{where[0]}:{start}" in self.excluded:
            return False
        self.emit("DEOPT", reason, self.state(start))
        return True

    def keep_profiling(self, instrs, start: int, end: int) -> None:
        """A site no value has reached yet (the function or loop is compiled before its
        profile: eager mode, a loop entered at its first iteration, a rare block) keeps
        profiling in compiled code: a CCALL of `lox.profile` where the PROFILE was, waiting
        at it (a lazy deopt there resumes after the PROFILE).  The generic helper it guards
        is slow; once the site has samples, the runtime has the code compiled again with
        them (LoxRuntime.profile)."""
        if not self.active or PROFILE_HELPER not in self.module.externs:
            return
        for index in range(start, end):
            instr = instrs[index]
            if instr.op == "PROFILE" and not self.profiles.get(instr.arg("site")):
                key = self.runtime.profile_key(self.profiles, instr.arg("site"))
                self.append(Instr("CCALL", (PROFILE_HELPER, (Imm(key), instr.arg("value")),
                                            (), self.waiting(index)), (), None, instr.line))

    # --- dispatch ----------------------------------------------------------------------

    def rewrite(self, instrs, i, profiled) -> int:
        """Emit instrs[i] (and what it heads) rewritten; how many instructions it took."""
        instr = instrs[i]
        if instr.op == "CCALL":
            callee = instr.arg("callee")
            if callee.startswith("lox.callee_code."):
                handler = Speculator.direct_call
            else:
                handler = HANDLERS.get(callee)
            if handler is not None and self.site() not in self.excluded and \
                    (self.guarded or handler in UNGUARDED):
                taken = self.attempt(handler, instrs, i, profiled)
                if taken:
                    return taken
            taken = self.method_cache(instrs, i)
            if taken:
                return taken
            self.keep_call(instr)
        elif instr.op == "CALL":
            self.keep_call(instr)
        elif instr.op == "SAFEPOINT" and instr.arg("state") is None:
            self.append(replace(instr, operands=(self.state(self.where[1] + 1),)))
        elif instr.op == "BREAKPOINT":
            self.breakpoint(instr)
        else:
            self.append(instr)
        return 1

    def breakpoint(self, instr) -> None:
        """A debugger's site: compiled in (resuming after itself in the baseline) once
        its breakpoint has been armed; left out before, under the assumption that it is
        not — arming it invalidates this code (runtime/breakpoints.py)."""
        bpid = instr.arg("id")
        if self.runtime.vm.breakpoints.may_leave_out(bpid):
            self.assumed.add(("breakpoint", bpid))
            return
        self.append(replace(instr, operands=(bpid, self.state(self.where[1] + 1))))

    def attempt(self, handler, instrs, i, profiled) -> int:
        """Run a handler; undo what it emitted if it needs a guard that failed before."""
        mark, saved = len(self.block.instrs), self.facts.copy()
        try:
            return handler(self, instrs, i, profiled)
        except FailedBefore:
            del self.block.instrs[mark:]
            self.facts = saved
            return 0

    def keep_call(self, instr):
        """A generic call, waiting at itself in the baseline."""
        self.facts.shapes.clear()
        self.append(with_state(instr, self.waiting(self.where[1])))

    # --- emitting ----------------------------------------------------------------------

    def append(self, instr):
        self.block.instrs.append(instr)

    def emit(self, op, *operands, result=None, hint="s"):
        """Append an instruction; its result (named `result`, or fresh) as a Var, or None."""
        if result is None and _has_result(op):
            result = self.names.fresh(hint)
        self.append(Instr(op, operands, (result,) if result else (), None, self.line))
        return Var(result) if result else None

    def site(self) -> str:
        return f"{self.where[0]}:{self.where[1]}"

    def reason(self, what: str) -> str:
        """A deopt reason naming the speculation, the site and the function (filed)."""
        reason = f"{what} @{self.site()} in {self.func}"
        self.runtime.guard_sites[reason] = (self.func, self.site())
        return reason

    def guard(self, cond, what: str):
        """Deoptimize to the baseline at the current instruction unless `cond` holds."""
        reason = self.reason(what)
        if reason in self.failed_reasons:
            raise FailedBefore(reason)
        self.emit("GUARD", cond, None, None, reason, self.state(self.resume))

    def state(self, index: int) -> FrameState:
        """Resume before instruction `index` of the current block in the baseline."""
        key = (self.where[0], index, None)
        if key not in self.states:
            live = self.live_before(self.where[0], index)
            self.states[key] = FrameState(self.func, self.baseline.name, self.where[0], index,
                                          tuple((n, self.holder(n)) for n in sorted(live)))
        return self.states[key]

    def holder(self, name: str) -> Var:
        """The variable of the source holding baseline variable `name` in the current
        block (itself, except where an OSR clone's header parameter replaces it)."""
        return Var(self.held.get(self.where[0], {}).get(name, name))

    def live_before(self, label: str, index: int) -> set:
        """The baseline's variables live before instruction `index` of block `label`; with
        --debuggable also every source variable in scope there (the essay's "just in
        case the user stops the running code"): its frame states keep them all."""
        live = self.baseline_code.live_before(label)[index]
        if not self.debuggable:
            return live
        return live | self.runtime.debug_names(self.baseline, label, index)

    def waiting(self, index: int, given=()) -> FrameState:
        """Wait at the baseline's call at `index` of the current block (its result pending).

        `given` supplies values for variables this version no longer computes."""
        key = (self.where[0], index, given)
        if key not in self.states:
            there = self.baseline.block(self.where[0]).instrs[index]
            live = self.live_before(self.where[0], index + 1) - set(there.results)
            given_map = dict(given)
            self.states[key] = FrameState(
                self.func, self.baseline.name, self.where[0], index,
                tuple((n, given_map.get(n, self.holder(n))) for n in sorted(live)))
        return self.states[key]

    # --- profiles and heap facts -------------------------------------------------------

    def profile_of(self, profiled, operand):
        """The one class `operand` had at its PROFILE site, or None."""
        if is_number_literal(operand):
            return "num"
        counts = self.profiles.get(profiled.get(operand))
        if not counts:
            return None
        total = sum(counts.values())
        key, n = max(counts.items(), key=lambda kv: kv[1])
        return key if total >= MIN_SAMPLES and n >= MONOMORPHIC * total else None

    def shapes_of(self, profiled, obj) -> list:
        """Candidate shape sets for `obj`, best first: every shape its site saw (at most
        MAX_SHAPES, nothing but instances), then the one it had MONOMORPHIC of the time."""
        counts = self.profiles.get(profiled.get(obj)) or {}
        candidates = []
        if 1 < len(counts) <= MAX_SHAPES and all(isinstance(k, tuple) and k[0] == "shape"
                                                  for k in counts):
            candidates.append(sorted(k[1] for k in counts))
        key = self.profile_of(profiled, obj)
        if isinstance(key, tuple) and key[0] == "shape":
            candidates.append([key[1]])
        out = []
        for ids in candidates:
            try:
                out.append([self.heap.shapes[i] for i in ids])
            except KeyError:
                continue        # a shape of a class that died since
        return out

    def identity(self, profiled, operand, kind: ObjKind):
        """The one closure or class (by `kind`) `operand` was, if it is still that object."""
        key = self.profile_of(profiled, operand)
        if not (isinstance(key, tuple) and key[0] == kind.name.lower()):
            return None
        word, rt = key[1], self.runtime
        if word not in rt.recent_identities and word not in rt.embedded and \
                word not in self.globals_now():
            return None
        try:
            return word if self.heap.kind_of(word) is kind else None
        except HeapError:
            return None

    def globals_now(self) -> set:
        if self._globals_now is None:
            vm = self.runtime.vm
            self._globals_now = {vm.read_global(g) for g in self.runtime.program.globals.values()}
        return self._globals_now

    def name_word(self, operand) -> int:
        """The interned string a `@lox.str.K` operand holds."""
        return self.runtime.vm.read_global(operand.name)

    def code_of(self, closure, argc: int):
        """The IR function of a closure called with `argc` arguments, or None (arity)."""
        heap = self.heap
        fn = heap.closure_function(closure)
        if heap.function_arity(fn) != argc:
            return None
        return self.runtime.code_functions[heap.function_code_id(fn)]

    def method_code(self, cls, name: int, argc: int):
        """(closure, IR function) of a class's method for an `argc`-argument call, or None."""
        method = self.heap.class_find_method(cls, name)
        if method is None or self.heap.kind_of(method) is not ObjKind.CLOSURE:
            return None
        code = self.code_of(method, argc)
        return None if code is None else (method, code)

    # --- numbers -----------------------------------------------------------------------

    def number_op(self, instrs, i, profiled) -> int:
        instr = instrs[i]
        callee, args = instr.arg("callee"), instr.arg("args")
        if any(a not in self.facts.numbers and self.profile_of(profiled, a) != "num"
               for a in args):
            return 0
        xs = self.doubles(args)
        if callee == "lox.neg":
            r = self.emit("FNEG", DOUBLE, xs[0], hint="fp")
        elif callee in ARITHMETIC:
            r = self.emit(ARITHMETIC[callee], DOUBLE, *xs, hint="fp")
        else:
            op, negated = COMPARISON[callee]
            c = self.emit(op, DOUBLE, *xs, hint="cmp")
            if negated:
                self.boolean(c, instr.results[0], FALSE, TRUE)
            else:
                self.boolean(c, instr.results[0])
            return 1
        self.facts.numbers[self.emit("TR64_FROM_FP", r, result=instr.results[0])] = r
        return 1

    def boolean(self, cond, result: str, yes=TRUE, no=FALSE):
        """Box an i1 as Lox true/false (`yes` when it holds) under the name `result`."""
        value = self.emit("SELECT", TAGREF64, cond, yes, no, result=result)
        if yes is TRUE:
            self.facts.bools[value] = cond
        else:
            self.facts.bools[value] = self.emit("XOR", I1, cond, Imm(1), hint="not")

    def doubles(self, operands) -> list:
        """Guard that each operand is a number; their doubles."""
        out, known = [], self.facts.numbers
        for a in operands:
            if is_number_literal(a):
                out.append(a)
                continue
            if a not in known:
                self.guard(self.emit("TR64_IS_FP", a, hint="isnum"), "not a number")
                known[a] = self.emit("TR64_TO_FP", a, hint="fp")
            out.append(known[a])
        return out

    # --- exact rewrites ----------------------------------------------------------------

    def truthy_bits(self, v, result=None):
        known = self.facts.bools.get(v)
        if known is not None:
            if result is not None:
                self.subst[result] = known
            return known
        not_nil = self.emit("NE", TAGREF64, v, NIL, hint="t")
        not_false = self.emit("NE", TAGREF64, v, FALSE, hint="t")
        return self.emit("AND", I1, not_nil, not_false, result=result, hint="truthy")

    def truthy(self, instrs, i, profiled) -> int:
        instr = instrs[i]
        self.truthy_bits(instr.arg("args")[0], result=instr.results[0])
        return 1

    def not_(self, instrs, i, profiled) -> int:
        instr = instrs[i]
        t = self.truthy_bits(instr.arg("args")[0])
        self.boolean(t, instr.results[0], FALSE, TRUE)
        return 1

    def equality(self, instrs, i, profiled) -> int:
        """Numbers compare as doubles (NaN != NaN, 0 == -0), everything else by bits."""
        instr = instrs[i]
        a, b = instr.arg("args")
        yes, no = (TRUE, FALSE) if instr.arg("callee") == "lox.equal" else (FALSE, TRUE)
        known = self.facts.numbers
        if all(v in known or is_number_literal(v) for v in (a, b)):
            x, y = (known.get(v, v) for v in (a, b))
            self.boolean(self.emit("FOEQ", DOUBLE, x, y, hint="feq"), instr.results[0], yes, no)
            return 1
        both = self.emit("AND", I1, self.emit("TR64_IS_FP", a, hint="isnum"),
                         self.emit("TR64_IS_FP", b, hint="isnum"), hint="nums")
        feq = self.emit("FOEQ", DOUBLE, self.emit("TR64_TO_FP", a, hint="fp"),
                        self.emit("TR64_TO_FP", b, hint="fp"), hint="feq")
        beq = self.emit("EQ", TAGREF64, a, b, hint="beq")
        same = self.emit("SELECT", I1, both, feq, beq, hint="eq")
        self.boolean(same, instr.results[0], yes, no)
        return 1

    def box_get(self, instrs, i, profiled) -> int:
        instr = instrs[i]
        box = self.emit("TR64_TO_REF", instr.arg("args")[0], hint="box")
        self.emit("LOAD", TAGREF64, box, BOX_VALUE, result=instr.results[0])
        return 1

    def box_set(self, instrs, i, profiled) -> int:
        b, v = instrs[i].arg("args")
        box = self.emit("TR64_TO_REF", b, hint="box")
        self.emit("STORE", TAGREF64, box, BOX_VALUE, v)
        return 1

    def upvalue(self, instrs, i, profiled) -> int:
        instr = instrs[i]
        closure, k = instr.arg("args")
        if not isinstance(k, Imm):
            return 0
        c = self.emit("TR64_TO_REF", closure, hint="closure")
        self.emit("LOAD", TAGREF64, c, CLOSURE_UPVALUES + 8 * k.value, result=instr.results[0])
        return 1

    def get_global(self, instrs, i, profiled) -> int:
        instr = instrs[i]
        cell = instr.arg("args")[0]
        value = self.emit("LOAD", TAGREF64, cell, 0, result=instr.results[0])
        if not self.defined_now(cell):
            self.guard(self.emit("NE", TAGREF64, value, UNDEFINED, hint="defined"),
                       "undefined variable")
        return 1

    def set_global(self, instrs, i, profiled) -> int:
        cell, _, value = instrs[i].arg("args")
        if not self.store_unwatched(cell):
            return 0
        if not self.defined_now(cell):
            old = self.emit("LOAD", TAGREF64, cell, 0, hint="old")
            self.guard(self.emit("NE", TAGREF64, old, UNDEFINED, hint="defined"),
                       "undefined variable")
        self.emit("STORE", TAGREF64, cell, 0, value)
        return 1

    def define_global(self, instrs, i, profiled) -> int:
        cell, value = instrs[i].arg("args")
        if not self.store_unwatched(cell):
            return 0
        self.emit("STORE", TAGREF64, cell, 0, value)
        return 1

    def store_unwatched(self, cell) -> bool:
        """Before a plain STORE to a global: False when code assumes the global keeps its
        value (it is watched, lox/assumptions.py) — the helper, which breaks that
        assumption, stays.  Otherwise the STORE relies on the global staying unwatched
        (an assumption that watching it breaks), unless it can never be watched again."""
        if not (isinstance(cell, Sym) and cell.name.startswith(GLOBAL_PREFIX)):
            return True
        key = self.runtime.assumptions.unwatched_store(cell.name)
        if key is False:
            return False
        if key is not None:
            self.assumed.add(key)
        return True

    def constant_callee(self, callee):
        """The function or class a call's callee is, when it was read from a global that
        compiled code may assume keeps it (the assumption is then made), else None."""
        if not (self.guarded and isinstance(callee, Var)):
            return None
        definer = self.definer(callee.name)
        if definer is None or definer.op != "CCALL" or \
                definer.arg("callee") != "lox.get_global":
            return None
        cell = definer.arg("args")[0]
        found = self.runtime.assumptions.constant_global(cell.name) \
            if isinstance(cell, Sym) else None
        if found is None:
            return None
        key, word = found
        self.assumed.add(key)
        return word

    def definer(self, name: str):
        """The source instruction defining SSA name `name`, or None (a block parameter)."""
        if self._definers is None:
            self._definers = {r: instr for b in self.source.blocks for instr in b.instrs
                              for r in instr.results}
        return self._definers.get(name)

    def defined_now(self, cell) -> bool:
        """Whether the global whose cell this is has been defined: Lox never undefines a
        global, so reading or assigning it needs no check (and no guard) from now on."""
        return isinstance(cell, Sym) and cell.name in self.module.globals and \
            self.runtime.vm.read_global(cell.name) != UNDEFINED.value

    # --- properties --------------------------------------------------------------------

    def guard_shapes(self, obj, shapes, fields: bool = True):
        """Guard that `obj` is an instance of one of `shapes` (unless that is known); with
        `fields`, the reference of its VALUES object when every one of them has a field,
        else None (loaded once, when first asked for: a method call needs none)."""
        ids = frozenset(shape.id for shape in shapes)
        known = self.facts.shapes.get(obj)
        if known is None or not known[0] <= ids:
            for shape in shapes:       # the class keeps the shape id's meaning
                self.runtime.embed(tagref.from_ref(shape.class_addr))
            what = "not shape " + ",".join(str(i) for i in sorted(ids))
            self.guard(self.emit("TR64_IS_REF", obj, hint="isref"), what)
            ref = self.emit("TR64_TO_REF", obj, hint="obj")
            header = self.emit("LOAD", I64, ref, HEADER_OFFSET, hint="header")
            shape_id = self.emit("LSHR", I64, header, Imm(HEADER_SHAPE_SHIFT), hint="shape")
            ok = None
            for i in sorted(ids):
                test = self.emit("EQ", I64, shape_id, Imm(i), hint="isshape")
                ok = test if ok is None else self.emit("OR", I1, ok, test, hint="isshape")
            self.guard(ok, what)
            known = self.facts.shapes[obj] = (ids, None)
        if not fields or known[1] is not None:
            return known[1]
        if not all(shape.field_count for shape in shapes):
            return None
        values = self.emit("LOAD", TAGREF64, self.emit("TR64_TO_REF", obj, hint="obj"),
                           INSTANCE_FIELDS, hint="fields")
        ref = self.emit("TR64_TO_REF", values, hint="fields")
        self.facts.shapes[obj] = (known[0], ref)
        return ref

    def many_classes_have(self, name: int) -> bool:
        """Whether instances of more than MAX_SHAPES shapes may have a member `name`: a
        field in that many final shapes (shapes no field was added to since: instances
        built field by field pass through the others), counted over every class, or a
        method in that many classes.  A site using it may see them all, and the shapes its
        profile saw so far promise little: such a site is left to an inline cache, which
        learns each new shape in place (no deopt, no recompilation), rather than guarded
        with the shapes seen — the class population read at compile time, as HotSpot's
        class hierarchy analysis reads the loaded classes.  Programs whose classes share
        no member name that widely keep their shape guards (and the inlining they allow)."""
        found = self._many_classes.get(name)
        if found is None:
            count = 0
            for cls, root in list(self.heap.shapes.roots.items()):
                count += self.shapes_having(cls, root, name)
                if count > MAX_SHAPES:
                    break
            found = self._many_classes[name] = count > MAX_SHAPES
        return found

    def shapes_having(self, cls: int, root, name: int) -> int:
        """How many shapes of a class have member `name` (at most MAX_SHAPES + 1): its
        final shapes with field `name`, or else 1 if the class has method `name`."""
        count = 0
        if name in root.tree_names:
            by_id = self.heap.shapes.by_id
            for shape_id in list(root.tree_ids):
                shape = by_id[shape_id] if shape_id < len(by_id) else None
                if shape is not None and not shape.transitions and name in shape.slot_of:
                    count += 1
                    if count > MAX_SHAPES:
                        break
        if not count and self.heap.class_find_method(tagref.from_ref(cls), name) is not None:
            count = 1
        return count

    def field_slot(self, profiled, obj, name_cell):
        """(shapes, slot) when `obj` had shapes that all keep field `name` in one slot
        (and few classes have a member `name`)."""
        name = self.name_word(name_cell)
        if self.method_caches and self.many_classes_have(name):
            return None
        for shapes in self.shapes_of(profiled, obj):
            slots = {shape.slot_of.get(name) for shape in shapes}
            if len(slots) == 1 and None not in slots:
                return shapes, slots.pop()
        return None

    def get_property(self, instrs, i, profiled) -> int:
        instr = instrs[i]
        obj, name_cell = instr.arg("args")
        found = self.field_slot(profiled, obj, name_cell)
        if found is None:
            return self.method_call(instrs, i, profiled, obj, self.name_word(name_cell))
        fields = self.guard_shapes(obj, found[0])
        self.emit("LOAD", TAGREF64, fields, VALUES_SLOTS + 8 * found[1],
                  result=instr.results[0])
        return 1

    def set_property(self, instrs, i, profiled) -> int:
        obj, name_cell, value = instrs[i].arg("args")
        found = self.field_slot(profiled, obj, name_cell)
        if found is None:
            return self.add_field(profiled, obj, name_cell, value)
        fields = self.guard_shapes(obj, found[0])
        self.emit("STORE", TAGREF64, fields, VALUES_SLOTS + 8 * found[1], value)
        return 1

    def add_field(self, profiled, obj, name_cell, value) -> int:
        """Adding a field along a transition the site has taken: when the instance's field
        storage has room (new instances get room for the most fields their class has had),
        store the slot and move the header to the child shape, as the heap's helper does."""
        name = self.name_word(name_cell)
        for shapes in self.shapes_of(profiled, obj):
            if len(shapes) == 1 and name in shapes[0].transitions:
                shape = shapes[0]
                break
        else:
            return 0          # a new edge, or several shapes: the helper adds it
        child, slot = shape.transitions[name], shape.field_count
        self.guard_shapes(obj, [shape])
        ref = self.emit("TR64_TO_REF", obj, hint="obj")
        values = self.emit("LOAD", TAGREF64, ref, INSTANCE_FIELDS, hint="fields")
        self.guard(self.emit("NE", TAGREF64, values, NIL, hint="hasfields"),
                   "no field storage")
        fields = self.emit("TR64_TO_REF", values, hint="fields")
        vheader = self.emit("LOAD", I64, fields, HEADER_OFFSET, hint="vheader")
        size = self.emit("AND", I64, self.emit("LSHR", I64, vheader, Imm(HEADER_SIZE_SHIFT),
                                               hint="size"), Imm(HEADER_SIZE_MASK), hint="size")
        room = self.emit("ULT", I64, Imm(slot + VALUES_SLOTS // 8), size, hint="room")
        self.guard(room, "no room for a field")
        self.emit("STORE", TAGREF64, fields, VALUES_SLOTS + 8 * slot, value)
        header = self.emit("LOAD", I64, ref, HEADER_OFFSET, hint="header")
        low = self.emit("AND", I64, header, Imm(HEADER_LOW_MASK), hint="header")
        self.emit("STORE", I64, ref, HEADER_OFFSET,
                  self.emit("OR", I64, low, Imm(child.id << HEADER_SHAPE_SHIFT), hint="header"))
        self.facts.shapes[obj] = (frozenset({child.id}), fields)
        return 1

    def method_call(self, instrs, i, profiled, obj, name) -> int:
        """`obj.m(args)` on shapes without a field m whose classes share method m: call m
        directly with `this = obj`."""
        seq = self.call_sequence(instrs, i)
        if seq is None or self.method_caches and self.many_classes_have(name):
            return 0
        call = instrs[seq[-1]]
        args = call.arg("args")[2:]
        if self.class_method_call(profiled, obj, name, call, seq[-1], args):
            return seq[-1] - i + 1
        for shapes in self.shapes_of(profiled, obj):
            if any(name in shape.slot_of for shape in shapes):
                continue
            found = [self.method_code(tagref.from_ref(shape.class_addr), name, len(args))
                     for shape in shapes]
            if found[0] is not None and all(f == found[0] for f in found):
                method, code = found[0]
                self.guard_shapes(obj, shapes, fields=False)
                self.emit_direct_call(call, seq[-1], code, method, obj, args)
                return seq[-1] - i + 1
        if self.builtin_method_call(profiled, obj, name, call, seq[-1], args):
            return seq[-1] - i + 1
        return 0

    def class_method_call(self, profiled, obj, name, call, index, args) -> bool:
        """`obj.m(args)` on instances of one class K in several shapes, none of which
        has ever had a field m: check the class (whatever shape the instance has, so a
        new shape of K does not deoptimize) and assume no field shadows K's method m;
        call it directly.  A receiver seen in one shape keeps its shape guard: an
        inlined method's own shape guards on `this` are then redundant and removed
        (a class check instead measured 0.84x on method_call)."""
        if not self.guarded:
            return False
        for shapes in self.shapes_of(profiled, obj):
            classes = {shape.class_addr for shape in shapes}
            if len(shapes) < 2 or len(classes) != 1:
                continue
            cls = tagref.from_ref(classes.pop())
            found = self.method_code(cls, name, len(args))
            key = self.runtime.assumptions.unshadowed_method(cls, name)
            if found is None or key is None:
                continue
            self.assumed.add(key)
            self.runtime.embed(cls)
            what = "not an instance of the class"
            self.guard(self.emit("TR64_IS_REF", obj, hint="isref"), what)
            ref = self.emit("TR64_TO_REF", obj, hint="obj")
            header = self.emit("LOAD", I64, ref, HEADER_OFFSET, hint="header")
            kind = self.emit("AND", I64, header, Imm(HEADER_KIND_MASK), hint="kind")
            self.guard(self.emit("EQ", I64, kind, Imm(ObjKind.INSTANCE.value), hint="isinst"),
                       what)
            klass = self.emit("LOAD", TAGREF64, ref, INSTANCE_KLASS, hint="class")
            self.guard(self.emit("EQ", TAGREF64, klass, Imm(cls), hint="isclass"), what)
            method, code = found
            self.emit_direct_call(call, index, code, method, obj, args)
            return True
        return False

    def builtin_method_call(self, profiled, obj, name, call, index, args) -> bool:
        """`lock.acquire()`, `array.get(i)`: on a receiver always of one built-in kind,
        call the native's IR function directly (inlinable: a Lock's biased fast path then
        runs in the caller's code), no bound method made."""
        kinds = self.runtime.builtin_methods
        key = self.profile_of(profiled, obj)
        kind = next((k for k in kinds if k.name.lower() == key), None)
        native = kinds[kind].get(self.heap.string_text(name)) if kind is not None else None
        code = None if native is None else self.runtime.native_code(native, len(args))
        if code is None:
            return False
        what = f"not {kind.name.lower()}"
        self.guard(self.emit("TR64_IS_REF", obj, hint="isref"), what)
        header = self.emit("LOAD", I64, self.emit("TR64_TO_REF", obj, hint="obj"),
                           HEADER_OFFSET, hint="header")
        kind_id = self.emit("AND", I64, header, Imm(HEADER_KIND_MASK), hint="kind")
        self.guard(self.emit("EQ", I64, kind_id, Imm(kind.value), hint="iskind"), what)
        self.emit_direct_call(call, index, code, native, obj, args)
        return True

    def super_call(self, instrs, i, profiled) -> int:
        """`super.m(args)` with one superclass: call its method m directly."""
        this, superclass, name_cell = instrs[i].arg("args")
        cls = self.identity(profiled, superclass, ObjKind.CLASS)
        seq = self.call_sequence(instrs, i) if cls is not None else None
        if seq is None:
            return 0
        call = instrs[seq[-1]]
        args = call.arg("args")[2:]
        found = self.method_code(cls, self.name_word(name_cell), len(args))
        if found is None:
            return 0
        method, code = found
        self.runtime.embed(cls)
        self.guard(self.emit("EQ", TAGREF64, superclass, Imm(cls), hint="issuper"),
                   "not the superclass")
        self.emit_direct_call(call, seq[-1], code, method, this, args)
        return seq[-1] - i + 1

    def call_sequence(self, instrs, i):
        """Indexes of (callee_code, callee_closure, callee_this, CALL) using only the bound
        method instrs[i] makes, when nothing else (a frame state included) needs it."""
        bound = instrs[i].results[0]
        j = i + 1
        if j < len(instrs) and instrs[j].op == "PROFILE" and instrs[j].arg("value") == Var(bound):
            j += 1
        seq = self.sequence_at(instrs, j, Var(bound))
        if seq is None or self.uses[bound] != 3 + (j - i - 1):
            return None
        return seq

    def sequence_at(self, instrs, j, callee):
        """The call sequence codegen emits for `callee` starting at instrs[j], or None."""
        if j + 3 >= len(instrs):
            return None
        code, closure, this, call = instrs[j:j + 4]
        helpers = ("lox.callee_closure", "lox.callee_this")
        if code.op != "CCALL" or not code.arg("callee").startswith("lox.callee_code."):
            return None
        if any(h.op != "CCALL" or h.arg("callee") != name
               for h, name in zip((closure, this), helpers)):
            return None
        if any(h.arg("args") != (callee,) for h in (code, closure, this)):
            return None
        if call.op != "CALL" or call.arg("callee") != Var(code.results[0]) or \
                call.arg("args")[:2] != (Var(closure.results[0]), Var(this.results[0])):
            return None
        return (j, j + 1, j + 2, j + 3)

    def method_cache_at(self, instrs, i):
        """The call sequence of a method call `obj.m(args)` at instrs[i] (a get_method
        whose bound method only the call uses) that native code can make an inline cache
        of, or None.  The get_method's PROFILE must precede it: the cache's lookup waits
        there (see method_cache)."""
        instr = instrs[i]
        if not (self.active and self.method_caches and instr.op == "CCALL" and
                instr.arg("callee") == "lox.get_method" and i > 0 and
                instrs[i - 1].op == "PROFILE"):
            return None
        seq = self.call_sequence(instrs, i)
        if seq is None:
            return None
        argc = len(instrs[seq[-1]].arg("args")) - 2
        return seq if f"lox.invoke.{argc}" in self.module.externs else None

    def method_cache(self, instrs, i) -> int:
        """A method call with no speculation (no profile yet, several classes, or a site
        whose guards kept failing) as one inline-cached lookup (`lox.invoke.A`, kind
        `invoke`): the closure, code and `this` loaded from the call record it returns,
        then the CALL.  One lookup gives all three (inline_caches.py says why that
        matters with threads); the lookup waits at the PROFILE before get_method, so a
        deopt after it runs the lookup again in the interpreter (the baseline has no
        record to resume with).  The version becomes native-only: the interpreter
        cannot load a funcref."""
        seq = self.method_cache_at(instrs, i)
        if seq is None:
            return 0
        code_i, closure_i, this_i, call = (instrs[k] for k in seq)
        obj, name_cell = instrs[i].arg("args")
        argc = len(call.arg("args")) - 2
        self.facts.shapes.clear()
        record = self.names.fresh("rec")
        self.append(Instr("CCALL", (f"lox.invoke.{argc}", (obj, name_cell), (),
                                    self.waiting(i - 1)), (record,), None, instrs[i].line))
        record = Var(record)
        self.emit("LOAD", TAGREF64, record, RECORD_CLOSURE, result=closure_i.results[0])
        self.emit("LOAD", self.module.types[f"lox.fnref{argc}"], record, RECORD_CODE,
                  result=code_i.results[0])
        this = self.emit("LOAD", TAGREF64, record, RECORD_THIS, hint="this")
        receiver = self.emit("EQ", TAGREF64, this, Imm(RECORD_RECEIVER), hint="isrecv")
        self.emit("SELECT", TAGREF64, receiver, obj, this, result=this_i.results[0])
        self.append(with_state(call, self.waiting(seq[-1])))
        self.native_only = True
        return seq[-1] - i + 1

    def emit_direct_call(self, call, index, code, closure, this, args):
        """CALL the closure's own function with `this`, waiting at the baseline's CALL."""
        self.facts.shapes.clear()
        self.runtime.embed(closure)
        self.append(Instr("CALL", (call.arg("sig"), Sym(code.name),
                                   (Imm(closure), this, *args), (),
                                   self.waiting(index)), call.results, call.name, call.line))

    # --- calls -------------------------------------------------------------------------

    def direct_call(self, instrs, i, profiled) -> int:
        """A call whose callee was always one closure, or always one class."""
        callee = instrs[i].arg("args")[0]
        seq = self.sequence_at(instrs, i, callee)
        if seq is None:
            return 0
        call = instrs[seq[-1]]
        args = call.arg("args")[2:]
        constant = self.constant_callee(callee)
        closure = self.identity(profiled, callee, ObjKind.CLOSURE) if constant is None \
            else constant if self.heap.kind_of(constant) is ObjKind.CLOSURE else None
        if closure is not None:
            code = self.code_of(closure, len(args))
            if code is None:
                return 0
            if closure != constant:
                self.guard(self.emit("EQ", TAGREF64, callee, Imm(closure), hint="iscallee"),
                           "not the closure")
            self.emit_direct_call(call, seq[-1], code, closure, NIL, args)
            return 4
        cls = self.identity(profiled, callee, ObjKind.CLASS) if constant is None \
            else constant if self.heap.kind_of(constant) is ObjKind.CLASS else None
        if cls is not None and "lox.instantiate" in self.module.externs:
            return self.construct(instrs, seq, callee, cls, args, checked=cls == constant)
        return 0

    def construct(self, instrs, seq, callee, cls, args, checked: bool = False) -> int:
        """`K(args)`: a new instance, then K's init (if any) called directly (`checked`:
        the callee is K by an assumption, no guard)."""
        heap, rt = self.heap, self.runtime
        init = heap.class_find_method(cls, rt.init_name)
        if init is None:
            if args:
                return 0
            code_fn, init_word = self.module.functions[RETURN_THIS], NIL
        else:
            if heap.kind_of(init) is not ObjKind.CLOSURE:
                return 0
            code_fn = self.code_of(init, len(args))
            if code_fn is None:
                return 0
            init_word = Imm(init)
            rt.embed(init)
        rt.embed(cls)
        code_i, closure_i, this_i, call_i = (instrs[k] for k in seq)
        if not checked:
            self.guard(self.emit("EQ", TAGREF64, callee, Imm(cls), hint="iscallee"),
                       "not the class")
        # Deoptimizing in the allocation resumes the baseline waiting in callee_this, with
        # the code and closure callee_code/callee_closure would have given.
        given = ((code_i.results[0], Sym(code_fn.name)), (closure_i.results[0], init_word))
        instance = this_i.results[0]
        self.facts.shapes.clear()
        state = self.waiting(seq[2], given)
        allocator = instance_allocator(rt, cls)
        if allocator is None:
            self.append(Instr("CCALL", ("lox.instantiate", (Imm(cls),), (), state),
                              (instance,), None, this_i.line))
        else:
            function = self.module.functions[allocator]
            self.append(Instr("CALL", (function.sig, Sym(allocator), (), (), state),
                              (instance,), None, this_i.line))
        if init is None:
            self.subst[call_i.results[0]] = Var(instance)
        else:
            self.emit_direct_call(call_i, seq[3], code_fn, init, Var(instance), args)
        return 4


class Facts:
    """What the code emitted so far proves about values at the current point.

    Numbers (value -> its double) and booleans (Lox true/false value -> the i1 that is true
    when it is true) are facts about SSA values, which never change: they hold wherever the
    guard or definition dominates, so a block inherits them from its immediate dominator.
    Shapes (value -> (shape id, its VALUES reference or None)) hold until anything that may
    add a field runs (a helper or a call), and only within the block.
    """

    def __init__(self, numbers=None, bools=None):
        self.numbers = dict(numbers or {})
        self.bools = dict(bools or {})
        self.shapes = {}

    def inherited(self) -> "Facts":
        return Facts(self.numbers, self.bools)

    def copy(self) -> "Facts":
        facts = Facts(self.numbers, self.bools)
        facts.shapes = dict(self.shapes)
        return facts


class FailedBefore(Exception):
    """A speculation would emit a guard whose reason already failed."""


HANDLERS = {
    **{h: Speculator.number_op for h in (*ARITHMETIC, *COMPARISON, "lox.neg")},
    "lox.truthy": Speculator.truthy, "lox.not": Speculator.not_,
    "lox.equal": Speculator.equality, "lox.not_equal": Speculator.equality,
    "lox.box_get": Speculator.box_get, "lox.box_set": Speculator.box_set,
    "lox.upvalue": Speculator.upvalue,
    "lox.get_global": Speculator.get_global, "lox.set_global": Speculator.set_global,
    "lox.get_property": Speculator.get_property, "lox.get_method": Speculator.get_property,
    "lox.set_property": Speculator.set_property,
    "lox.get_super": Speculator.super_call,
}


UNGUARDED = {Speculator.truthy, Speculator.not_, Speculator.equality, Speculator.box_get,
             Speculator.box_set, Speculator.upvalue}


def reaching(version, targets) -> set:
    """Labels of the blocks from which one of `targets` can be reached."""
    preds = {}
    for block in version.blocks:
        for label in successors(block):
            preds.setdefault(label, []).append(block.label)
    seen, stack = set(targets), list(targets)
    while stack:
        for p in preds.get(stack.pop(), ()):
            if p not in seen:
                seen.add(p)
                stack.append(p)
    return seen


def with_state(instr, state):
    """`instr` (a CALL or CCALL) with its optional frame state set."""
    position = instr.opdef.position("state")
    return replace(instr, operands=instr.operands[:position] + (state,)
                   + instr.operands[position + 1:])


def is_number_literal(operand) -> bool:
    return isinstance(operand, Imm) and isinstance(operand.value, float)


def _has_result(op: str) -> bool:
    return op not in ("GUARD", "STORE", "DEOPT")


def _name_type(module, name: str, ty) -> None:
    """Give `ty` a name in the module (the text form and the verifier need one)."""
    if not any(t == ty for t in module.types.values()):
        module.types[name] = ty
