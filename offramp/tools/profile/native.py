"""Native stack walking for the profiler, compiled by LLVM at run time: a frame-pointer walk
over compiled code and an async-signal-safe SIGPROF handler.

offramp has no C extension of its own, and a Python signal handler never runs while a
thread is in native code (CPython runs it later, between bytecodes of the main thread).
So both pieces are LLVM IR compiled here (`compile_ir`) and called through ctypes or
installed with sigaction:

- `offramp_fp_walk(first, bp, low, high, out, max)`: writes `first` (an instruction
  pointer or return address) if it lies in compiled code, then follows the frame-pointer
  chain from `bp` — every unit keeps frame pointers ("frame-pointer"="all") — writing each
  return address `[bp + 8]` while it lies in compiled code, `bp` stays 8-aligned, inside
  [low, high) and grows; returns how many it wrote.  It reads `[bp]` only after `[bp + 8]`
  showed that the frame is compiled code's, whose saved frame pointer is valid.  A
  safepoint sample calls it for each run of native frames (from the runtime entry's
  anchor): a few microseconds of native code instead of a Python walk (0.2 ms a sample
  on fib's 30 frames, and the walk is paid by the sampled thread).
- `offramp_on_sigprof(sig, info, ucontext)`: the handler.  It reads RIP, RSP and RBP from
  the interrupted context (glibc's x86-64 `ucontext_t`: `uc_mcontext.gregs` at byte 40,
  REG_RBP 10, REG_RSP 15, REG_RIP 16), claims a record of a preallocated ring with an
  atomic add, walks (`high`: the signalled thread's stack top, which the sampler writes
  before each signal, so every read is in the live part of that stack) and publishes the
  record by storing the request's id last (release).  No allocation, no lock, no call
  outside this module: async-signal-safe.

Compiled code's ranges live in a table the walk reads (`CodeRanges`: pairs of [start, end
+ 1), then a count word published after its pair), appended as the engine compiles (code
never moves or goes away while the VM lives).  An instruction pointer in a function's
first instructions (before `push rbp; mov rbp, rsp`) or last (after `pop rbp`) makes the
walk skip that function's caller — frame-pointer walking's one blind spot, a few
instructions per call.
"""
import ctypes
import signal
import threading
import time

from ...native.llvm_setup import compile_ir
from ...native.stub import GPR_DWARF, SAVE_AREA_BYTES
from ...native.threadblock import OFFSET, REQUEST

WORD = ctypes.c_uint64
MAX_RANGES = 4096             # compiled units (a program compiles tens)
MAX_DEPTH = 253               # return addresses a record holds (Lox stops at 64 frames)
RECORD_WORDS = 3 + MAX_DEPTH  # request id, instruction pointer, count, addresses
RING_RECORDS = 64             # one signal is outstanding at a time: plenty
SA_SIGINFO, SA_RESTART = 0x4, 0x10000000
GREGS = 40                    # offsetof(ucontext_t, uc_mcontext.gregs) on x86-64 glibc
REG_RBP, REG_RSP, REG_RIP = 10, 15, 16
SIGNAL_WAIT = 0.005           # seconds the sampler waits for the handler to record


class _Sigaction(ctypes.Structure):
    """glibc's struct sigaction on x86-64."""

    _fields_ = [("handler", ctypes.c_void_p), ("mask", ctypes.c_ulong * 16),
                ("flags", ctypes.c_int), ("restorer", ctypes.c_void_p)]


def _module_text(ranges: int, count: int, control: int, ring: int) -> str:
    """The LLVM IR of the walk and the handler, with the tables' addresses built in."""
    return f"""
define internal i1 @in_code(i64 %x) #0 {{
entry:
  %count = load volatile i64, ptr inttoptr (i64 {count} to ptr)
  br label %loop
loop:
  %i = phi i64 [0, %entry], [%i1, %body]
  %end = icmp uge i64 %i, %count
  br i1 %end, label %no, label %body
body:
  %k = shl i64 %i, 1
  %ps = getelementptr i64, ptr inttoptr (i64 {ranges} to ptr), i64 %k
  %s = load volatile i64, ptr %ps
  %pe = getelementptr i64, ptr %ps, i64 1
  %e = load volatile i64, ptr %pe
  %ge = icmp uge i64 %x, %s
  %lt = icmp ult i64 %x, %e
  %in = and i1 %ge, %lt
  %i1 = add i64 %i, 1
  br i1 %in, label %yes, label %loop
yes:
  ret i1 1
no:
  ret i1 0
}}

define i64 @offramp_fp_walk(i64 %first, i64 %bp, i64 %low, i64 %high, ptr %out,
                            i64 %max) #0 {{
entry:
  %in0 = call i1 @in_code(i64 %first)
  br i1 %in0, label %start, label %none
none:
  ret i64 0
start:
  store i64 %first, ptr %out
  br label %loop
loop:
  %n = phi i64 [1, %start], [%n1, %next]
  %b = phi i64 [%bp, %start], [%nb, %next]
  %full = icmp uge i64 %n, %max
  %below = icmp ult i64 %b, %low
  %above = icmp uge i64 %b, %high
  %mis = and i64 %b, 7
  %odd = icmp ne i64 %mis, 0
  %bad1 = or i1 %full, %below
  %bad2 = or i1 %above, %odd
  %bad = or i1 %bad1, %bad2
  br i1 %bad, label %done, label %read
read:
  %pb = inttoptr i64 %b to ptr
  %pra = getelementptr i8, ptr %pb, i64 8
  %ra = load volatile i64, ptr %pra
  %in = call i1 @in_code(i64 %ra)
  br i1 %in, label %keep, label %done
keep:
  %slot = getelementptr i64, ptr %out, i64 %n
  store i64 %ra, ptr %slot
  %n1 = add i64 %n, 1
  %nb = load volatile i64, ptr %pb
  %up = icmp ugt i64 %nb, %b
  br i1 %up, label %next, label %last
next:
  br label %loop
last:
  ret i64 %n1
done:
  ret i64 %n
}}

define void @offramp_on_sigprof(i32 %sig, ptr %info, ptr %uc) #0 {{
entry:
  %prip = getelementptr i8, ptr %uc, i64 {GREGS + 8 * REG_RIP}
  %rip = load i64, ptr %prip
  %prsp = getelementptr i8, ptr %uc, i64 {GREGS + 8 * REG_RSP}
  %rsp = load i64, ptr %prsp
  %prbp = getelementptr i8, ptr %uc, i64 {GREGS + 8 * REG_RBP}
  %rbp = load i64, ptr %prbp
  %claimed = atomicrmw add ptr inttoptr (i64 {control} to ptr), i64 1 seq_cst
  %index = and i64 %claimed, {RING_RECORDS - 1}
  %offset = mul i64 %index, {8 * RECORD_WORDS}
  %rec = getelementptr i8, ptr inttoptr (i64 {ring} to ptr), i64 %offset
  %phigh = getelementptr i64, ptr inttoptr (i64 {control} to ptr), i64 2
  %high = load volatile i64, ptr %phigh
  %out = getelementptr i64, ptr %rec, i64 3
  %n = call i64 @offramp_fp_walk(i64 %rip, i64 %rbp, i64 %rsp, i64 %high, ptr %out,
                                 i64 {MAX_DEPTH})
  %pr1 = getelementptr i64, ptr %rec, i64 1
  store i64 %rip, ptr %pr1
  %pr2 = getelementptr i64, ptr %rec, i64 2
  store i64 %n, ptr %pr2
  %pid = getelementptr i64, ptr inttoptr (i64 {control} to ptr), i64 1
  %id = load volatile i64, ptr %pid
  store atomic i64 %id, ptr %rec release, align 8
  ret void
}}

attributes #0 = {{ "frame-pointer"="all" nounwind }}
"""


def _front_text(callback: int, control: int, ring: int) -> str:
    """The LLVM IR of the runtime-entry front that records safepoint samples at polls
    (`PollSamples`), in the walk's module."""
    tb = {name: OFFSET[name] for name in ("poll", "stack_limit", "runtime_wanted",
                                          "stack_floor", "sample")}
    save_rip = SAVE_AREA_BYTES + 8          # the stub's return address: the poll's site
    return f"""
define i64 @offramp_poll_front(ptr %tb, ptr %save) #0 {{
entry:
  %prsi = getelementptr i8, ptr %save, i64 {8 * GPR_DWARF.index("rsi")}
  %request = load i64, ptr %prsi
  %kind = and i64 %request, 255
  %at_loop = icmp eq i64 %kind, {REQUEST["safepoint"]}
  %at_entry = icmp eq i64 %kind, {REQUEST["entry_poll"]}
  %is_poll = or i1 %at_loop, %at_entry
  br i1 %is_poll, label %asked, label %pass
asked:
  %psample = getelementptr i8, ptr %tb, i64 {tb["sample"]}
  %id = load volatile i64, ptr %psample
  %has = icmp ne i64 %id, 0
  br i1 %has, label %record, label %pass
record:
  %pra = getelementptr i8, ptr %save, i64 {save_rip}
  %ra = load i64, ptr %pra
  %prbp = getelementptr i8, ptr %save, i64 {8 * GPR_DWARF.index("rbp")}
  %bp = load i64, ptr %prbp
  %prsp = getelementptr i8, ptr %save, i64 {8 * GPR_DWARF.index("rsp")}
  %sp = load i64, ptr %prsp
  %claimed = atomicrmw add ptr inttoptr (i64 {control} to ptr), i64 1 seq_cst
  %index = and i64 %claimed, {RING_RECORDS - 1}
  %offset = mul i64 %index, {8 * RECORD_WORDS}
  %rec = getelementptr i8, ptr inttoptr (i64 {ring} to ptr), i64 %offset
  %out = getelementptr i64, ptr %rec, i64 3
  %n = call i64 @offramp_fp_walk(i64 %ra, i64 %bp, i64 %sp, i64 -1, ptr %out,
                                 i64 {MAX_DEPTH})
  %pr1 = getelementptr i64, ptr %rec, i64 1
  store i64 %ra, ptr %pr1
  %pr2 = getelementptr i64, ptr %rec, i64 2
  store i64 %n, ptr %pr2
  store atomic i64 %id, ptr %rec release, align 8
  store volatile i64 0, ptr %psample
  %pwanted = getelementptr i8, ptr %tb, i64 {tb["runtime_wanted"]}
  %wanted = load volatile i64, ptr %pwanted
  %busy = icmp ne i64 %wanted, 0
  br i1 %busy, label %pass, label %depth
depth:
  %pfloor = getelementptr i8, ptr %tb, i64 {tb["stack_floor"]}
  %floor = load volatile i64, ptr %pfloor
  %deep = icmp ult i64 %bp, %floor
  %overflow = and i1 %at_entry, %deep
  br i1 %overflow, label %pass, label %restore
restore:
  %plimit = getelementptr i8, ptr %tb, i64 {tb["stack_limit"]}
  store volatile i64 %floor, ptr %plimit
  %ppoll = getelementptr i8, ptr %tb, i64 {tb["poll"]}
  store volatile i64 0, ptr %ppoll
  fence seq_cst
  %late = load volatile i64, ptr %pwanted
  %again = icmp ne i64 %late, 0
  br i1 %again, label %pass, label %done
done:
  ret i64 0
pass:
  %result = tail call i64 inttoptr (i64 {callback} to ptr)(ptr %tb, ptr %save)
  ret i64 %result
}}
"""


class CodeRanges:
    """The table of compiled code's address ranges that the native walk reads, kept up
    to date with the engine's units (appended only: a pair is written before the count
    that publishes it)."""

    def __init__(self, engine):
        self.engine = engine
        self.pairs = (WORD * (2 * MAX_RANGES))()
        self.count = (WORD * 1)()
        self._known = 0
        self._lock = threading.Lock()

    def sync(self) -> None:
        """Add the units compiled since the last call (cheap when there are none)."""
        codes = self.engine.codes
        if len(codes) == self._known:
            return
        with self._lock:
            for code in codes[self._known:MAX_RANGES]:
                k = self.count[0]
                self.pairs[2 * k], self.pairs[2 * k + 1] = code.address, code.address + \
                    code.size + 1
                self.count[0] = k + 1
            self._known = len(codes)


class NativeWalk:
    """The compiled walk and handler of one VM, with their tables."""

    def __init__(self, engine):
        self.ranges = CodeRanges(engine)
        # [0] records claimed, [1] id of the current request, [2] stack top of its thread
        self.control = (WORD * 3)()
        self.ring = (WORD * (RING_RECORDS * RECORD_WORDS))()
        # The poll front's: [0] records claimed; its ring, laid out as the handler's.
        self.poll_control = (WORD * 1)()
        self.poll_ring = (WORD * (RING_RECORDS * RECORD_WORDS))()
        text = _module_text(ctypes.addressof(self.ranges.pairs),
                            ctypes.addressof(self.ranges.count),
                            ctypes.addressof(self.control), ctypes.addressof(self.ring)) + \
            _front_text(engine.callback_address, ctypes.addressof(self.poll_control),
                        ctypes.addressof(self.poll_ring))
        self.compiled = compile_ir(text, "offramp_profiler")
        self.front = self.compiled.function_address("offramp_poll_front")
        self._walk = ctypes.CFUNCTYPE(ctypes.c_uint64, WORD, WORD, WORD, WORD, ctypes.c_void_p,
                                      WORD)(self.compiled.function_address("offramp_fp_walk"))
        self.handler = self.compiled.function_address("offramp_on_sigprof")
        self._out = threading.local()

    def walk(self, first: int, bp: int, low: int) -> tuple:
        """The return addresses of a run of native frames: `first` (the innermost's,
        from a runtime entry's anchor), then its callers' while they are compiled code."""
        self.ranges.sync()
        out = getattr(self._out, "buffer", None)
        if out is None:
            out = self._out.buffer = (WORD * MAX_DEPTH)()
        n = self._walk(first, bp, low, (1 << 64) - 1, out, MAX_DEPTH)
        return tuple(out[:n])


class SignalSampler:
    """Sends SIGPROF to one thread at a time and reads what the handler recorded.

    Installed for a profile's duration; `close` puts back the previous disposition (or
    ignores SIGPROF, when it was the default, whose action would end the process if a
    late signal came)."""

    def __init__(self, walk: NativeWalk):
        self.walk = walk
        self.requests = 0
        self.unanswered = 0       # signals whose handler did not record in time
        self._libc = ctypes.CDLL(None, use_errno=True)
        self._tops = {}
        action = _Sigaction()
        action.handler = walk.handler
        action.flags = SA_SIGINFO | SA_RESTART
        self._previous = _Sigaction()
        if self._libc.sigaction(signal.SIGPROF, ctypes.byref(action),
                                ctypes.byref(self._previous)) != 0:
            raise OSError(ctypes.get_errno(), "sigaction(SIGPROF) failed")

    def close(self) -> None:
        previous = self._previous
        if not previous.handler and not previous.flags & SA_SIGINFO:
            previous = _Sigaction()
            previous.handler = 1          # SIG_IGN
        self._libc.sigaction(signal.SIGPROF, ctypes.byref(previous), None)

    def stack_top(self, ident: int) -> int:
        """The highest address of a thread's stack (pthread_getattr_np), cached."""
        top = self._tops.get(ident)
        if top is None:
            attr = ctypes.create_string_buffer(128)
            if self._libc.pthread_getattr_np(ctypes.c_ulong(ident), attr) != 0:
                return 0
            base, size = ctypes.c_void_p(), ctypes.c_size_t()
            self._libc.pthread_attr_getstack(attr, ctypes.byref(base), ctypes.byref(size))
            self._libc.pthread_attr_destroy(attr)
            top = self._tops[ident] = (base.value or 0) + size.value
        return top

    def record(self, ident: int):
        """Signal the OS thread `ident`; (instruction pointer, return addresses) where it
        was, the first of them the instruction pointer when it was in compiled code (an
        empty tuple otherwise); None if the handler did not answer in time."""
        self.walk.ranges.sync()
        control, ring = self.walk.control, self.walk.ring
        self.requests += 1
        request = self.requests
        claimed = control[0]
        control[1], control[2] = request, self.stack_top(ident)
        signal.pthread_kill(ident, signal.SIGPROF)
        base = (claimed % RING_RECORDS) * RECORD_WORDS
        deadline = time.perf_counter() + SIGNAL_WAIT
        while ring[base] != request:
            if time.perf_counter() > deadline:
                self.unanswered += 1
                return None
            time.sleep(0)
        n = ring[base + 2]
        return ring[base + 1], tuple(ring[base + 3:base + 3 + n])


class PollSamples:
    """Safepoint samples of threads running native code, recorded at their next poll by
    native code (`offramp_poll_front`, installed as every thread's runtime-entry front
    while sampling) instead of by the runtime: the front walks the frame-pointer chain
    from the poll's anchor into a ring and lets the thread go on.  A poll's runtime
    entry cost the sampled thread ~50 us a sample in Python (the callback, the VM lock,
    the walk), 5-8% of fib at 1000 samples a second; the front, a few microseconds.

    The frames under the native code (interpreter frames, native frames under runtime
    entries) are read when the sample is asked for, with the VM lock held (a visit), so
    that the thread cannot change them meanwhile; they change only when Python calls
    native code on the thread or that code returns, which clears the request
    (`NativeThread.request_sample`): a sample is recorded only while they are still
    those under it.  A runtime entry that returns to the same native code (a helper, an
    allocation's slow path, a deopt serving a callee) keeps the request.  The sampler
    takes the sample of a dropped request in the runtime instead (sampler.py)."""

    def __init__(self, walk: NativeWalk, engine):
        self.walk, self.engine = walk, engine
        self.requests = 0
        self._read = 0
        engine.set_entry_front(walk.front)

    def close(self) -> None:
        """Route runtime entries straight to the runtime again (the front's code stays:
        a thread may still be in it) and take back the requests no poll recorded (a later
        profile's front must not record them under its own ids)."""
        self.engine.set_entry_front(None)
        for nt in list(self.engine.native_threads):
            nt.cancel_sample()

    def ask(self, nt) -> int:
        """Ask a thread running native code (the caller holds the VM lock) for a sample at
        its next poll; the request's id."""
        self.walk.ranges.sync()
        self.requests += 1
        nt.request_sample(self.requests)
        return self.requests

    def published(self) -> bool:
        """Whether a record was claimed since the last drain (a cheap check per tick)."""
        return self.walk.poll_control[0] != self._read

    def drain(self) -> list:
        """(request id, return addresses) of every record published since the last call,
        in order.  A record is published by storing its id last (release); the reader
        zeroes the id of each record it takes, so a claimed record still being written
        reads 0 and waits for the next call.  At most one request per thread is
        outstanding, far fewer than the ring holds."""
        control, ring = self.walk.poll_control, self.walk.poll_ring
        out = []
        while self._read < control[0]:
            base = (self._read % RING_RECORDS) * RECORD_WORDS
            request = ring[base]
            if not request:
                break
            n = ring[base + 2]
            out.append((request, tuple(ring[base + 3:base + 3 + n])))
            ring[base] = 0
            self._read += 1
        return out
