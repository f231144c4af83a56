"""VM threads, the VM lock, safepoints, handshakes and poll classes.

A VM thread is an OS thread with its own interpreter stack and native thread block.  The
interpreter and the runtime are Python and share one heap whose objects Python code
builds in several steps, so Python-side guest work runs only while its thread holds the
*VM lock*; native code runs without it, in parallel (ctypes releases Python's lock too),
allocating from its thread's own buffer.  A thread is in a safe state — everything it
holds is in its frames (interpreter registers, stack maps of native frames) — when:

- it is parked at a poll (function entries and loop back-edges, both tiers) or at any
  runtime entry of native code, waiting for the VM lock;
- it is blocked (`join`, a Lox lock, the end of the program), or new, or done.

The holder of the lock may then collect, scan stacks, patch and rearrange frames of every
other thread.  A thread running native code (NATIVE) is not safe: a handshake or a
stop-the-world asks it to poll (its poll word and entry limit) and waits until it parks.

The lock is fair (first come, first served): a waiting thread asks the holder to poll
(the interpreter's poll flag), and the holder hands the lock over at its next poll.

A handshake runs an operation for one thread on the requester's side, once the target is
in a safe state; `stop_the_world` does so for all.  Poll classes: a function's polls may
admit only some kinds of handshake (`set_poll_class`); a thread then passes them by and
parks at a later poll that admits the kind.  `--trace=safepoint` prints one line per
handshake.

What poll classes could buy: code between polls that admit no "deopt", "revoke" or
"debug" may assume that no frame of it is invalidated, no lock it took with a bias loses
the bias and no debugger changes its variables there — a compiler could then keep fewer
frame states alive and hoist more out of such a loop.  What they cost: a handshake of a
kind a loop's polls defer waits until the thread leaves the loop (or calls a function that
admits it), so its time to safepoint grows from one iteration to the rest of the loop,
unbounded; meanwhile the requester re-arms the thread's polls every REARM_SECONDS, a
runtime entry per millisecond for the deferring thread (`Threads.deferred` counts them).
"""
import collections
import ctypes
import threading
import time
from dataclasses import dataclass
from enum import Enum

from ..interp.errors import GuestError, VMError
from ..native.threadblock import OFFSET, SIZE_WORDS


@dataclass(frozen=True, slots=True)
class StateInfo:
    """A thread state: whether a handshake with a thread in it runs on the requester's
    side at once, and what it means."""

    safe: bool
    doc: str


class ThreadState(Enum):
    """The states of a VM thread (one table)."""

    NEW = StateInfo(True, "created; its OS thread has not taken the VM lock yet")
    RUNNING = StateInfo(False, "holds the VM lock: interpreter or runtime")
    NATIVE = StateInfo(False, "runs native code, without the VM lock, in parallel with the "
                              "others: it stops only at a poll")
    PARKED = StateInfo(True, "stopped at a poll, waiting for the VM lock")
    BLOCKED = StateInfo(True, "waiting in join, for a Lox lock or for the program's end")
    DONE = StateInfo(True, "its function returned or raised; the thread has ended")

    @property
    def safe(self) -> bool:
        return self.value.safe


@dataclass(frozen=True, slots=True)
class HandshakeKind:
    """A kind of operation one thread asks of another (the clients of safepoints)."""

    name: str
    doc: str


HANDSHAKE_KINDS = {k.name: k for k in (
    HandshakeKind("gc", "stop the world for a collection: every stack is scanned for roots"),
    HandshakeKind("deopt", "invalidate code: trample its status reads so that its frames, "
                           "in every thread, leave lazily (native/trample.py)"),
    HandshakeKind("revoke", "revoke a lock's bias from its owner"),
    HandshakeKind("debug", "stop for a debugger"),
    HandshakeKind("profile", "report the stack to a sampling profiler"),
    HandshakeKind("patch", "rewrite machine code another thread may run (inline caches)"),
    HandshakeKind("watch", "start watching an assumption: no thread is between its check "
                           "of a watch word and the write the check guards"),
    HandshakeKind("stress", "an empty operation (--handshake-stress)"),
)}


class VMThread:
    """One guest thread: its interpreter stack, native state, and how it ended."""

    def __init__(self, vm, index: int, name: str):
        self.index = index
        self.name = name
        self.interp = vm.interp.new_thread(name)
        self.native = None           # its NativeThread, when the VM has a native tier
        self.zero_block = None       # its thread block when there is none
        self.state = ThreadState.NEW
        self.pending = []            # (operation, kind) it runs itself at its next poll
        self.wanted = set()          # kinds of handshake waiting for it to reach a poll
        self.blocked_on = None       # what it waits for while BLOCKED
        self.ready = None            # fn() -> bool: whether what it waits for has come
        self.wake_error = None       # an error it raises when it wakes (a deadlock)
        self.block_order = 0
        self.roots = []              # words the thread keeps alive: its function, result
        self.result = None
        self.error = None
        self.joined = False
        self.os_thread = None
        self.activity = None         # what the runtime does for it, when that takes long
                                     # ("compiling F"): a profiler labels the time so

    @property
    def done(self) -> bool:
        return self.state is ThreadState.DONE

    def __repr__(self):
        return f"<VMThread {self.index} {self.name} {self.state.name}>"


class _Visitor:
    """A thread outside the VM (a tool's) holding the VM lock for a handshake."""

    name = "visitor"
    native = None

    def __init__(self, kind: str):
        self.kind = kind
        self.state = ThreadState.NEW


class Threads:
    """The VM's threads, its lock, and the handshake machinery."""

    REARM_SECONDS = 0.001     # a requester arms a target's polls again this often while
                              # the target's polls defer it (poll classes)
    STACK_BYTES = 64 << 20    # an OS stack for each spawned thread (its native frames and
                              # the Python frames of nested tier transitions)

    def __init__(self, vm):
        self.vm = vm
        self._mutex = threading.Lock()
        self.cond = threading.Condition(self._mutex)
        self.owner = None
        self.queue = collections.deque()
        self.all = []
        self._local = threading.local()
        self._block_counter = 0
        self.handshakes = 0
        self.poll_classes = {}       # function name -> the handshake kinds its polls admit
        self.deferred = 0            # polls that let a waiting handshake pass (poll classes)
        self.stress_every = vm.config.handshake_stress
        self._stress_polls = 0
        vm.interp.poll[0] = bool(self.stress_every)
        self.main = self._new("main")
        self._local.thread = self.main
        self.main.state = ThreadState.RUNNING
        self.owner = self.main

    def _new(self, name: str) -> VMThread:
        thread = VMThread(self.vm, len(self.all), name)
        self.all.append(thread)
        return thread

    def bind(self, thread: VMThread | None) -> None:
        """Make the calling OS thread run VM thread `thread` from now on (None: it is a
        thread outside the VM, a tool's, whose handshakes wait for the lock's holder).
        The thread's native state moves to this OS thread (its stack limit is this
        stack's)."""
        self._local.thread = thread
        engine = self.vm.tiers.engine if self.vm.tiers is not None else None
        if engine is None:
            return
        if thread is None:
            engine._local.nt = None
            return
        if thread.native is not None:
            engine.forget(thread.native)
        thread.native = engine.attach(thread)

    def block_address(self) -> int:
        """The running thread's native thread block (THREAD_LOCAL): its native state's, or,
        in a VM without a native tier, a block of zeros of its own (its allocation buffer
        empty with a zero limit: inline allocation always takes the slow path)."""
        thread = self.current()
        if thread.native is not None:
            return thread.native.address
        if thread.zero_block is None:
            thread.zero_block = (ctypes.c_uint64 * SIZE_WORDS)()
            self.vm.heap.add_allocation_buffer(ctypes.addressof(thread.zero_block) +
                                               OFFSET["alloc_since"])
        return ctypes.addressof(thread.zero_block)

    def block_word(self, address: int):
        """A one-word ctypes view of a thread block's word (the interpreter runs
        THREAD_LOCAL code too); ValueError for an address in no thread block."""
        for thread in self.all:
            block = thread.native.block if thread.native is not None else thread.zero_block
            if block is None:
                continue
            start = ctypes.addressof(block)
            if start <= address < start + 8 * SIZE_WORDS and not address & 7:
                return (ctypes.c_uint64 * 1).from_address(address)
        raise ValueError(f"address 0x{address:x} is neither in the heap nor in a thread block")

    def current(self) -> VMThread:
        """The VM thread of the calling OS thread (the main one for a thread the VM did
        not start)."""
        return getattr(self._local, "thread", None) or self.main

    def roots(self):
        """Words the threads keep alive: functions not yet started, results not joined,
        a native call's result and the frames a deopt rebuilt for the interpreter while
        the thread waits for the VM lock with them in hand."""
        for thread in self.all:
            yield from thread.roots
            rebuilt = thread.native.rebuilt if thread.native is not None else None
            if rebuilt is not None:
                frames, pending = rebuilt
                for frame in frames:
                    yield from frame.roots()
                yield from (w for w in pending or () if isinstance(w, int))

    # --- starting and ending -------------------------------------------------------

    def spawn(self, name: str, body, roots=()) -> VMThread:
        """Start an OS thread running `body()` as a new VM thread (it waits for the VM
        lock first); `roots`: words it needs alive until it runs."""
        thread = self._new(name)
        thread.roots = list(roots)
        os_thread = threading.Thread(target=self._thread_main, args=(thread, body),
                                     name=f"offramp-{name}", daemon=True)
        thread.os_thread = os_thread
        previous = threading.stack_size(self.STACK_BYTES)
        try:
            os_thread.start()
        finally:
            threading.stack_size(previous)
        return thread

    def _thread_main(self, thread: VMThread, body) -> None:
        self._local.thread = thread
        self.acquire(thread)
        engine = self.vm.tiers.engine if self.vm.tiers is not None else None
        if engine is not None:
            thread.native = engine.attach(thread)
        try:
            thread.result = body()
        except BaseException as error:  # noqa: BLE001 - reported to its joiner or at the end
            thread.error = error
        finally:
            if engine is not None:
                engine.detach()
            thread.roots = [thread.result] if thread.result is not None else []
            self.finish(thread)

    def finish(self, thread: VMThread) -> None:
        """`thread` (the calling one, holding the VM lock) has ended: give the lock up for
        good.  Spawned threads do this themselves; a client that runs the main thread on
        an OS thread of its own calls it when that is done."""
        with self.cond:
            self._hand_over(thread, ThreadState.DONE)

    # --- the VM lock -----------------------------------------------------------------

    def acquire(self, thread: VMThread) -> None:
        """Take the VM lock for `thread` (in turn: first come, first served)."""
        with self.cond:
            self._acquire_locked(thread)

    def _acquire_locked(self, thread: VMThread) -> None:
        if self.owner is None and not self.queue:
            self.owner = thread
        else:
            if thread.state is ThreadState.NATIVE:
                thread.state = ThreadState.PARKED     # safe while it waits: a handshake
                self.cond.notify_all()                # waiting for it may go on
            self.queue.append(thread)
            self._ask_owner_to_poll()
            interrupted = None
            while self.owner is not thread:
                try:
                    self.cond.wait()
                except BaseException as error:  # noqa: BLE001 - raised once it holds the lock
                    interrupted = error
            if interrupted is not None:
                thread.state = ThreadState.RUNNING
                raise interrupted
        thread.state = ThreadState.RUNNING

    # --- native code runs without the VM lock ----------------------------------------

    def leave_for_native(self, thread: VMThread | None = None) -> None:
        """The calling thread (`thread`, when the caller knows it) is about to run native
        code (a call into it, or the return of a runtime entry): it gives the VM lock up
        and runs in parallel with the others until its next runtime entry
        (`back_from_native`).  Uncontended, this is one mutex round trip."""
        thread = thread or self.current()
        mutex = self._mutex
        mutex.acquire()
        try:
            if self.owner is thread:
                self._hand_over(thread, ThreadState.NATIVE)
        finally:
            mutex.release()

    def back_from_native(self, keep=(), thread: VMThread | None = None) -> None:
        """The calling thread left native code (a runtime entry, or the return of a call
        into it): it takes the VM lock again, parked (safe: its native frames are at a
        call site with a stack map) while it waits; `keep`: words it holds only in Python
        meanwhile (a native call's result, a runtime entry's arguments), kept alive by a
        collection that runs then — or a function giving them, called only if it waits."""
        thread = thread or self.current()
        mutex = self._mutex
        mutex.acquire()
        if self.owner is thread or (self.owner is None and not self.queue):
            self.owner = thread
            thread.state = ThreadState.RUNNING
            mutex.release()
            return
        mutex.release()
        with self.cond:
            if self.owner is thread:
                return
            keep = keep() if callable(keep) else keep
            thread.roots.extend(keep)
            self._acquire_locked(thread)
            if keep:
                del thread.roots[-len(keep):]

    def _wait_until_safe(self, targets, kind: str) -> None:
        """Bring each target running native code to its next poll that admits `kind`
        (`cond` held by a requester that holds the VM lock): they park there, since the
        lock is taken."""
        running = [t for t in targets if t.state is ThreadState.NATIVE]
        for target in running:
            target.wanted.add(kind)
            if target.native is not None:
                target.native.request_poll()
        try:
            while any(t.state is ThreadState.NATIVE for t in running):
                if not self.cond.wait(self.REARM_SECONDS):
                    for target in running:       # a poll that deferred disarmed the loops'
                        if target.state is ThreadState.NATIVE and target.native is not None:
                            target.native.request_poll()
        finally:
            for target in running:
                target.wanted.discard(kind)

    # --- poll classes ------------------------------------------------------------------

    def set_poll_class(self, function: str, kinds) -> None:
        """Make the polls of `function` (its entry and loop back-edges, in every tier)
        admit only handshakes of `kinds` (names of HANDSHAKE_KINDS); others are deferred
        to a later poll that admits them.  By default a poll admits every kind."""
        unknown = set(kinds) - HANDSHAKE_KINDS.keys()
        if unknown:
            raise VMError(f"unknown handshake kinds {sorted(unknown)}")
        self.poll_classes[function] = frozenset(kinds)

    def defers(self, thread, function: str | None) -> bool:
        """Whether a poll in `function` lets every handshake waiting for `thread` pass by
        (none of their kinds is admitted there): read without the lock, by a thread about
        to park at that poll."""
        admits = self.poll_classes.get(function)
        if admits is None or thread is None:
            return False
        wanted = set(thread.wanted)
        if not wanted or wanted & admits:
            return False
        self.deferred += 1
        return True

    def _hand_over(self, thread: VMThread, state: ThreadState) -> None:
        """Give the VM lock up (`cond` held), leaving `thread` in `state`.  Only a thread
        that blocks or ends can complete a deadlock, or make another's wait ready."""
        thread.state = state
        self.owner = self.queue.popleft() if self.queue else None
        if self.owner is not None:
            self._ask_owner_to_poll()
        elif state is ThreadState.NATIVE:
            return          # the common case of a call into native code: nobody to wake
        if state is ThreadState.BLOCKED or state is ThreadState.DONE:
            self._find_deadlock()
        self.cond.notify_all()

    def _ask_owner_to_poll(self) -> None:
        """Make the lock's holder reach its next poll soon.  It runs the interpreter or the
        runtime (native code never holds the lock): the interpreter's poll flag is enough."""
        self.vm.interp.poll[0] = True

    def poll(self, function: str | None = None) -> None:
        """A safepoint of the calling thread (which holds the VM lock) in `function`: run
        operations pending for it, and park while another thread waits for the lock
        (unless the first to wait is a tool's handshake this poll does not admit)."""
        thread = self.current()
        if thread.pending:
            self._run_pending(thread)
        if self.stress_every:
            self._stress_poll(thread)
        with self.cond:
            head = self.queue[0] if self.queue else None
            admits = self.poll_classes.get(function)
            if isinstance(head, _Visitor) and admits is not None and head.kind not in admits:
                self.deferred += 1
            elif self.queue:
                self._hand_over(thread, ThreadState.PARKED)
                self._acquire_locked(thread)
            self.vm.interp.poll[0] = bool(self.queue) or self.vm.interrupted or \
                bool(self.stress_every)
        if thread.pending:
            self._run_pending(thread)

    def _stress_poll(self, thread: VMThread) -> None:
        """--handshake-stress=N: every Nth poll, an empty handshake with the next live
        thread in turn (this one when it is alone)."""
        self._stress_polls += 1
        if self._stress_polls % self.stress_every:
            return
        live = [t for t in self.all if not t.done]
        target = live[self._stress_polls // self.stress_every % len(live)]
        self.handshake(target, lambda t: None, "stress")

    def post(self, target: VMThread, operation, kind: str) -> None:
        """Queue `operation(target)` for the target to run itself, at its next poll (or
        when it next takes the VM lock)."""
        if kind not in HANDSHAKE_KINDS:
            raise VMError(f"unknown handshake kind {kind!r}")
        with self.cond:
            target.pending.append((operation, kind))
            if target is self.owner:
                self._ask_owner_to_poll()

    def _run_pending(self, thread: VMThread) -> None:
        pending, thread.pending = thread.pending, []
        for operation, kind in pending:
            operation(thread)

    # --- blocking ----------------------------------------------------------------------

    def block(self, what: str, ready, exit_wait: bool = False) -> None:
        """Wait, without the VM lock (a safe state), until `ready()`; `ready` is read with
        `cond` held, so whatever makes it true must be changed under `cond`
        (`changed`).  Raises GuestError('Deadlock.') when every live thread waits for
        another (`exit_wait`: the main thread at the program's end, never the one that
        gets the error)."""
        thread = self.current()
        with self.cond:
            if ready():
                return
            self._block_counter += 1
            thread.block_order = -1 if exit_wait else self._block_counter
            thread.blocked_on, thread.ready = what, ready
            self._hand_over(thread, ThreadState.BLOCKED)
            while not ready() and thread.wake_error is None:
                self.cond.wait()
            thread.blocked_on = thread.ready = None
            error, thread.wake_error = thread.wake_error, None
            self._acquire_locked(thread)
        if error is not None:
            raise error
        if thread.pending:
            self._run_pending(thread)

    def changed(self, change) -> None:
        """Run `change()` (making some blocked thread's wait ready) under `cond`, and wake
        the waiters."""
        with self.cond:
            change()
            self.cond.notify_all()

    def _find_deadlock(self) -> None:
        """When no thread can run (every live one waits, for something that has not
        come), wake the one that blocked last with `Deadlock.` (`cond` held)."""
        live = [t for t in self.all if t.state is not ThreadState.DONE]
        if not live or self.owner is not None or self.queue:
            return
        if any(t.state is not ThreadState.BLOCKED or t.wake_error is not None or t.ready()
               for t in live):
            return
        victim = max(live, key=lambda t: t.block_order)
        if victim.block_order < 0:
            return                  # only the program's end waits: not a deadlock
        victim.wake_error = GuestError("Deadlock.")

    def wait_for_all(self) -> None:
        """The main thread at the program's end: wait until every other thread ends."""
        self.block("the end of the program",
                   lambda: all(t.done for t in self.all if t is not self.main),
                   exit_wait=True)

    # --- handshakes ----------------------------------------------------------------------

    def handshake(self, target: VMThread, operation, kind: str) -> str:
        """Run `operation(target)` for one thread and return how it ran: at once when
        `target` is the calling thread; on the requester's side when the target is in a
        safe state (every thread but the lock's holder is); from a thread outside the VM
        (a tool), once the holder has reached its next poll and parked, the requester
        then holding the lock."""
        if kind not in HANDSHAKE_KINDS:
            raise VMError(f"unknown handshake kind {kind!r}")
        start = time.perf_counter()
        self.handshakes += 1
        requester = getattr(self._local, "visitor", None) or getattr(self._local, "thread",
                                                                    None)
        if requester is not None and requester is self.owner:
            how = "by the thread itself" if target is requester else self._stop(target, kind)
            operation(target)
        else:
            was = target.state

            def stop_and_run():
                how = self._stop(target, kind)
                operation(target)
                return ("by the requester once the target parked at a poll"
                        if was is ThreadState.RUNNING else how)
            how = self.visit(stop_and_run, kind)
        self._trace(kind, target, how, time.perf_counter() - start)
        return how

    def visit(self, operation, kind: str):
        """From a thread outside the VM (a tool's): take the VM lock in turn, as a
        visitor, and return `operation()` run while holding it.  No thread is stopped:
        one running native code runs on, but cannot leave native code (every way back
        takes the lock) until the visit is over, so its frames under the native code
        stay as they are (a sampler reads them then, tools/profile)."""
        visitor = self._local.visitor = _Visitor(kind)
        with self.cond:
            self._acquire_locked(visitor)
        try:
            return operation()
        finally:
            self._local.visitor = None
            with self.cond:
                self._hand_over(visitor, ThreadState.DONE)

    def _stop(self, target: VMThread, kind: str) -> str:
        """Make sure `target` is in a safe state (the caller holds the VM lock); how the
        operation on it then runs."""
        if target.state is not ThreadState.NATIVE:
            return f"by the requester (target {target.state.name.lower()})"
        with self.cond:
            self._wait_until_safe([target], kind)
        return "by the requester once the target parked at a poll (it ran native code)"

    def stop_the_world(self, operation, kind: str) -> None:
        """Run `operation()` once every thread but the caller is in a safe state; the
        caller holds the VM lock, so each is (parked at a poll, blocked, new or done)."""
        requester = getattr(self._local, "visitor", None) or getattr(self._local, "thread",
                                                                    None)
        if requester is None or self.owner is not requester:
            raise VMError("stop_the_world from a thread that does not hold the VM lock")
        start = time.perf_counter()
        with self.cond:
            self._wait_until_safe([t for t in self.all if t is not requester], kind)
        for thread in self.all:
            if thread is not requester and not thread.state.safe:
                raise VMError(f"{thread!r} is running while {requester!r} holds the VM lock")
        operation()
        others = sum(1 for t in self.all if t is not requester and not t.done)
        self._trace(kind, None, f"world stopped ({others} other thread(s))",
                    time.perf_counter() - start)

    def _trace(self, kind: str, target, how: str, seconds: float) -> None:
        tracer = self.vm.tracer
        if tracer.on("safepoint"):
            who = "every thread" if target is None else f"thread {target.index} ({target.name})"
            tracer.emit("safepoint", f"handshake {kind} -> {who}: ran {how}, "
                                     f"{seconds * 1e6:.0f} us", kind=kind,
                        target="all" if target is None else target.index, how=how,
                        microseconds=round(seconds * 1e6, 1))
