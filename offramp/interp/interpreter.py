"""Tier 0: the interpreter loop over compiled steps, with explicit frames.

The loop never recurses in Python for guest calls: a CALL pushes a Frame on the thread and
switches to it, a RET pops it and delivers the value to the waiting caller.  Traps stop the
thread and hand its frames to the client's trap handler, which may inspect and rearrange
them and then says how to resume (see `Resumption`).  DEOPT and failed GUARDs replace the
current frame by the frames its frame state describes — deoptimization between IR versions,
the same protocol native code uses to come back to this tier.

Counters: every compiled version counts its entries and the iterations of each loop header;
PROFILE instructions record the classes of values their client classifier reports.  A loop
reports hot (to `loop_hook`, for OSR) when its count reaches the threshold, and again each
time it is re-armed (`rearm_hot_loops`: the tiering policy does so after a deopt); the hook
may hand back the frames a deopt of the code it entered rebuilt, which then replace the
frame that entered it.
"""
from dataclasses import dataclass

from ..config import Config
from ..ir import tagref
from ..ir.types import DoubleType, FuncRefType, IntType, byte_width
from ..trace import Tracer
from .compile import BREAK, CALL, DEOPT, HOT_LOOP, RET, SAFEPOINT, TRAP, CompiledVersion
from .errors import GuestError, VMError
from .frames import Frame, InterpThread
from .semantics import checked_value


@dataclass(frozen=True, slots=True)
class Resumption:
    """How a stopped thread continues: pass values to the top frame, or raise an error.

    Passing values to a *waiting* top frame binds them as the results of the instruction it
    is stopped in (a trap, or a call whose callee frames were popped: an early return);
    to a top frame that is not waiting (freshly pushed) it must pass nothing.  When no frame
    is left above the point where the interrupted `call` began, the values are its result.
    """

    values: tuple = ()
    error: GuestError | None = None


def waiting_results(frame: Frame) -> tuple:
    """The types of the values a waiting frame's instruction takes when it resumes: a
    trap's (a WATCHPOINT's appended to its `enabled` target), a call's results."""
    instr = frame.instruction
    if instr.op in ("TRAP", "WATCHPOINT"):
        ty = instr.arg("type")
        return () if ty.text() == "void" else (ty,)
    if instr.op == "CCALL":
        return tuple(frame.code.interp.module.externs[instr.arg("callee")].sig.results)
    return tuple(instr.arg("sig").results)


def checked_values(types: tuple, values, where: str) -> tuple:
    """A trap handler's values, checked against the types the resumed instruction takes
    (a client's Python value must never reach a step as an ill-typed value)."""
    values = tuple(values)
    if len(values) != len(types):
        raise VMError(f"trap handler passed {len(values)} value(s) to {where}, which takes "
                      f"{len(types)}")
    out = []
    for ty, value in zip(types, values):
        try:
            out.append(checked_value(ty, value))
        except ValueError as error:
            raise VMError(f"trap handler passed {value!r} to {where}: {error}") from None
    return tuple(out)


def default_classify(value):
    """Without a client classifier, profile by Python type."""
    return type(value).__name__


class Interpreter:
    """Executes one Module's functions on interpreter threads."""

    def __init__(self, module, *, helpers=None, memory=None, global_addresses=None,
                 config: Config | None = None, tracer: Tracer | None = None,
                 trap_handler=None, safepoint_handler=None, classify=None):
        self.module = module
        self.helpers = helpers or {}
        self.memory = memory
        self.global_addresses = global_addresses or {}
        self.config = config or Config()
        self.tracer = tracer or Tracer()
        self.trap_handler = trap_handler
        self.safepoint_handler = safepoint_handler
        self.classify = classify or default_classify
        self.poll = [False]
        self.loop_threshold = 0      # loop-header entries that report a hot loop (0: never)
        self.call_hook = None        # fn(thread, Function, args) -> (True, result) | None
        self.loop_hook = None        # fn(thread, frame) -> (True, result) | None (OSR),
                                     # or (False, (frames, pending)): the native code it
                                     # entered deoptimized; continue with those frames
        self.stack_snapshot = None   # fn(thread) -> [(version, instr)], for guest errors
        self.thread_block_address = None   # fn() -> the running thread's native thread
                                           # block (THREAD_LOCAL), when there is a native tier
        self.enabled_watchpoints = set()
        # BREAKPOINT sites stop when their id is armed or a thread steps (breakpoints.py);
        # break_handler(thread, frame, id) decides.
        self.breakpoints_armed = set()
        self.stepping = [False]
        self.break_handler = None
        self.codes = {}
        self.threads = []
        self.deopts = {}

    # --- linking ---------------------------------------------------------------------

    def code_for(self, version) -> CompiledVersion:
        """The compiled steps of a version (compiled on first use)."""
        key = id(version)
        code = self.codes.get(key)
        if code is None or code.version is not version:
            code = self.codes[key] = CompiledVersion(self, version)
        return code

    def compiled(self, version):
        """The compiled steps of a version if it has been compiled, else None."""
        code = self.codes.get(id(version))
        return code if code is not None and code.version is version else None

    def helper(self, name):
        """The Python implementation of runtime helper `name`."""
        try:
            return self.helpers[name]
        except KeyError:
            raise VMError(f"no implementation registered for extern @{name}") from None

    def symbol_value(self, name):
        """A module symbol as a value: a constant, a global's address, or a Function."""
        module = self.module
        if name in module.consts:
            const = module.consts[name]
            from .semantics import literal_value
            return literal_value(const.value, const.type)
        if name in module.globals:
            try:
                return self.global_addresses[name]
            except KeyError:
                raise VMError(f"global @{name} has no address (not linked)") from None
        if name in module.functions:
            return module.functions[name]
        raise VMError(f"unknown symbol @{name}")

    def memory_reader(self, ty):
        """A function reading a value of type `ty` from an address."""
        mem = self._memory()
        width = byte_width(ty)
        if isinstance(ty, DoubleType):
            return lambda addr: tagref.bits_double(mem.read_bits(addr, 8))
        if isinstance(ty, IntType) and ty.bits == 1:
            return lambda addr: mem.read_bits(addr, 1) & 1   # as native code's trunc
        if isinstance(ty, FuncRefType):
            raise VMError("funcref values cannot be loaded from memory in the interpreter")
        return lambda addr: mem.read_bits(addr, width)

    def memory_writer(self, ty):
        """A function writing a value of type `ty` to an address."""
        mem = self._memory()
        width = byte_width(ty)
        if isinstance(ty, DoubleType):
            return lambda addr, v: mem.write_bits(addr, 8, tagref.double_bits(v))
        if isinstance(ty, IntType) and ty.bits == 1:
            return lambda addr, v: mem.write_bits(addr, 1, v & 1)
        if isinstance(ty, FuncRefType):
            raise VMError("funcref values cannot be stored to memory in the interpreter")
        return lambda addr, v: mem.write_bits(addr, width, v)

    def _memory(self):
        if self.memory is None:
            raise VMError("this interpreter has no memory: LOAD/STORE need one")
        return self.memory

    # --- running ---------------------------------------------------------------------

    def new_thread(self, name="main") -> InterpThread:
        thread = InterpThread(name=name)
        self.threads.append(thread)
        return thread

    def new_frame(self, version, args) -> Frame:
        """A frame at the entry of `version` with its arguments bound."""
        code = self.code_for(version)
        if len(args) != len(code.entry_slots):
            raise VMError(f"@{version.func} takes {len(code.entry_slots)} arguments, "
                          f"got {len(args)}")
        regs = code.template.copy()
        for slot, value in zip(code.entry_slots, args):
            regs[slot] = value
        code.entry_count += 1
        return Frame(code, regs)

    def frame_at(self, func: str, version: str, block: str, index: int, values: dict,
                 waiting: bool = False) -> Frame:
        """A frame of `func` VERSION `version` resuming at (block, index) with `values`."""
        code = self.code_for(self.module.version(func, version))
        regs = code.template.copy()
        for name, value in values.items():
            if name not in code.slots:
                raise VMError(f"@{func} VERSION %{version} has no value %{name}")
            regs[code.slots[name]] = value
        pc = code.block_pc[block] + index
        if index < 0 or pc >= len(code.instrs) or code.locations[pc][0] != block:
            raise VMError(f"%{block}[{index}] is not an instruction of @{func} %{version}")
        return Frame(code, regs, pc, waiting)

    def rearm_hot_loops(self, frame, after: int = 1) -> tuple:
        """Make the loops `frame` is in report a hot loop (again: a loop reports once, at
        Config.loop_threshold) within `after` more iterations; the pcs of their headers."""
        return frame.code.rearm_hot_loops(frame.pc, after) if self.loop_threshold else ()

    def call(self, thread: InterpThread, function, args):
        """Call the current version of `function` (a name or Function) and run to its return."""
        func = self.module.functions[function] if isinstance(function, str) else function
        base = len(thread.frames)
        self._push(thread, self.new_frame(func.interpretable, list(args)))
        return self.run(thread, base)

    def _push(self, thread, frame, poll=True):
        """Push a frame, if the guest depth allows; a function entry is also a poll (with
        the frame pushed: its arguments are roots while the thread is stopped there)."""
        if len(thread.frames) + thread.depth_base >= self.config.max_frames:
            raise GuestError("Stack overflow.")
        thread.frames.append(frame)
        if poll and self.poll[0] and self.safepoint_handler is not None:
            self.safepoint_handler(thread, frame)

    def run(self, thread: InterpThread, base: int):
        """Run the thread's top frames until the stack shrinks back to `base` frames."""
        frames = thread.frames
        frame = frames[-1]
        steps, regs, pc = frame.code.steps, frame.regs, frame.pc
        try:
            while True:
                r = steps[pc](regs)
                while r is None or r.__class__ is int:
                    pc = pc + 1 if r is None else r
                    r = steps[pc](regs)
                frame.pc = pc
                tag = r[0]
                if tag == CALL:
                    frame.waiting = True
                    callee = r[1]
                    entered = self.call_hook and self.call_hook(thread, callee, r[2])
                    if entered:
                        self._deliver(frame, (entered[1],) if callee.sig.results else ())
                    else:
                        self._push(thread, self.new_frame(callee.interpretable, r[2]))
                elif tag == RET:
                    frames.pop()
                    if len(frames) == base:
                        return r[1]
                    self._deliver(frames[-1], (r[1],) if r[1] is not None else ())
                elif tag == TRAP:
                    outcome = self._trap(thread, frame, base)
                    if outcome is not None:
                        return outcome[0]
                elif tag == DEOPT:
                    self._deoptimize(thread, frame, r[1], r[2])
                elif tag == HOT_LOOP:
                    frame.pc = r[1]
                    entered = self.loop_hook and self.loop_hook(thread, frame)
                    if entered:
                        frames.pop()
                        if not entered[0]:
                            self._push_rebuilt(thread, *entered[1])
                        elif len(frames) == base:
                            return entered[1]
                        else:
                            self._deliver(frames[-1], (entered[1],) if entered[1] is not None
                                          else ())
                elif tag == SAFEPOINT:
                    if self.safepoint_handler is not None:
                        self.safepoint_handler(thread, frame)
                    frame.pc = pc + 1
                elif tag == BREAK:
                    frame.pc = pc + 1     # a stop shows the frame at the statement
                    if self.break_handler is not None:
                        self.break_handler(thread, frame, r[2])
                else:
                    raise VMError(f"unknown step action {r!r}")
                frame = frames[-1]
                steps, regs, pc = frame.code.steps, frame.regs, frame.pc
        except GuestError as error:
            frame.pc = pc
            self._unwind(thread, base, error)
            raise

    def resume_frames(self, thread: InterpThread, frames, pending=None):
        """Push rebuilt frames (outermost first), resume the innermost (handing it `pending`
        if it waits for a call's result) and run them to completion."""
        base = len(thread.frames)
        self._push_rebuilt(thread, frames, pending)
        return self.run(thread, base)

    def _push_rebuilt(self, thread, frames, pending) -> None:
        """Push frames rebuilt by a deoptimization (outermost first) and hand the innermost
        `pending` if it waits for a call's result; then poll once, every value they hold
        in a frame (held only by this call, they would be no roots while the thread is
        stopped at a poll between two pushes)."""
        for frame in frames:
            self._push(thread, frame, poll=False)
        top = thread.frames[-1]
        if top.waiting:
            self._deliver(top, tuple(pending or ()))
        if self.poll[0] and self.safepoint_handler is not None:
            self.safepoint_handler(thread, top)

    def _deliver(self, frame: Frame, values: tuple) -> None:
        """Resume a waiting frame by binding `values` to its current instruction."""
        if not frame.waiting:
            if values:
                raise VMError(f"{frame!r} is not waiting for a value")
            return
        frame.pc = frame.code.resume[frame.pc](frame.regs, values)
        frame.waiting = False

    def _unwind(self, thread, base, error: GuestError) -> None:
        """Record the guest stack on the error (once, where raised) and pop to `base`."""
        if error.stack is None:
            error.stack = (self.stack_snapshot(thread) if self.stack_snapshot else
                           [(f.code.version, f.instruction) for f in thread.frames])
        del thread.frames[base:]

    # --- traps and deoptimization ----------------------------------------------------

    def _trap(self, thread, frame, base):
        """Stop at a TRAP/WATCHPOINT, let the client handle it, and resume as it says."""
        if self.trap_handler is None:
            raise VMError(f"TRAP at {frame!r} but no trap handler is registered")
        frame.waiting = True
        self.tracer.emit("trap", f"{frame!r}", op=frame.instruction.op,
                         name=frame.instruction.name,
                         function=frame.code.version.func, version=frame.code.version.name,
                         block=frame.block, index=frame.index)
        bottom = thread.frames[base] if len(thread.frames) > base else frame
        call_results = bottom.code.func.sig.results
        resumption = self.trap_handler(thread, frame)
        if not isinstance(resumption, Resumption):
            raise VMError(f"trap handler returned {resumption!r}, not a Resumption")
        if resumption.error is not None:
            if len(thread.frames) <= base:
                raise VMError("trap handler raised into no frame")
            raise resumption.error
        if len(thread.frames) < base:
            raise VMError("trap handler popped frames below the current call")
        if len(thread.frames) == base:
            values = checked_values(call_results, resumption.values,
                                    f"the result of @{bottom.code.func.name}")
            return (values[0] if values else None,)
        top = thread.frames[-1]
        expected = waiting_results(top) if top.waiting else ()
        self._deliver(top, checked_values(expected, resumption.values, repr(top)))
        return None

    def _deoptimize(self, thread, frame, reason, state):
        """Replace `frame` by the frames its frame state describes (innermost last)."""
        self.deopts[reason] = self.deopts.get(reason, 0) + 1
        self.tracer.emit("deopt", f"{reason}: @{frame.code.version.func} "
                                  f"%{frame.code.version.name} -> {state[0]} %{state[1]}",
                         tier="interp", kind="deopt", reason=reason,
                         function=frame.code.version.func, version=frame.code.version.name,
                         resume=f"@{state[0]} %{state[1]} %{state[2]}[{state[3]}]")
        rebuilt = []
        waiting = False
        while state is not None:
            func, version, block, index, values, parent = state
            vals = {name: frame.regs[slot] for name, slot in values}
            rebuilt.append(self.frame_at(func, version, block, index, vals, waiting))
            waiting = True
            state = parent
        thread.frames.pop()
        for f in reversed(rebuilt):
            self._push(thread, f)
