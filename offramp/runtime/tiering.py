"""Tiering policy: when a function or a loop leaves the interpreter for native code.

`--tier=jit` counts calls of each function and iterations of each loop header in the
interpreter and compiles when a count reaches its threshold (Config.call_threshold,
Config.loop_threshold) — a callee that gets hot in an interpreted loop has that loop
compiled first (`compile_caller_first`), and a loop whose body has made call_threshold
calls is hot too (`count_loop_call`); `--tier=eager` compiles every function at its first call and
enters native code at a loop's first iteration.  What is compiled is decided by the
client's optimizer (`VM.set_optimizer`): by default the function's current version as is.

A hot loop is entered by OSR: an entry clone of the function taking the loop header's live
values (opt/osr.py) is compiled and called with the interpreter frame's values; its result
is the interpreter frame's result.  Interpreter->native entries nest at most
Config.max_native_reentry deep, so deep recursion that keeps crossing tiers stays in the
interpreter instead of exhausting the C stack.

A unit that fails to compile (native/stages.py: any stage raising) is retried once with
less — its version as it was before the optimizer, without speculation or inlining — and
otherwise stays in the interpreter for the rest of the run; each failure is traced under
`tier` and counted in `--stats`.  The program's behaviour never depends on it.  A unit of
more than Config.max_native_instructions instructions is such a failure (stage `size`):
LLVM would take minutes and gigabytes to compile it.

After a deopt, the loops of the rebuilt interpreter frames count again and re-enter native
code by OSR (`rearm_loops`; `--trace=osr` says `re-enter`), and so does the next activation
of a loop whose OSR entry returned.  A re-entry takes the same clone while it is valid, or
a new one once guard failures have invalidated it (`on_deopt`: after
Config.recompile_after of them; the optimizer leaves the failed speculations out, and
after Config.max_recompiles recompilations speculates no more).  A loop re-arms after
Config.loop_threshold iterations when a speculation failed (bounded by those
recompilations) or its code was invalidated (a lazy deopt: the next entry compiles a new
clone), and after twice as many each time it left valid code for a reason recompiling
cannot cure — `deoptHere()`, deopt-stress — so a loop that deoptimizes at every iteration
is entered O(log n) times (until it runs to its end in native code).  No loop gets more than
Config.max_recompiles + 1 entry clones: then it stays interpreted.  A deopt of an OSR
clone called by the interpreter hands its frames back to that interpreter loop
(`NativeEngine.take_rebuilt`) instead of running them nested, so going back and forth
between tiers does not grow the stack.
"""
from ..ir.verify import verify_version
from ..native.engine import NativeEngine
from ..native.stages import CompileError, compile_stage

SPECULATION_KINDS = ("guard", "deopt")   # deopts that count towards recompilation


class TierPolicy:
    """Counts, compiles and enters native code for one VM."""

    def __init__(self, vm):
        self.vm = vm
        config = vm.config
        self.engine = NativeEngine(vm)
        self.eager = eager = config.tier == "eager"
        self.call_threshold = 1 if eager else config.call_threshold
        vm.interp.loop_threshold = 1 if eager else config.loop_threshold
        self.max_reentry = config.max_native_reentry
        self.calls = {}
        self.deferred = set()     # (callee, id(caller's code), loop headers) compiled with
                                  # the caller's loop first
        self.loop_calls = {}      # (id(caller's code), loop headers) -> calls made there
        self.native = {}          # function name -> NativeCode entered by calls
        self.osr_codes = {}       # (function, version, header) -> (NativeCode, live names)
        self.osr_compiles = {}    # (function, version, header) -> entry clones compiled
        self.loop_leaves = {}     # (function, version, loop headers) -> deopts into that
                                  # loop that no recompilation cures (re-arm backoff)
        self.reentering = set()   # (function, version, header) re-armed after a deopt
        self.osr_entries = 0
        self.osr_reentries = 0
        self.guard_failures = {}  # id(NativeCode) -> guard failures
        self.failed = {}          # function name -> failed guard reasons
        self.compile_failures = {}  # stage -> compilations that failed there
        self.left_interpreted = set()  # units no attempt could compile
        self.recompiles = {}      # function name -> invalidations so far
        self.reoptimized = 0      # codes compiled again once they had a profile
        interp = vm.interp
        interp.call_hook = self.on_call
        interp.loop_hook = self.on_hot_loop
        interp.stack_snapshot = lambda thread: self.engine.guest_stack()
        vm.heap.add_root_provider(self.engine.roots)

    def on_call(self, thread, func, args):
        """Run a call in native code when the function is (or now becomes) compiled."""
        code = self.native.get(func.name)
        if code is None:
            n = self.calls[func.name] = self.calls.get(func.name, 0) + 1
            self.count_loop_call(thread)
            if n < self.call_threshold or not func.versions:
                return None
            if func.name in self.left_interpreted or self.compile_caller_first(thread, func):
                return None
            code = self.compile(func)
            if code is None:
                return None
        return self.enter(code, args, thread)

    def count_loop_call(self, thread) -> None:
        """Calls made from an interpreted loop count towards the loop's hotness: a loop
        whose body has made Config.call_threshold calls (to whatever functions) reports
        hot at its next iteration, as if it had reached the loop threshold — its
        iterations do the work of that many calls.  Once per loop of a version."""
        if self.eager or not thread.frames:
            return
        caller = thread.frames[-1]
        loops = caller.code.loops_at(caller.pc)
        if not loops:
            return
        key = (id(caller.code), loops)
        n = self.loop_calls.get(key, 0) + 1
        self.loop_calls[key] = n
        if n == self.call_threshold:
            self.vm.interp.rearm_hot_loops(caller)

    def compile_caller_first(self, thread, func) -> bool:
        """A function that gets hot called from an interpreted loop is compiled with that
        loop: the loop reports hot at its next iteration (OSR), and its compilation
        speculates and inlines the callee — one compilation instead of two, and no calls
        from the interpreter into native code meanwhile.  Once per (callee, caller's loop):
        if the callee gets hot again from there, it is compiled on its own."""
        if self.eager or not thread.frames:
            return False
        caller = thread.frames[-1]
        loops = caller.code.loops_at(caller.pc)
        key = (func.name, id(caller.code), loops)
        if not loops or key in self.deferred or not self.vm.interp.rearm_hot_loops(caller):
            return False
        self.deferred.add(key)
        self.calls[func.name] = 0
        return True

    def enter(self, code, args, thread, osr=False):
        """Call native code from the interpreter, unless entries are nested too deep."""
        native = self.engine.current          # nesting is counted per thread
        if native.reentry >= self.max_reentry or native.stepping:
            return None
        native.reentry += 1
        try:
            return (True, self.engine.invoke(code, args, thread, replaces_frame=osr))
        finally:
            native.reentry -= 1

    def compile(self, func):
        """Compile what the client's optimizer makes of `func` and install it for calls;
        None if it cannot be compiled (it stays in the interpreter)."""
        code = self.build(func, install=True)
        if code is None or code.invalid:      # an assumption broke while it compiled
            return None
        self.native[func.name] = code
        return code

    def build(self, func, install: bool, resumes_in=lambda version: None):
        """Native code of what the optimizer makes of `func`; if a stage fails, of `func`'s
        version as it was before (no speculation, no inlining); None if that fails too.
        `resumes_in(version)` is what the engine needs for an OSR clone's copy."""
        thread = self.vm.threads.current()
        outer, thread.activity = thread.activity, f"compiling @{func.name}"
        try:
            return self._build(func, install, resumes_in)
        finally:
            thread.activity = outer

    def _build(self, func, install: bool, resumes_in):
        plain, known = func.current, len(func.versions)
        fail = self.vm.config.fail_compile_stage
        try:
            with compile_stage("size", fail):   # before optimizing it at all
                self.engine.check_size(plain)
        except CompileError as error:
            return self.give_up(func, error)
        version = None
        try:
            with compile_stage("optimize", fail):
                version = self.vm.optimize(func)
            return self.compile_version(version, install, resumes_in(version))
        except CompileError as error:
            del func.versions[known:]      # the optimizer's version: never entered
            if version is plain:           # nothing less to try
                return self.give_up(func, error)
            self.note_failure(func, error, "retrying without optimization")
        try:
            return self.compile_version(plain, install, resumes_in(plain))
        except CompileError as error:
            return self.give_up(func, error)

    def compile_version(self, version, install: bool, resumes_in=None):
        """Verify (with --verify-ir) and compile one version; raises CompileError.  Code
        of a version whose assumptions broke meanwhile is never installed."""
        if self.vm.config.verify_ir:
            with compile_stage("verify", self.vm.config.fail_compile_stage):
                verify_version(self.vm.module, version)
        valid = self.vm.assumptions.valid(version)
        code = self.engine.compile(version, install=install and valid, resumes_in=resumes_in)
        if not valid:
            self.engine.invalidate(code)
        return code

    def note_failure(self, func, error: CompileError, outcome: str) -> None:
        """Count a failed compilation by stage and trace it."""
        self.compile_failures[error.stage] = self.compile_failures.get(error.stage, 0) + 1
        self.vm.tracer.emit("tier", f"compiling @{func.name} failed: {error}; {outcome}",
                            event="failed", function=func.name, stage=error.stage,
                            error=str(error), outcome=outcome)

    def give_up(self, func, error: CompileError):
        """`func` cannot be compiled: it runs in the interpreter from now on."""
        self.note_failure(func, error, "left in the interpreter")
        self.left_interpreted.add(func.name)
        return None

    def on_deopt(self, code, kind: str, reason: str) -> None:
        """Count guard failures; code whose guards keep failing is invalidated, and the
        function recompiled at its next call without the failed speculations (at most
        Config.max_recompiles times: then it is compiled without speculation at all)."""
        if kind not in SPECULATION_KINDS:
            return
        base = code.version.func.split(".osr.")[0]
        self.failed[base] = self.failed.get(base, set()) | {reason}
        n = self.guard_failures[id(code)] = self.guard_failures.get(id(code), 0) + 1
        if n != self.vm.config.recompile_after:
            return
        self.recompiles[base] = self.recompiles.get(base, 0) + 1
        self.vm.tracer.emit("tier", f"invalidated @{code.version.func} VERSION "
                                    f"%{code.version.name} after {n} deopts ('{reason}')",
                            event="invalidated", function=code.version.func,
                            version=code.version.name, deopts=n, reason=reason)
        self.retire(code, refund=False)

    def reoptimize(self, code, why: str) -> bool:
        """Invalidate `code`, compiled before it had a profile and now with one, so that its
        function (at its next call) or loop (at its next entry, by a new clone) is compiled
        again: not a failed speculation, so it costs no recompilation budget.  False if
        there is no such valid code."""
        if code is None or code.invalid:
            return False
        self.reoptimized += 1
        self.vm.tracer.emit("tier", f"compiling @{code.version.func} again: {why}",
                            event="recompile", function=code.version.func,
                            version=code.version.name, reason=why)
        self.retire(code, refund=True)
        return True

    def retire(self, code, refund: bool) -> None:
        """Invalidate `code` and forget it: its function's calls and its loop's entries
        compile anew.  With `refund`, the entry clone it was does not count towards the
        loop's Config.max_recompiles + 1."""
        if self.native.get(code.version.func) is code:
            del self.native[code.version.func]
        for key, entry in list(self.osr_codes.items()):
            if entry is not None and entry[0] is code:
                del self.osr_codes[key]
                self.osr_compiles[key] -= refund
        self.engine.invalidate(code)

    def rearm_loops(self, code, kind: str, frames) -> None:
        """Let each loop a deopt of `code` left interpreted (in any of its rebuilt `frames`,
        inlined callees' included) report hot again: after Config.loop_threshold
        iterations, doubled for each earlier deopt into that loop that no new code cures
        since the loop last ran to its end in native code."""
        interp = self.vm.interp
        if not interp.loop_threshold:
            return
        # A failed speculation is cured by recompiling, and invalidated code by a new clone;
        # deoptHere() and deopt-stress leave valid code again and again.
        curable = kind in SPECULATION_KINDS or code.invalid
        for frame in frames:
            loops = frame.code.loops_at(frame.pc)
            if not loops:
                continue
            version = frame.code.version
            key = (version.func, version.name, loops)
            leaves = self.loop_leaves.get(key, 0)
            if not curable:
                self.loop_leaves[key] = leaves + 1
            for header in interp.rearm_hot_loops(frame, interp.loop_threshold << leaves):
                label = frame.code.locations[header][0]
                self.reentering.add((version.func, version.name, label))

    def failed_speculations(self, func_name: str) -> set:
        """Guard reasons that failed in compiled code of this function (or its OSR clones)."""
        return set(self.failed.get(func_name.split(".osr.")[0], ()))

    def may_speculate(self, func_name: str) -> bool:
        """False once the function was recompiled Config.max_recompiles times."""
        base = func_name.split(".osr.")[0]
        return self.recompiles.get(base, 0) < self.vm.config.max_recompiles

    def drop_version(self, version) -> None:
        """Retire every native code compiled from `version` (an assumption it relied on
        broke): its function's calls and its loop's entries compile anew."""
        for code in list(self.engine.codes):
            if code.version is version and not code.invalid:
                self.retire(code, refund=True)

    def invalidate(self, func_name: str) -> None:
        """Invalidate the function's native code: calls go back to the interpreter (until it
        is compiled again) and running frames of it deoptimize lazily."""
        code = self.native.pop(func_name, None)
        if code is not None:
            self.engine.invalidate(code)

    def on_hot_loop(self, thread, frame):
        """OSR: continue a hot interpreted loop in native code, mid-iteration (again, when
        a deopt left it: with the same entry clone while it is valid)."""
        version = frame.code.version
        key = (version.func, version.name, frame.block)
        again = key in self.reentering
        self.reentering.discard(key)
        entry = self.osr_codes.get(key)
        if entry is not None and entry[0] is not None and entry[0].invalid:
            entry = None          # invalidated from outside the policy: a new clone
        fresh = entry is None
        if fresh:
            entry = self.new_osr_entry(key, version, frame.block)
        code, live = entry
        if code is None:
            return None
        if self.engine.current.stepping:     # a debugger steps: stay, and ask again at
            if again:                        # the next iteration
                self.reentering.add(key)
            self.vm.interp.rearm_hot_loops(frame)
            return None
        iteration = frame.code.loop_counts.get(frame.pc, 0)
        if again:
            self.osr_reentries += 1
            self.vm.tracer.emit("osr", f"re-enter @{code.version.func} at iteration "
                                       f"{iteration} ({'new' if fresh else 'same'} clone)",
                                event="re-enter", function=code.version.func,
                                iteration=iteration, fresh=fresh)
        else:
            self.osr_entries += 1
            self.vm.tracer.emit("osr", f"enter @{code.version.func} at iteration {iteration}",
                                event="enter", function=code.version.func,
                                iteration=iteration)
        entered = self.enter(code, [frame.value(n) for n in live], thread, osr=True)
        rebuilt = self.engine.take_rebuilt()
        if rebuilt is not None:
            return (False, rebuilt)     # the clone deoptimized: go on with its frames
        if entered is not None:
            # The loop ran to its end natively: its next activation counts again, with no
            # backoff from the deopts that left it earlier.
            self.vm.interp.rearm_hot_loops(frame, self.vm.interp.loop_threshold)
            self.loop_leaves.pop((version.func, version.name, frame.code.loops_at(frame.pc)),
                                 None)
        return entered

    def new_osr_entry(self, key, version, header: str):
        """Compile the loop's next entry clone and file it under `key`; after
        Config.max_recompiles + 1 of them, file none (no code): the loop stays interpreted."""
        n = self.osr_compiles[key] = self.osr_compiles.get(key, 0) + 1
        if n > self.vm.config.max_recompiles + 1:
            self.vm.tracer.emit("osr", f"@{version.func} %{version.name} loop %{header} "
                                       f"stays interpreted after {n - 1} entry clones",
                                event="stays-interpreted", function=version.func,
                                version=version.name, loop=header, clones=n - 1)
            entry = (None, ())
        else:
            entry = self.compile_osr_entry(version, header)
        self.osr_codes[key] = entry
        return entry

    def compile_osr_entry(self, version, header: str):
        """(native code of an OSR entry clone at `header` or None, its live names)."""
        from ..opt.osr import held_by, osr_entry
        code = self.vm.interp.code_for(version)
        live_in = self.vm.osr_live_in(version, header, code.live_in())
        func, live = osr_entry(self.vm.module, version, header, live_in, code.ctx.types)
        self.vm.tracer.emit("osr", f"entry clone @{func.name} for @{version.func} "
                                   f"%{version.name} loop %{header}", event="entry-clone",
                            clone=func.name, function=version.func, version=version.name,
                            loop=header)

        def resumes_in(compiled):
            """The clone as copied: where it has no frame state of its own, it deoptimizes
            into frames of `version` (an optimizer's version gives its states itself)."""
            if compiled is not func.versions[0]:
                return None
            return version, held_by(compiled, version, live_in)
        code = self.build(func, install=False, resumes_in=resumes_in)
        if code is not None and code.invalid:   # an assumption broke while it compiled
            code = None
        return code, live

    def stats(self) -> dict:
        return {"osr entries": self.osr_entries, "osr re-entries": self.osr_reentries,
                "recompilations": dict(self.recompiles),
                "compiled again with a profile": self.reoptimized,
                "compile failures by stage": dict(self.compile_failures),
                "units left interpreted": len(self.left_interpreted),
                **self.engine.stats()}

