"""The sampling loop: a profiler thread outside the VM takes a stack sample of every running
VM thread `rate` times a second.

The modes (`Sampler.mode`):
- "safepoint": the thread records its stack at its next safepoint — a poll at a
  function entry or loop back-edge, or a runtime entry of native code.  Every sample
  lands on a poll: time spent between polls is charged to the poll that ends it
  (safepoint bias).  A thread running native code is asked through its thread block
  and its poll records the native frames itself, in native code, without entering the
  runtime (native.PollSamples; the frames under that native code are read when the
  sample is asked for); any other thread is posted an operation of handshake kind
  "profile" that makes it walk its own stack (the frame walk the debugger uses,
  `frames.sample_stack`) at its next poll and go on.  A handshake run by the profiler
  instead (the thread parked, the lock handed to the profiler and back) cost 0.45 ms of
  the program's time per sample on fib, 40% at 1000 samples a second; the posted
  operation ~50 us (5-8%); the native record a few microseconds.
- "async": a thread running native code gets a SIGPROF whose handler (native code,
  native.py) records where it is — the instruction pointer and the return addresses of
  its frame-pointer chain while they lie in compiled code — and the sampler maps those
  addresses through the side tables afterwards, the frames under that native code (the
  interpreter frames and native frames that entered it) read while the visit keeps them
  still (`Threads.visit`).  A thread that is not running compiled code when asked —
  interpreting, in the runtime, in LLVM — is sampled at its next safepoint instead, and
  the sample says so (`Sample.how`): the interpreter's samples keep a safepoint bias,
  native code's have none.
- "compare": every tick takes both of a thread running native code — first by signal,
  then at its next safepoint — so each pair shows how far the safepoint sample landed from where
  the time was going (bias.py).

Only threads that run (running, in native code, or parked at a poll waiting for the VM
lock) are sampled: a thread blocked in `join`, on a Lox lock or at the program's end
costs no time of its own.  Each sample weighs the wall time since that thread's previous
sample (the first: one period), so a late sample still accounts for its whole interval.
"""
import sys
import threading
import time
from dataclasses import dataclass, replace

from ...runtime.frames import FrameSample, sample_stack
from ...runtime.threads import ThreadState
from .output import RUNTIME_PREFIX
from .stacks import Addresses, Resolver, raw_stack

MODES = ("safepoint", "async", "compare")
RUNTIME_WAIT = 3              # periods a thread in Python may take to reach a poll
IDLE_PERIODS = 5              # periods the sampler may wait while every thread it samples
                              # owes it a sample the runtime is to take
SAMPLED_STATES = (ThreadState.RUNNING, ThreadState.NATIVE, ThreadState.PARKED)


@dataclass(frozen=True, slots=True)
class Sample:
    """One stack sample of one thread."""

    thread: int               # the VM thread's index
    thread_name: str
    time: float               # seconds since the sampler started
    weight: float             # seconds this sample stands for
    frames: tuple             # raw while sampling (stacks.py); FrameSamples, innermost first
    how: str                  # "safepoint" | "signal"
    to_safepoint: float | None = None   # seconds from the request to the stop (safepoint)


@dataclass(slots=True)
class _Request:
    """A safepoint sample asked of a thread and not yet taken."""

    thread: object            # the VMThread
    asked: float              # perf_counter() when asked
    in_runtime: bool          # the thread was running Python then (not native code)
    activity: str | None = None   # what the runtime did for it meanwhile, if told
    id: int | None = None     # the native request's (PollSamples), if its code was asked
    under: tuple = ()         # then: the raw frames under its native code


class Sampler:
    """Samples the threads of a running VM from a thread of its own.  Create it on the
    OS thread that runs the VM's main thread (its signals go there)."""

    def __init__(self, vm, rate: float, mode: str = "safepoint"):
        if mode not in MODES:
            raise ValueError(f"unknown sampling mode {mode!r}")
        self.vm = vm
        self.period = 1.0 / rate
        self.mode = mode
        self.samples = []         # Sample, in the order taken
        self.pairs = []           # (signal Sample, safepoint Sample) of "compare" ticks
        self.ticks = 0
        self.torn = 0             # signal samples dropped: the thread left native code
        self.recorded_natively = 0   # safepoint samples native code's polls recorded
        self.engine = vm.tiers.engine if vm.tiers is not None else None
        self.walk = self.signals = self.polls = None
        self._main_ident = threading.get_ident()
        self._last = {}           # thread index -> time of its previous sample
        self._asked = set()       # indexes of threads with a safepoint sample pending
        self._requests = {}       # thread index -> its outstanding _Request ("safepoint")
        self._posted = set()      # indexes of threads with a _serve operation pending
        self._under = {}          # thread index -> (its NativeThread, generation, the raw
                                  # frames under its native code then): what _arm read
        self._lock = threading.Lock()   # _requests, _posted and the poll records' ring
        self._served = threading.Event()  # set when the runtime took a sample (_serve)
        self._sampled = 0         # threads the last tick looked at
        self._stop = threading.Event()
        self._thread = None
        self._start = 0.0
        self._switch_interval = None

    # --- running ------------------------------------------------------------------

    def start(self) -> None:
        """Start sampling.  The GIL's switch interval is shortened (to a fifth of the
        period) for the run: otherwise a sampler woken while the interpreter runs waits
        up to CPython's 5 ms for the GIL, and interpreted code could not be sampled faster
        than ~200 times a second.  A sleeping sampler asks for the GIL only when it wakes,
        so the shorter interval costs the program nothing meanwhile."""
        if self.engine is not None:
            from .native import NativeWalk, PollSamples, SignalSampler
            self.walk = NativeWalk(self.engine)
            if self.mode != "safepoint":
                self.signals = SignalSampler(self.walk)
            else:
                self.polls = PollSamples(self.walk, self.engine)
        elif self.mode != "safepoint":
            raise ValueError(f"--mode={self.mode} needs the native tier")
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self._switch_interval, self.period / 5))
        self._start = time.perf_counter()
        self._thread = threading.Thread(target=self._loop, name="offramp-profiler",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling, wait for the profiler thread, put the signal handler away and
        map every raw stack to its frames."""
        self._stop.set()
        self._served.set()
        if self._thread is not None:
            self._thread.join()
        if self._switch_interval is not None:
            sys.setswitchinterval(self._switch_interval)
        if self.signals is not None:
            self.signals.close()
        if self.polls is not None:
            with self._lock:
                self._collect()
            self.polls.close()
        self._resolve()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def _loop(self) -> None:
        """Tick every period (a tick that overran starts the next at once).  The threads
        asked for a safepoint sample are told to poll last, just before the sampler
        sleeps (`time.sleep` lets the GIL go at once): the poll's runtime entry needs the
        GIL, and would otherwise wait for the rest of the tick.

        While every thread it samples owes a sample the runtime is to take (it is
        collecting, compiling, in a long helper: its next poll takes it), a tick would
        find nothing to ask and cost the thread the GIL for nothing, so the sampler waits
        for that sample instead (the sample weighs the whole interval anyway)."""
        self.vm.threads.bind(None)
        next_tick = time.perf_counter()
        while not self._stop.is_set():
            next_tick += self.period
            self._served.clear()
            for native in self.tick():
                native.request_poll()
            if self._owed_by_the_runtime():
                self._served.wait(IDLE_PERIODS * self.period)
            pause = next_tick - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            else:
                next_tick = time.perf_counter()

    def tick(self) -> list:
        """One sample of every thread that runs now; the native states of the threads
        asked to poll."""
        self.ticks += 1
        if self.polls is not None:
            with self._lock:
                self._collect()
        poke = []
        self._sampled = 0
        for thread in list(self.vm.threads.all):
            if thread.state in SAMPLED_STATES:
                self._sampled += 1
                if self._sample_thread(thread):
                    poke.append(thread.native)
        return poke

    def _owed_by_the_runtime(self) -> bool:
        """("safepoint" mode.)  Whether each thread the last tick looked at has a sample
        outstanding that only the runtime can take (not its native code's polls)."""
        if self.polls is None or not self._sampled:
            return False
        with self._lock:
            requests = list(self._requests.values())
        return len(requests) >= self._sampled and all(r.id is None for r in requests)

    def _resolve(self) -> None:
        """Raw stacks -> FrameSamples (the side tables' work, done once at the end)."""
        if self.engine is None:
            return
        resolver = Resolver(self.engine)

        def mapped(sample):
            return replace(sample, frames=resolver.frames(sample.frames))
        self.samples = [mapped(s) for s in self.samples]
        self.pairs = [(mapped(a), mapped(b)) for a, b in self.pairs]

    # --- one thread ---------------------------------------------------------------

    def _sample_thread(self, thread) -> bool:
        """Take this tick's sample(s) of `thread` in the sampler's mode; whether its
        native code must be told to poll (a safepoint sample was asked of it)."""
        if self.polls is not None:
            return self._request(thread)
        by_signal = None
        if self.signals is not None and thread.state is ThreadState.NATIVE:
            raw = self.vm.threads.visit(lambda: self._signal_sample(thread), "profile")
            if raw is not None:
                by_signal = self._sample(thread, raw, "signal")
                self.samples.append(by_signal)
                if self.mode != "compare":
                    return False
        return self._ask_for_sample(thread, by_signal) and thread.native is not None

    def _signal_sample(self, thread):
        """(In a visit: the thread cannot leave native code meanwhile.)  The raw stack of
        a thread running native code, by signal, or None when the signal found it outside
        compiled code or it left native code before the visit began."""
        nt, interp = thread.native, thread.interp
        if thread.state is not ThreadState.NATIVE or nt is None:
            return None
        before = (len(nt.transitions), len(interp.frames))
        ident = self._main_ident if thread is self.vm.threads.main else \
            thread.os_thread.ident
        found = self.signals.record(ident)
        if not found or not found[1]:
            return None
        under = raw_stack(self.engine, self.walk, nt, interp)
        if thread.state is not ThreadState.NATIVE or \
                (len(nt.transitions), len(interp.frames)) != before:
            self.torn += 1
            return None
        return (Addresses(found[1], pc=True),) + under

    def _request(self, thread) -> bool:
        """("safepoint" mode.)  Ask `thread` for a sample at its next safepoint, unless
        one is outstanding: a thread running native code is asked through its thread
        block, to be recorded by its next poll in native code (`_arm`); every thread also
        has an operation posted (once until it runs: `_serve`) that takes the sample in
        the runtime if that comes first — a runtime entry, which drops the native
        request, then its next poll; a return to the interpreter.  Whether its native
        code must be told to poll (only for a sample the runtime takes)."""
        with self._lock:
            request = self._requests.get(thread.index)
        if request is not None:
            if request.activity is None and thread.state is ThreadState.RUNNING:
                request.activity = self._activity(thread)
            return False
        request = _Request(thread, time.perf_counter(), thread.state is ThreadState.RUNNING)
        if request.in_runtime:
            request.activity = self._activity(thread)
        if thread.state is ThreadState.NATIVE and not self._arm_again(request):
            self.vm.threads.visit(lambda: self._arm(request), "profile")
        with self._lock:
            self._requests[thread.index] = request
            post = thread.index not in self._posted
            self._posted.add(thread.index)
        if post:
            self.vm.threads.post(thread, self._serve, "profile")
        return request.id is None and thread.native is not None

    def _arm(self, request) -> None:
        """(In a visit: the thread cannot leave native code meanwhile.)  Ask a thread
        running native code for a sample its next poll records natively (PollSamples);
        the frames under that native code are read now."""
        thread = request.thread
        nt = thread.native
        # A thread on its way into the runtime (its exit listed, the lock not yet taken)
        # is left to the runtime: its innermost native frames are under the exit now.
        if thread.state is ThreadState.NATIVE and nt is not None and nt.transitions and \
                nt.transitions[-1][0] == "enter":
            request.under = raw_stack(self.engine, self.walk, nt, thread.interp)
            request.id = self.polls.ask(nt)
            self._under[thread.index] = (nt, nt.generation, request.under)

    def _arm_again(self, request) -> bool:
        """Ask a thread for a sample its poll records natively without a visit, when its
        native code is still in the stay whose frames under it `_arm` read (its
        transitions' generation unchanged): a visit (the VM lock taken and handed back)
        and the read cost the sampler ~35 us a tick, on a core the program may want.
        The generation read again after asking says whether the thread left meanwhile
        (the request is then taken back).  Whether it asked."""
        thread = request.thread
        nt = thread.native
        cached = self._under.get(thread.index)
        if cached is None or nt is None or cached[0] is not nt or \
                cached[1] != nt.generation or thread.state is not ThreadState.NATIVE:
            return False
        request_id = self.polls.ask(nt)
        if nt.generation != cached[1] or thread.state is not ThreadState.NATIVE:
            nt.cancel_sample()
            return False
        request.under, request.id = cached[2], request_id
        return True

    def _collect(self) -> None:
        """(`_lock` held.)  The samples the threads' polls recorded natively, as Samples:
        each answers its thread's outstanding request."""
        if not self.polls.published():
            return
        by_id = {r.id: index for index, r in self._requests.items() if r.id is not None}
        for request_id, addresses in self.polls.drain():
            index = by_id.get(request_id)
            if index is None:
                continue
            request = self._requests.pop(index)
            if not self._stop.is_set():
                self.recorded_natively += 1
                self.samples.append(self._sample(
                    request.thread, (Addresses(addresses),) + request.under, "safepoint"))

    def _serve(self, target) -> None:
        """(Posted: run by `target` at a safepoint.)  Take its outstanding request's sample
        here, unless its native code recorded it first (the records are read now: a
        thread's poll publishes its record before the thread can reach this)."""
        with self._lock:
            self._posted.discard(target.index)
            self._collect()
            request = self._requests.pop(target.index, None)
        self._served.set()
        if request is None or self._stop.is_set():
            return
        waited = time.perf_counter() - request.asked
        frames = self._own_stack(target)
        if not frames:
            return
        self._add_safepoint_sample(target, frames, waited, request.in_runtime,
                                   request.activity)

    def _ask_for_sample(self, thread, by_signal) -> bool:
        """Ask `thread` to record its stack at its next safepoint (a pending operation of
        kind "profile": the thread runs it itself, at its next poll or runtime entry, and
        goes on — no lock changes hands).  One request is outstanding per thread at a
        time; a tick that finds one still pending asks nothing, and the sample that
        answers weighs the whole time since the thread's previous one.  `by_signal`: the
        signal sample of this tick ("compare"), which the answer is paired with.
        Whether it asked."""
        if thread.index in self._asked:
            return False
        self._asked.add(thread.index)
        asked = time.perf_counter()
        in_runtime = thread.state is ThreadState.RUNNING
        activity = self._activity(thread) if in_runtime else None

        def record(target):
            self._asked.discard(target.index)
            waited = time.perf_counter() - asked
            frames = self._own_stack(target)
            if not frames or self._stop.is_set():
                return
            if by_signal is None:
                self._add_safepoint_sample(target, frames, waited, in_runtime, activity)
            else:       # the signal's interval: the pair is only compared
                self.pairs.append((by_signal, Sample(
                    target.index, target.name, by_signal.time, by_signal.weight, frames,
                    "safepoint", waited)))
        self.vm.threads.post(thread, record, "profile")
        return True

    def _add_safepoint_sample(self, thread, frames, waited: float, in_runtime: bool,
                              activity) -> None:
        """The sample a thread took at its safepoint, after a runtime sample for the time
        it spent reaching it when it was asked while in the runtime and took long."""
        if in_runtime and waited > RUNTIME_WAIT * self.period:
            self.samples.append(self._runtime_sample(thread, frames, waited, activity))
        self.samples.append(self._sample(thread, frames, "safepoint", waited))

    def _own_stack(self, thread) -> tuple:
        """The raw stack of `thread`, stopped at its safepoint (it walks it itself)."""
        if self.walk is None or thread.native is None:
            return tuple(sample_stack(self.vm, thread))
        return raw_stack(self.engine, self.walk, thread.native, thread.interp)

    def _activity(self, thread) -> str | None:
        """What the runtime is doing for a thread that runs Python now, if it says."""
        if thread.activity is not None:
            return thread.activity
        return "collecting garbage" if self.vm.heap.collecting else None

    def _runtime_sample(self, thread, frames, waited: float, activity=None) -> Sample:
        """The time a thread asked while it ran Python spent before it reached a poll —
        compiling, collecting, a long runtime helper: the interpreter polls at every call
        and back-edge — charged to a runtime frame on the stack it then stopped with, so
        that the poll after a compilation does not get the compilation's time; the frame
        says what the runtime did, when the sampler saw it (`_activity`: "(runtime:
        compiling @F)", "(runtime: collecting garbage)"; else "(runtime: no
        safepoint)").  The sample that follows weighs the rest of the interval."""
        now = time.perf_counter() - self._start
        self._last[thread.index] = now - self.period
        frame = FrameSample("runtime", f"{RUNTIME_PREFIX}{activity or 'no safepoint'})", None)
        return Sample(thread.index, thread.name, now, waited - self.period,
                      (frame,) + tuple(frames), "safepoint", waited)

    def _sample(self, thread, frames, how: str, to_safepoint=None) -> Sample:
        """A sample of `thread` now, weighing the time since its previous one."""
        now = time.perf_counter() - self._start
        weight = now - self._last.get(thread.index, now - self.period)
        self._last[thread.index] = now
        return Sample(thread.index, thread.name, now, weight, tuple(frames), how,
                      to_safepoint)
