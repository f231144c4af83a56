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
"""
from ..native.engine import NativeEngine


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
        self.osr_codes = {}       # (function, version, header) -> (NativeCode, live names),
                                  # or None where no entry clone can be built
        self.reentry = 0
        self.osr_entries = 0
        self.guard_failures = {}  # id(NativeCode) -> guard failures
        self.failed = {}          # function name -> failed guard reasons
        self.recompiles = {}      # function name -> invalidations so far
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
            if self.compile_caller_first(thread, func):
                return None
            code = self.compile(func)
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
        if self.reentry >= self.max_reentry:
            return None
        self.reentry += 1
        try:
            return (True, self.engine.invoke(code, args, thread, replaces_frame=osr))
        finally:
            self.reentry -= 1

    def compile(self, func):
        """Compile what the client's optimizer makes of `func` and install it for calls."""
        version = self.vm.optimize(func)
        code = self.engine.compile(version)
        self.native[func.name] = code
        return code

    def on_deopt(self, code, kind: str, reason: str) -> None:
        """Count guard failures; code whose guards keep failing is invalidated, and the
        function recompiled at its next call without the failed speculations (at most
        Config.max_recompiles times: then it is compiled without speculation at all)."""
        if kind not in ("guard", "deopt"):
            return
        base = code.version.func.split(".osr.")[0]
        self.failed[base] = self.failed.get(base, set()) | {reason}
        n = self.guard_failures[id(code)] = self.guard_failures.get(id(code), 0) + 1
        if n != self.vm.config.recompile_after:
            return
        self.recompiles[base] = self.recompiles.get(base, 0) + 1
        self.vm.tracer.emit("tier", f"invalidated @{code.version.func} VERSION "
                                    f"%{code.version.name} after {n} deopts ('{reason}')")
        if self.native.get(code.version.func) is code:
            del self.native[code.version.func]
        self.engine.invalidate(code)
        for key, entry in list(self.osr_codes.items()):
            if entry is not None and entry[0] is code:
                del self.osr_codes[key]

    def failed_speculations(self, func_name: str) -> set:
        """Guard reasons that failed in compiled code of this function (or its OSR clones)."""
        return set(self.failed.get(func_name.split(".osr.")[0], ()))

    def may_speculate(self, func_name: str) -> bool:
        """False once the function was recompiled Config.max_recompiles times."""
        base = func_name.split(".osr.")[0]
        return self.recompiles.get(base, 0) < self.vm.config.max_recompiles

    def invalidate(self, func_name: str) -> None:
        """Invalidate the function's native code: calls go back to the interpreter (until it
        is compiled again) and running frames of it deoptimize lazily."""
        code = self.native.pop(func_name, None)
        if code is not None:
            self.engine.invalidate(code)

    def on_hot_loop(self, thread, frame):
        """OSR: continue a hot interpreted loop in native code, mid-iteration."""
        version = frame.code.version
        key = (version.func, version.name, frame.block)
        if key not in self.osr_codes:
            self.osr_codes[key] = self.compile_osr_entry(version, frame.block)
        entry = self.osr_codes[key]
        if entry is None:
            return None
        code, live = entry
        self.osr_entries += 1
        self.vm.tracer.emit("osr", f"enter @{code.version.func} at iteration "
                                   f"{frame.code.loop_counts.get(frame.pc, 0)}")
        return self.enter(code, [frame.value(n) for n in live], thread, osr=True)

    def compile_osr_entry(self, version, header: str):
        """(native code of an OSR entry clone at `header`, its live names), or None when
        no clone can be built there (the loop stays in the interpreter)."""
        from ..opt.osr import OSRUnsupported, held_by, osr_entry
        code = self.vm.interp.code_for(version)
        try:
            func, live = osr_entry(self.vm.module, version, header, code.live_in(),
                                   code.ctx.types)
        except OSRUnsupported as why:
            self.vm.tracer.emit("osr", f"no entry clone: {why}")
            return None
        self.vm.tracer.emit("osr", f"entry clone @{func.name} for @{version.func} "
                                   f"%{version.name} loop %{header}")
        compiled = self.vm.optimize(func)
        # The clone as copied: where it has no frame state of its own, it deoptimizes
        # into frames of `version` (an optimizer's version gives its states itself).
        resumes_in = ((version, held_by(compiled, version, code.live_in()))
                      if compiled is func.versions[0] else None)
        return self.engine.compile(compiled, install=False, resumes_in=resumes_in), live

    def stats(self) -> dict:
        return {"osr entries": self.osr_entries, "recompilations": dict(self.recompiles),
                **self.engine.stats()}
