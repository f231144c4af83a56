"""One configuration object for every stress, dump and limit switch.

Nothing in offramp reads environment variables or module globals to decide how to run:
whoever builds the VM builds a Config and passes it down.
"""
from dataclasses import dataclass, field


VM_MAX_FRAMES = 10_000
"""The guest call depth of a VM whose client sets none (IR programs)."""


@dataclass(slots=True)
class Config:
    """Switches that change how the VM runs, never what a program means."""

    tier: str = "jit"                 # interp | jit | eager
    gc_stress: bool = False           # collect at every allocation and native deopt exit
    deopt_stress: int = 0             # every Nth deopt-capable native site deopts (0: off)
    ic_stress: int = 0                # every Nth inline-cache miss resets every cache to
                                      # uninitialized (0: off)
    assumption_stress: int = 0        # every Nth runtime entry of native code breaks every
                                      # assumption compiled code holds (0: off)
    debuggable: bool = False          # compiled code keeps every source variable in scope
                                      # in its frame states (else a dead one is optimized out)
    debug: bool = False               # the client puts breakpoint sites in its code (a
                                      # debugger runs it: runtime/breakpoints.py)
    breakpoint_stress: int = 0        # stop at every breakpoint site (debug sites armed on
                                      # every line); at every Nth stop, set each variable of
                                      # the innermost frame to its own value (0: off)
    handshake_stress: int = 0         # every Nth poll (every tier) runs an empty handshake
                                      # and every Nth allocation a stop-the-world GC (0: off)
    # False compiles the native back-edge polls (SAFEPOINT) out, to measure what they cost
    # (bench/threads.py).  A thread in a native loop then cannot be stopped: a handshake
    # or a collection requested by another thread waits until it leaves the loop.
    loop_polls: bool = True
    max_frames: int | None = None     # guest call depth before "Stack overflow.", in every
                                      # tier (interpreted, native and inlined frames count);
                                      # None: the client's (Lox: clox's 64), else VM_MAX_FRAMES
    native_stack_bytes: int = 4 << 20 # C stack native frames may use below their entry
    max_native_reentry: int = 64      # nested interpreter->native entries before staying put
    # IR instructions of the largest unit compiled natively; bigger ones stay interpreted.
    # The native pipeline is linear in a unit's size, but LLVM's share is large: measured
    # on scripts of `print 1;` lines (one instruction each) in eager mode, about 40 kB of
    # memory and 5 ms (on a loaded 2-core machine) an instruction — a 100k-line script
    # would take minutes and 4 GB to compile before running once.  The largest function
    # of the benchmarks and the test suite has 3,295.
    max_native_instructions: int = 10_000
    # jit: calls of a function before it is compiled, iterations of a loop before OSR.
    # Low because interpreting is slow (~20 us a Lox call) and compiling cheap: measured
    # side by side, 30 instead of 100 makes invocation and properties 1.6x faster by clock.
    call_threshold: int = 30
    loop_threshold: int = 30
    recompile_after: int = 10         # guard failures of one compiled version before it is
                                      # invalidated and its function recompiled
    max_recompiles: int = 3           # then the function is compiled without speculation
    heap_reserve_bytes: int = 1 << 32 # virtual address space reserved for the heap
    gc_initial_threshold: int = 1 << 20  # bytes allocated before the first collection
    # After a collection the next comes when this many times the live bytes have been
    # allocated: marking is Python (~2 us an object), so each collection's cost is paid
    # for by growth x live bytes of allocation.  binary_trees.lox, side by side: 2 -> 9.1 s
    # and 121 MB peak RSS, 4 -> 5.3 s and 132 MB, 8 -> 3.7 s and 158 MB.
    gc_heap_growth: int = 4
    trace: frozenset = field(default_factory=frozenset)  # names from trace.TRACE_EVENTS
    trace_format: str = "text"        # of each trace line: trace.FORMATS
    stats: bool = False
    stats_format: str = "text"        # of the --stats report: trace.FORMATS
    dump_ir: bool = False
    verify_ir: bool = False           # verify every version the optimizer produces
    fail_compile_stage: str = ""      # a stage of native/stages.COMPILE_STAGES at which every
                                      # compilation fails on purpose (tests of the fallback)
    unsafe: bool = False              # `offramp run FILE.ir` runs versions marked UNSAFE
