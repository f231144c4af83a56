"""The VM object: one module, its heap, its interpreter, its threads and the client API.

The VM links a module to memory: every `.global` gets a word in static heap memory (GC
roots when they can hold references), helpers are the client's Python implementations of
`.extern`s, and the interpreter's frames are registered as GC roots through their slot
maps, so a collection at any allocation sees every live reference precisely.
"""
import contextlib
from dataclasses import replace
import os
import signal
import threading

from ..config import VM_MAX_FRAMES, Config
from ..heap import Heap
from ..interp.errors import VMError
from ..interp.interpreter import Interpreter
from ..ir import tagref
from ..ir.types import RefType, TagRef64Type
from ..trace import Tracer
from .assumptions import Assumptions
from .breakpoints import Breakpoints
from .frames import inspect as inspect_thread
from .threads import Threads
from .traps import TrapContext


class HeapMemory:
    """The interpreter's view of native memory: sized reads and writes at addresses."""

    def __init__(self, heap: Heap):
        self.heap = heap
        self.memory = heap.memory
        self.thread_word = None    # fn(address) -> a word of a thread block (THREAD_LOCAL)

    def read_bits(self, addr: int, nbytes: int) -> int:
        if nbytes == 8:
            if self.memory.contains(addr):
                return self.memory.load64(addr)
            return self.thread_word(addr)[0]       # a word of a thread block
        return int.from_bytes(self.memory.load_bytes(addr, nbytes), "little")

    def write_bits(self, addr: int, nbytes: int, value: int) -> None:
        if nbytes == 8:
            if not self.memory.contains(addr):
                self.thread_word(addr)[0] = value & 0xFFFF_FFFF_FFFF_FFFF
                return
            self.memory.store64(addr, value & 0xFFFF_FFFF_FFFF_FFFF)
        else:
            self.memory.store_bytes(addr, (value & ((1 << (8 * nbytes)) - 1)).to_bytes(
                nbytes, "little"))


class VM:
    """A running module: heap, linked globals, interpreter, threads, trap handler.

    Without a Config the VM only interprets; `Config(tier="jit"|"eager")` adds the native
    tier (the `offramp` command defaults to jit).
    """

    def __init__(self, module, config: Config | None = None, tracer: Tracer | None = None,
                 helpers=None, classify=None):
        self.module = module
        self.config = config or Config(tier="interp")
        if self.config.max_frames is None:
            self.config = replace(self.config, max_frames=VM_MAX_FRAMES)
        self.tracer = tracer or Tracer(self.config.trace, format=self.config.trace_format)
        self.heap = Heap(self.config, self.tracer)
        self.global_addresses = self._link_globals()
        self.trap_handler = None
        self.interp = Interpreter(module, helpers=helpers or {}, memory=HeapMemory(self.heap),
                                  global_addresses=self.global_addresses, config=self.config,
                                  tracer=self.tracer, trap_handler=self._on_trap,
                                  safepoint_handler=lambda thread, frame: self.safepoint_poll(
                                      frame.code.version.func),
                                  classify=classify)
        self.heap.add_root_provider(self._frame_roots)
        self.interrupted = False
        self.threads = Threads(self)
        self.tracer.current_thread = self.threads.current
        self.heap.add_root_provider(self.threads.roots)
        self.heap.stop_the_world = lambda collect: self.threads.stop_the_world(collect, "gc")
        self.main_thread = self.threads.main.interp
        self.interp.thread_block_address = self.threads.block_address
        self.interp.memory.thread_word = self.threads.block_word
        self.optimizer = None
        self.assumptions = Assumptions(self)
        self.breakpoints = Breakpoints(self)
        self.interp.breakpoints_armed = self.breakpoints.armed
        self.interp.stepping = self.breakpoints.stepping
        self.interp.break_handler = lambda thread, frame, bpid: self.breakpoints.reached(
            self.threads.current(), bpid)
        # fn(Frame) -> {source name: value}: the client's variables of a frame (frames.py);
        # fn(version, block, index) -> the SSA names holding them there (--debuggable)
        self.source_variables = None
        self.debug_names = None
        self.tiers = None
        if self.config.tier != "interp":
            from .tiering import TierPolicy
            self.tiers = TierPolicy(self)
            self.threads.main.native = self.tiers.engine.attach(self.threads.main)

    def _link_globals(self) -> dict:
        """Give every global a zeroed word of static memory; trace those that hold refs."""
        addresses = {}
        if not self.module.globals:
            return addresses
        base = self.heap.alloc_static(len(self.module.globals))
        for i, (name, g) in enumerate(self.module.globals.items()):
            addr = base + 8 * i
            addresses[name] = addr
            if isinstance(g.type, (TagRef64Type, RefType)):
                if isinstance(g.type, TagRef64Type):
                    self.heap.store64(addr, tagref.UNDEFINED)
                self.heap.add_root_range(addr, 1)
        return addresses

    def _frame_roots(self):
        """Every reference held in a slot of an interpreter frame, as tagref64 words."""
        for thread in self.interp.threads:
            for frame in thread.frames:
                yield from frame.roots()

    # --- client API --------------------------------------------------------------------

    def set_trap_handler(self, handler) -> None:
        """Register `handler(ctx: TrapContext) -> Resumption` for TRAP and WATCHPOINT."""
        self.trap_handler = handler

    def enable_watchpoint(self, wpid: int) -> None:
        self.interp.enabled_watchpoints.add(wpid)
        if self.tiers is not None:
            self.tiers.engine.set_watchpoint(wpid, True)

    def disable_watchpoint(self, wpid: int) -> None:
        self.interp.enabled_watchpoints.discard(wpid)
        if self.tiers is not None:
            self.tiers.engine.set_watchpoint(wpid, False)

    def _on_trap(self, thread, frame):
        if self.trap_handler is None:
            raise VMError(f"TRAP {frame.instruction.name or ''} at {frame!r} "
                          f"with no trap handler registered")
        return self.trap_handler(TrapContext(self, thread))

    def call(self, function, args, thread=None):
        """Run `function` to completion on a thread (the main thread by default)."""
        func = self.module.functions[function] if isinstance(function, str) else function
        return self.invoke(func, list(args), thread)

    def invoke(self, func, args, thread=None):
        """Call a function in whichever tier the policy picks."""
        thread = thread or self.current_thread()
        if self.tiers is not None:
            entered = self.tiers.on_call(thread, func, args)
            if entered:
                return entered[1]
        return self.interp.call(thread, func, args)

    def current_thread(self):
        """The interpreter stack of the VM thread running now."""
        return self.threads.current().interp

    def set_optimizer(self, optimizer) -> None:
        """Register `optimizer(vm, function) -> FunctionVersion`: what tier-up compiles."""
        self.optimizer = optimizer

    def optimize(self, func):
        """The version to compile for `func` (the client's optimizer decides)."""
        return self.optimizer(self, func) if self.optimizer else func.current

    def note_deopt(self, code, kind: str, reason: str, frames=()) -> None:
        """A native frame of `code` deoptimized into interpreter `frames` (outermost first);
        the tiering policy may recompile, and lets their loops re-enter native code."""
        if self.tiers is not None:
            self.tiers.on_deopt(code, kind, reason)
            self.tiers.rearm_loops(code, kind, frames)

    def inspect(self, thread, operation, kind: str = "debug"):
        """Stop a VM thread at its next safepoint (a handshake of `kind`) and return
        `operation(view)`: a ThreadView of its guest frames in every tier
        (runtime/frames.py)."""
        return inspect_thread(self, thread, operation, kind)

    def osr_live_in(self, version, header: str, live_in: dict) -> dict:
        """The liveness an OSR entry clone of `version` at `header` is made with: with
        --debuggable, the clone also takes the client's source variables in scope at the
        header (`debug_names`), dead or not, so that its frame states can keep them."""
        if not (self.config.debuggable and self.debug_names is not None):
            return live_in
        return {**live_in, header: set(live_in[header]) | self.debug_names(version, header, 0)}

    def drop_version(self, version) -> None:
        """A version relying on a broken assumption: its native code is invalidated (no
        new call enters it, running frames leave).  It stays among its function's
        versions (side tables name it), which the interpreter never runs (it assumes)."""
        if self.tiers is not None:
            self.tiers.drop_version(version)

    def failed_speculations(self, func_name: str) -> set:
        """Guard reasons that failed in native code of `func_name` (for the optimizer)."""
        return self.tiers.failed_speculations(func_name) if self.tiers is not None else set()

    def may_speculate(self, func_name: str) -> bool:
        """Whether the optimizer may still speculate for `func_name` (recompilations are
        bounded: no deopt loops)."""
        return self.tiers is None or self.tiers.may_speculate(func_name)

    def deoptimize_frame(self, depth: int) -> bool:
        """Ask the frame `depth` levels above the running helper's caller chain (0: the
        helper's caller) to leave native code when control returns to it."""
        return self.tiers is not None and self.tiers.engine.deoptimize_frame(depth)

    def reoptimize_caller(self, why: str) -> bool:
        """The native code whose call the running helper serves has learnt what it was
        compiled without (a profile): compile its function or loop again (its running
        frames leave lazily).  False when the caller is not native code."""
        return self.tiers is not None and self.tiers.reoptimize(
            self.tiers.engine.calling_code(), why)

    def safepoint_poll(self, function: str | None = None) -> None:
        """A poll in `function` found work (in whichever tier polled): an interrupt raises
        KeyboardInterrupt there; else the thread runs the operations pending for it and
        parks while another thread waits for the VM lock."""
        if self.interrupted:
            raise KeyboardInterrupt
        self.threads.poll(function)

    def interrupt(self) -> None:
        """Stop the program at its next poll in any tier (entries and loop back-edges).
        Safe from any thread, and while native code runs."""
        self.interrupted = True
        self.interp.poll[0] = True
        if self.tiers is not None:
            self.tiers.engine.request_interrupt()

    def native_code_running(self) -> bool:
        """Whether native code is on the stack (then the runtime may only raise at polls)."""
        return self.tiers is not None and bool(self.tiers.engine.transitions)

    @contextlib.contextmanager
    def sigint_interrupts(self):
        """While the block runs, SIGINT (Ctrl-C) stops the program with KeyboardInterrupt.

        Python runs signal handlers only between bytecodes of the main thread, never while
        native code runs (a ctypes call), and raising in one inside a runtime entry would
        cross native frames.  So the handler raises at once only when no native code is on
        the stack; otherwise it, and a watcher thread woken through `signal.set_wakeup_fd`
        (which Python's C-level handler writes at once, whatever the main thread runs),
        call `interrupt`: native code sees it at its next poll and enters the runtime,
        which raises there.  Off the main thread, the block runs unchanged."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)

        def on_sigint(signum, frame):
            self.interrupt()
            if not self.native_code_running():
                raise KeyboardInterrupt

        def watch():
            while (byte := os.read(read_fd, 1)) not in (b"", b"\0"):
                if byte[0] == signal.SIGINT:
                    self.interrupt()

        previous_handler = signal.signal(signal.SIGINT, on_sigint)
        previous_fd = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
        watcher = threading.Thread(target=watch, name="offramp-sigint", daemon=True)
        watcher.start()
        try:
            yield
        finally:
            signal.set_wakeup_fd(previous_fd)
            signal.signal(signal.SIGINT, previous_handler)
            os.write(write_fd, b"\0")     # no signal's number: the watcher ends
            watcher.join()
            os.close(read_fd)
            os.close(write_fd)

    def global_address(self, name: str) -> int:
        return self.global_addresses[name]

    def read_global(self, name: str) -> int:
        """The raw word of a global (as the interpreter would LOAD it)."""
        return self.heap.load64(self.global_addresses[name])

    def write_global(self, name: str, word: int) -> None:
        self.heap.store64(self.global_addresses[name], word)

    def stats(self) -> dict:
        """Counts for `--stats`."""
        codes = self.interp.codes.values()
        return {
            "interpreted versions": len(codes),
            "function entries": sum(c.entry_count for c in codes),
            "loop iterations": sum(sum(c.loop_counts.values()) for c in codes),
            "deopts by reason": dict(self.interp.deopts),
            **(self.tiers.stats() if self.tiers is not None else {}),
            **self.assumptions.stats(),
            **self.breakpoints.stats(),
            **{f"heap {k}": v for k, v in self.heap.stats().items()},
        }
