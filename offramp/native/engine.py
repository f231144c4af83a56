"""The native tier's engine: compiling versions, the runtime entry, deoptimization, frame walks.

- `compile(version)` lowers a version (lower.py), builds it with LLVM, parses its stack map
  section and files every record in the side table under its return address.
- Native code enters the runtime only through the entry stub (stub.py), which calls
  `_runtime_entry(thread, save_area)`: runtime helpers, calls of functions without native
  code, deoptimization, safepoint polls, stack overflow (a tool may put native code in
  front of it, `set_entry_front`, to serve some polls without Python).  Python exceptions
  never cross native frames: a guest error sets the thread's status word, every native
  frame returns at its post-call check, and the Python side that entered native code
  raises it again.
- A deopt (below) of the only native frame of an OSR entry is a real tail call: the frame
  returns at once and the interpreter loop that entered it continues with the rebuilt
  frames (`take_rebuilt`), so a loop going back and forth between tiers does not nest.
- Each VM thread has its own native state (`NativeThread`: thread block, tier
  transitions, pending error), found through the OS thread that runs it; the engine's
  `thread_block`, `transitions`, ... are the calling thread's.  GC roots and lazy-deopt
  counts cover the native frames of every thread: a collection stops the world, and
  another thread's stack is walked by a handshake (runtime/threads.py), since native code
  runs in parallel, without the VM lock.
- A frame walk starts from the anchor a stub's save area gives (return address, stack
  pointer and frame pointer of the innermost native frame) and follows saved frame pointers while the
  return address is a known call site.  Each frame's site says which virtual frames —
  several when code was inlined — it stands for, and where their values are.
- Deoptimization reads the values of a deopt site (statepoint stack slots; registers from
  the stub's save area where a record names one), rebuilds the interpreter frames, runs
  them to completion, and returns the result to the native frame, which returns it: a
  tail call into the interpreter.
- A trap (TRAP, or an enabled WATCHPOINT) goes further: the whole guest stack above the
  first native entry becomes interpreter frames, which the interpreter runs from the trap
  (`_serve_trap`), so the client's handler sees and changes what it would in the
  interpreter; everything in between unwinds (the status word, then `NativeReturn`) and
  the first entry returns the result.
"""
import bisect
import contextlib
import ctypes
import itertools
import threading

from ..interp.errors import GuestError, VMError
from ..ir import tagref
from ..ir.inline_caches import CALL_RECORD_WORDS
from ..ir.text import print_version
from ..ir.types import DoubleType, FuncRefType, IntType, RefType, is_traced
from .llvm_setup import compile_ir, ensure_llvm
from .collector import NativeMarkLoop, NativePageLoops
from .inline_cache import IC_ID_BASE, InlineCaches, region_registers
from .lower import COLD_BLOCKS, LinkInfo
from .sidetable import SideTable, SideTableBuilder, SiteInfo
from .stages import compile_stage
from .lowerops import lower_version
from .trample import TRAMPLE_ID_BASE, region_from_record, write_regions
from .stackmaps import LocationKind, parse_stackmaps, records_by_function, split_statepoint
from .stub import (GPR_DWARF, SAVE_AREA_BYTES, STUB_SYMBOL, XMM_BASE_DWARF, XMM_SAVE_OFFSET,
                   stub_module_asm)
from .threadblock import (DEOPT_ALL, OFFSET, PAYLOAD_SHIFT, REQUEST, REQUEST_BY_CODE, SIZE_WORDS,
                          STATUS_ERROR, STATUS_LAZY_DEOPT, STATUS_OK)

CELL_CAPACITY = 1 << 16
WORD = ctypes.c_uint64
MASK64 = (1 << 64) - 1
ENTRY_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p, ctypes.c_void_p)
SAVE_RSI, SAVE_RDX = 8 * GPR_DWARF.index("rsi"), 8 * GPR_DWARF.index("rdx")
HELPER_REQUEST, DEOPT_REQUEST = REQUEST["helper"], REQUEST["deopt"]
CALL_REQUEST, IC_MISS_REQUEST = REQUEST["call"], REQUEST["ic_miss"]
ENTRY_POLL_REQUEST = REQUEST["entry_poll"]
POLL_REQUESTS = (REQUEST["safepoint"], ENTRY_POLL_REQUEST)
DEPTH_WORD, POLL_WORD, STACK_LIMIT_WORD = (OFFSET[name] // 8 for name in
                                           ("depth", "poll", "stack_limit"))
WANTED_WORD, FLOOR_WORD, SAMPLE_WORD = (OFFSET[name] // 8 for name in
                                        ("runtime_wanted", "stack_floor", "sample"))
TRAP_SITES = ("trap", "watchpoint")


def anchor_of(save_ptr: int) -> tuple:
    """(return address, stack pointer, frame pointer, save area) of the native frame that
    entered the stub whose save area is at `save_ptr` (the stub's frame sits above it)."""
    stub_bp = save_ptr + SAVE_AREA_BYTES
    return (WORD.from_address(stub_bp + 8).value,
            WORD.from_address(save_ptr + 8 * GPR_DWARF.index("rsp")).value,
            WORD.from_address(save_ptr + 8 * GPR_DWARF.index("rbp")).value, save_ptr)


def is_plain_word(ty) -> bool:
    """Values of this type cross the argument buffer as the very same 64-bit word."""
    return not isinstance(ty, (DoubleType, FuncRefType)) and not (
        isinstance(ty, IntType) and ty.bits < 64)


def ctype_of(ty):
    """The ctypes type of a value of IR type `ty` at the native calling convention."""
    if isinstance(ty, DoubleType):
        return ctypes.c_double
    if isinstance(ty, IntType) and ty.bits < 64:
        return {1: ctypes.c_uint8, 8: ctypes.c_uint8, 16: ctypes.c_uint16,
                32: ctypes.c_uint32}[ty.bits]
    return ctypes.c_uint64


class NativeReturn(BaseException):
    """Unwinds every layer above the first native entry, which returns `value`: a trap
    in native code ran the whole stack above it in the interpreter (`_serve_trap`).  A
    BaseException, so that no `except Exception` on the way stops it."""

    def __init__(self, value):
        super().__init__(value)
        self.value = value


class NativeCode:
    """One compiled version: its machine code, entry point and call sites."""

    def __init__(self, engine, version, symbol, compiled, address, size, table,
                 raw_stackmap_bytes):
        self.engine = engine
        self.version = version
        self.symbol = symbol
        self.compiled = compiled
        self.address = address
        self.size = size
        self.table = table
        self.raw_stackmap_bytes = raw_stackmap_bytes
        self.invalid = False         # set once: no call enters it, its frames leave lazily
        self.trample_regions = ()    # its status reads (trample.py)
        self.replay_sites = frozenset()   # return addresses of its exits that replay
        func = engine.vm.module.functions[version.func]
        self.sig = func.sig
        restype = ctype_of(func.sig.results[0]) if func.sig.results else None
        # The thread block, the guest depth under the callee (lower.DEPTH), the parameters.
        argtypes = [ctypes.c_void_p, ctypes.c_uint64] + [ctype_of(t) for t in func.sig.params]
        self.cfunc = ctypes.CFUNCTYPE(restype, *argtypes)(address)
        self._decoded = {}

    def lookup(self, return_address: int):
        """The decoded side-table site at a return address into this code (cached)."""
        site = self._decoded.get(return_address)
        if site is None:
            site = self._decoded[return_address] = self.table.lookup(return_address)
        return site

    def __repr__(self):
        return f"<NativeCode @{self.version.func} %{self.version.name} at 0x{self.address:x}>"


class NativeThread:
    """The native side of one VM thread: its thread block (the words its native code
    reads: poll, status, stack limit, ...) and the tier transitions on its stack.

    `transitions` lists them in order: ("enter", interpreter depth, thread, replaces top
    frame) when Python calls native code (an OSR entry replaces the interpreter frame that
    entered it), ("exit", save area, frames left) when native code enters the runtime: its
    innermost `frames left` native frames are leaving for the interpreter (0; 1 for a
    deopt; all of them for a trap).  While the status word says unwinding,
    `pending_error` is the exception to raise where Python entered native code (a guest
    error, or the NativeReturn of a trap)."""

    def __init__(self, engine, owner, stack_limit: int):
        self.owner = owner
        self.block = (WORD * SIZE_WORDS)()
        self.address = ctypes.addressof(self.block)
        self.buffer_address = self.address + OFFSET["alloc_since"]   # its allocation buffer
        self.call_record_address = self.address + OFFSET["call_record"]
        self.call_record = (WORD * CALL_RECORD_WORDS).from_address(self.call_record_address)
        self.stack_limit = stack_limit
        self.transitions = []
        self.generation = 0      # changes of `transitions` so far: frames a tool read under
                                 # this thread's native code are still those while it holds
        self.pending_error = None
        self.lazy_pending = 0    # running native frames that must still leave lazily
        self.rebuilt = None      # (frames, pending) an OSR entry's deopt left for its caller
        # Values a client set in native frames (a debugger, the frame API), held until the
        # frame deoptimizes: (frame address, place in its site's chain) -> {name: value}.
        self.deferred = {}
        self.reentry = 0         # interpreter->native entries nested on this thread
        self.stepping = False    # a debugger steps it: no native code runs (DEOPT_ALL)
        self.deopt_stress = engine.vm.config.deopt_stress
        self.poll_stress = bool(engine.vm.config.handshake_stress)   # every poll enters
        block = self.block
        block[OFFSET["runtime_entry"] // 8] = engine.entry_address
        block[OFFSET["cells"] // 8] = ctypes.addressof(engine.cells)
        block[STACK_LIMIT_WORD] = block[FLOOR_WORD] = stack_limit
        block[OFFSET["thread_id"] // 8] = owner.index + 1 if owner is not None else 0
        self.reset_stress()
        if self.poll_stress:
            self.request_poll()

    def request_poll(self) -> None:
        """Make this thread's native code enter the runtime at its next poll: a loop
        back-edge (the poll word) or a function entry (the stack limit, set out of reach:
        the prologue's check is the entry poll).  Safe from any thread while native code
        runs: aligned word stores, which native code reads as they come (the runtime
        first: a front serving polls natively passes this one on)."""
        self.block[WANTED_WORD] = 1
        self.block[STACK_LIMIT_WORD] = MASK64
        self.block[POLL_WORD] = 1

    def request_sample(self, sample_id: int) -> None:
        """Ask for stack sample `sample_id` at this thread's next poll, to be recorded by
        a runtime-entry front (`NativeEngine.set_entry_front`) without entering the
        runtime: the request word first, then the poll words (not `runtime_wanted`).
        Only while the thread runs native code and the asker holds the VM lock (a visit):
        the request is cleared when Python next calls native code on the thread or that
        code returns to Python (the frames under the native code change then; a runtime
        entry that returns to the same native code leaves them as they were)."""
        self.block[SAMPLE_WORD] = sample_id
        self.block[STACK_LIMIT_WORD] = MASK64
        self.block[POLL_WORD] = 1

    def cancel_sample(self) -> None:
        """Take back a sample request (its poll then enters the runtime, which resets the
        poll words)."""
        self.block[SAMPLE_WORD] = 0

    def sample_pending(self, sample_id: int) -> bool:
        """Whether stack sample `sample_id` is still asked for (not yet recorded, and the
        thread has not left native code since)."""
        return self.block[SAMPLE_WORD] == sample_id

    def polled(self) -> None:
        """A poll reached the runtime: the entry poll's stack limit is the real one again,
        and the poll word stays set only while a frame must leave lazily (under
        handshake-stress both stay set: every poll enters the runtime)."""
        if self.poll_stress:
            return
        self.block[WANTED_WORD] = pending = int(self.lazy_pending > 0)
        self.block[STACK_LIMIT_WORD] = self.stack_limit
        self.block[POLL_WORD] = pending

    def reset_stress(self) -> None:
        n = self.deopt_stress
        self.block[OFFSET["stress_countdown"] // 8] = n if n > 0 else 1 << 62

    def __repr__(self):
        return f"<NativeThread of {self.owner!r} block 0x{self.address:x}>"


class NativeEngine:
    """Compiles versions to machine code and serves native code's runtime entries."""

    def __init__(self, vm):
        ensure_llvm()
        self.vm = vm
        self.module = vm.module
        self.cells = (WORD * CELL_CAPACITY)()
        self.functions, self.function_ids = [], {}
        self.helper_names, self.helper_ids, self.helper_servers = [], {}, []
        self.helper_traced = []   # per helper: (index, is a ref) of its traced parameters
        self.watch_flags = {}
        self.code_ranges = []    # sorted (start, end, index into codes)
        self.codes = []
        self.inline_caches = InlineCaches(self)
        self.native_threads = []
        self._local = threading.local()
        self.lazy_frames_walked = 0   # native frames lazy-deopt counts walked (tests bound it)
        self.deopts = {}
        self.stats_compiled = 0
        self.invalidations = 0        # compiled units made invalid (their frames leave lazily)
        self.trampled_regions = 0     # status reads of invalid units rewritten (trample.py)
        self.replays = 0              # deopts resumed from a state shared with an earlier guard
        self._callback = ENTRY_CALLBACK(self._runtime_entry)
        self.callback_address = ctypes.cast(self._callback, ctypes.c_void_p).value
        self.entry_address = self.callback_address
        self._install_stub()
        vm.heap.set_mark_loop(NativeMarkLoop(vm.heap))
        vm.heap.set_page_loops(NativePageLoops())

    # --- set-up ----------------------------------------------------------------------

    def _install_stub(self):
        import llvmlite.binding as llvm
        text = stub_module_asm() + \
            "define i64 @offramp_stack_pointer() #0 {\n" \
            "  %f = call ptr @llvm.frameaddress.p0(i32 0)\n" \
            "  %i = ptrtoint ptr %f to i64\n  ret i64 %i\n}\n" \
            "declare ptr @llvm.frameaddress.p0(i32)\n" \
            "attributes #0 = { \"frame-pointer\"=\"all\" }\n"
        self._stub = compile_ir(text, "offramp_stub")
        self.stub_address = self._stub.function_address(STUB_SYMBOL)
        llvm.add_symbol(STUB_SYMBOL, self.stub_address)
        self._stack_pointer = ctypes.CFUNCTYPE(ctypes.c_uint64)(
            self._stub.function_address("offramp_stack_pointer"))

    def attach(self, owner=None) -> "NativeThread":
        """Give the calling OS thread its native state (a thread block whose stack limit
        is measured on this thread's own stack); `owner` is the VM thread it runs."""
        nt = NativeThread(self, owner, self._stack_pointer() - self.vm.config.native_stack_bytes)
        self.vm.heap.add_allocation_buffer(nt.buffer_address)
        self.native_threads.append(nt)
        nt.block[OFFSET["runtime_entry"] // 8] = self.entry_address   # a front set meanwhile
        self._local.nt = nt
        return nt

    def detach(self) -> None:
        """The calling OS thread's VM thread has ended: forget its native state."""
        nt = getattr(self._local, "nt", None)
        if nt is not None:
            self.forget(nt)

    def forget(self, nt: "NativeThread") -> None:
        """Drop a thread's native state (its VM thread ended, or runs on another OS thread
        from now on, with a state of its own there)."""
        if nt in self.native_threads:
            self.vm.heap.remove_allocation_buffer(nt.buffer_address)
            self.native_threads.remove(nt)
        if getattr(self._local, "nt", None) is nt:
            self._local.nt = None

    @property
    def current(self) -> "NativeThread":
        """The native state of the calling OS thread (made on its first use)."""
        nt = getattr(self._local, "nt", None)
        return nt if nt is not None else self.attach()

    # The calling thread's state, under the names the single-threaded engine used.
    thread_block = property(lambda self: self.current.block)
    transitions = property(lambda self: self.current.transitions)
    pending_error = property(lambda self: self.current.pending_error,
                             lambda self, v: setattr(self.current, "pending_error", v))
    rebuilt = property(lambda self: self.current.rebuilt,
                       lambda self, v: setattr(self.current, "rebuilt", v))

    def set_entry_front(self, address: int | None) -> None:
        """Route every thread's runtime entries (the stub's call) through native code at
        `address` — a tool's front, called as the runtime's callback is, (thread block,
        save area), which serves what it can without Python (a profiler's sample at a
        poll) and passes the rest to `callback_address` — or, with None, straight to the
        runtime again.  Threads started later get the same.  The front must stay valid
        code for as long as the VM lives: a thread may be inside it when it is removed."""
        self.entry_address = address or self.callback_address
        for nt in list(self.native_threads):
            nt.block[OFFSET["runtime_entry"] // 8] = self.entry_address

    def request_interrupt(self) -> None:
        """Make native code of every thread enter the runtime at its next poll."""
        for nt in list(self.native_threads):
            nt.request_poll()

    def reset_stress(self):
        self.current.reset_stress()

    # --- numbering shared with lowered code ------------------------------------------

    def function_id(self, name: str) -> int:
        fid = self.function_ids.get(name)
        if fid is None:
            fid = self.function_ids[name] = len(self.functions)
            if fid >= CELL_CAPACITY:
                raise VMError("too many functions for the native entry-cell table")
            self.functions.append(self.module.functions[name])
        return fid

    def helper_index(self, name: str) -> int:
        index = self.helper_ids.get(name)
        if index is None:
            index = self.helper_ids[name] = len(self.helper_names)
            self.helper_names.append(name)
            self.helper_servers.append(self._helper_server(name))
            self.helper_traced.append(traced_parameters(self.module.externs[name].sig))
        return index

    def watchpoint_address(self, wpid: int) -> int:
        flag = self.watch_flags.get(wpid)
        if flag is None:
            flag = self.watch_flags[wpid] = WORD(int(wpid in self.vm.interp.enabled_watchpoints))
        return ctypes.addressof(flag)

    def set_watchpoint(self, wpid: int, enabled: bool) -> None:
        ctypes.memmove(self.watchpoint_address(wpid), ctypes.byref(WORD(int(enabled))), 8)

    def link_info(self, resumes_in=None) -> LinkInfo:
        return LinkInfo(global_addresses=self.vm.global_addresses,
                        function_id=self.function_id, helper_index=self.helper_index,
                        cells_base=ctypes.addressof(self.cells),
                        watchpoint_address=self.watchpoint_address,
                        breakpoint_address=self.vm.breakpoints.address,
                        symbol_value=self.vm.interp.symbol_value,
                        deopt_stress=self.vm.config.deopt_stress,
                        loop_polls=self.vm.config.loop_polls,
                        version_types=self._interpreted_types,
                        max_frames=self.vm.config.max_frames, resumes_in=resumes_in)

    def _interpreted_types(self, version):
        """SSA types of a version the interpreter has compiled (it keeps them), or None."""
        code = self.vm.interp.compiled(version)
        return code.ctx.types if code is not None else None

    # --- compiling -------------------------------------------------------------------

    def check_size(self, version) -> None:
        """Refuse a version above Config.max_native_instructions (LLVM would take minutes
        and gigabytes to compile it)."""
        size = sum(len(block.instrs) for block in version.blocks)
        limit = self.vm.config.max_native_instructions
        if size > limit:
            raise ValueError(f"@{version.func} VERSION %{version.name} has {size} "
                             f"instructions, more than the native tier compiles ({limit})")

    def compile(self, version, install=True, resumes_in=None) -> NativeCode:
        """Compile a version; with `install`, calls of its function enter it from now on.
        `resumes_in`: for an OSR clone's unchanged copy, what its own frame states
        resume in (see LinkInfo).

        Raises CompileError (stages.py) naming the stage that failed; nothing is
        installed or kept then."""
        with compile_stage("size", self.vm.config.fail_compile_stage):
            self.check_size(version)
        symbol = f"n{len(self.codes)}.{version.func}.{version.name}".replace("-", "_")
        fail = self.vm.config.fail_compile_stage
        with compile_stage("lower", fail):
            lowered = lower_version(self.module, version, self.link_info(resumes_in),
                                    symbol)
        if self.vm.config.dump_ir:
            self.dump(version, symbol, lowered.text)
        with compile_stage("llvm", fail):
            compiled = compile_ir(lowered.text, symbol, COLD_BLOCKS)
            address = compiled.function_address(symbol)
            size = compiled.function_size(symbol)
        with compile_stage("stackmaps", fail):
            raw = compiled.section(".llvm_stackmaps") or b""
            encoded, regions, trample_regions, replays = self._side_table(lowered, raw,
                                                                          address)
            table = SideTable(encoded, address)
        code = NativeCode(self, version, symbol, compiled, address, size, table, len(raw))
        code.trample_regions = trample_regions
        code.replay_sites = replays
        write_regions(trample_regions, trampled=False)
        code.inline_caches = self.inline_caches.add_unit(code, lowered.inline_caches, regions)
        bisect.insort(self.code_ranges, (address, address + code.size, len(self.codes)))
        self.codes.append(code)
        self.stats_compiled += 1
        if install:
            self.install(code)
        self.vm.tracer.emit("tier", f"compiled @{version.func} VERSION %{version.name} "
                                    f"({len(table)} sites, {table.nbytes} side-table bytes)",
                            event="compiled", function=version.func, version=version.name,
                            address=address, size=code.size, sites=len(table),
                            side_table_bytes=table.nbytes)
        return code

    def dump(self, version, symbol: str, llvm_text: str) -> None:
        """`--dump-ir`: the offramp IR of a unit about to be compiled and its LLVM IR."""
        stream = self.vm.tracer.stream
        stream.write(f"; unit {symbol}: offramp IR\n{print_version(self.module, version)}\n"
                     f"; unit {symbol}: LLVM IR\n{llvm_text}\n")

    @staticmethod
    def _side_table(lowered, raw: bytes, address: int) -> tuple:
        """Encode what each stack-map record means, keyed by its return-address offset;
        the offsets of the unit's inline-cache regions and its trample regions (records
        of their own ids); the return addresses of its deopt exits that replay (their
        state is an earlier guard's)."""
        builder, regions, trample_regions, replays = SideTableBuilder(), {}, [], set()
        if not raw:
            return builder.build(), regions, trample_regions, frozenset()
        stackmap = parse_stackmaps(raw)
        for _, records in records_by_function(stackmap):
            for record in records:
                if record.patchpoint_id >= TRAMPLE_ID_BASE:
                    trample_regions.append(region_from_record(
                        address + record.instruction_offset, record.locations))
                    continue
                if record.patchpoint_id >= IC_ID_BASE:
                    index = record.patchpoint_id - IC_ID_BASE
                    kind = lowered.inline_caches[index][0]
                    regions[index] = (record.instruction_offset,
                                      region_registers(kind, record.locations))
                    continue
                desc = lowered.sites[record.patchpoint_id]
                locations, _ = split_statepoint(record, stackmap)
                offset = record.instruction_offset
                locations = [stackmap.resolve(loc) for loc in locations]
                nstate = sum(len(fd.vars) for fd in desc.frames)
                gc = tuple(locations[nstate:nstate + desc.gc_count])
                result = ((desc.result_type, locations[-1]) if desc.result_type is not None
                          else None)
                builder.add_site(offset, SiteInfo(desc.kind, desc.reason, desc.frames,
                                                  tuple(locations[:nstate]), gc, result))
                if desc.replay:
                    replays.add(address + offset)
        return builder.build(), regions, trample_regions, frozenset(replays)

    def code_at(self, address: int):
        """The compiled code holding this address (a return address into it), or None."""
        i = bisect.bisect_right(self.code_ranges, (address, float("inf"))) - 1
        if i < 0:
            return None
        start, end, index = self.code_ranges[i]
        return self.codes[index] if start <= address <= end else None

    def site_at(self, return_address: int):
        """The decoded site whose return address this is, or None (not a native call site)."""
        code = self.code_at(return_address)
        return None if code is None else code.lookup(return_address)

    def calling_code(self):
        """The native code whose runtime call is being served now, or None (the runtime
        was called from the interpreter)."""
        if not self.transitions or self.transitions[-1][0] != "exit":
            return None
        return self.code_at(anchor_of(self.transitions[-1][1])[0])

    def install(self, code: NativeCode) -> None:
        """Make calls of the code's function enter it (its entry cell)."""
        self.cells[self.function_id(code.version.func)] = code.address

    def uninstall(self, func_name: str) -> None:
        self.cells[self.function_id(func_name)] = 0

    def invalidate(self, code: NativeCode) -> None:
        """Invalid code: no new call enters it (its entry cell is cleared), and its
        running activations, in every thread, leave lazily at their next call return or
        poll: its status reads are trampled (trample.py) with the world stopped."""
        if code.invalid:
            return
        self.invalidations += 1
        self.vm.tracer.emit("tier", f"invalidated @{code.version.func} VERSION "
                                    f"%{code.version.name}: no new call enters it, its "
                                    f"running frames leave lazily "
                                    f"({len(code.trample_regions)} regions trampled)",
                            event="invalidated", function=code.version.func,
                            version=code.version.name, trampled=len(code.trample_regions))
        code.invalid = True
        fid = self.function_id(code.version.func)

        def trample():
            if self.cells[fid] == code.address:
                self.cells[fid] = 0
            write_regions(code.trample_regions, trampled=True)
        self.vm.threads.stop_the_world(trample, "deopt")
        self.trampled_regions += len(code.trample_regions)

    def set_stepping(self, nt: NativeThread, on: bool) -> None:
        """A debugger steps the thread (through the interpreter's statement sites): every
        native frame of it leaves lazily, at its next call return or poll, and no native
        code is entered until the step ends (`TierPolicy.enter`)."""
        nt.stepping = on
        tb = nt.block
        if on:
            tb[OFFSET["deopt_target"] // 8] = DEOPT_ALL
        elif tb[OFFSET["deopt_target"] // 8] == DEOPT_ALL:
            # a frame still holding values a client set stays marked
            tb[OFFSET["deopt_target"] // 8] = next(iter(nt.deferred))[0] if nt.deferred else 0
        self._refresh_lazy(nt)

    def _refresh_lazy(self, nt: NativeThread) -> None:
        tb = nt.block
        if tb[OFFSET["status"] // 8] == STATUS_ERROR:
            return
        if nt.stepping:
            nt.lazy_pending = 1
            self._set_lazy_status(nt)
            return
        target = tb[OFFSET["deopt_target"] // 8]
        running = list(self._running_native_frames(nt))
        self.lazy_frames_walked += len(running)
        nt.lazy_pending = sum(1 for _, bp in running if bp == target)
        self._set_lazy_status(nt)

    def _left_lazily(self, frame_address: int) -> None:
        """A frame that had to leave lazily has left: no stack walk.  Only the frame
        deoptHere marked is counted (a frame of invalid code leaves by its trampled
        status reads, which need no bookkeeping: deep recursion that unwinds through
        invalid code deoptimizes once per frame)."""
        nt = self.current
        tb = nt.block
        if tb[OFFSET["deopt_target"] // 8] != frame_address or nt.stepping:
            return
        tb[OFFSET["deopt_target"] // 8] = 0   # a later frame may get the same address
        nt.lazy_pending = max(0, nt.lazy_pending - 1)
        self._set_lazy_status(nt)

    def _set_lazy_status(self, nt: NativeThread) -> None:
        tb = nt.block
        pending = nt.lazy_pending > 0
        tb[OFFSET["status"] // 8] = STATUS_LAZY_DEOPT if pending else STATUS_OK
        if pending:
            tb[WANTED_WORD] = tb[POLL_WORD] = 1
        if not pending:
            tb[OFFSET["deopt_target"] // 8] = 0

    def _running_native_frames(self, nt: NativeThread):
        """(site, frame address) of every native frame of a thread still running (not
        deoptimizing)."""
        for item in nt.transitions:
            if item[0] == "exit":
                native = list(self.native_frames(item[1]))
                for site, _, bp in native[item[2]:]:
                    yield site, bp

    # --- entering native code from Python --------------------------------------------

    def invoke(self, code: NativeCode, args, thread, replaces_frame=False):
        """Call compiled code with Python values; raise any guest error it ended with.

        A pending lazy deopt stays pending: its target is a native frame further out."""
        # An OSR entry continues the top interpreter frame: that frame is not a caller.
        # The guest frames under the callee: every interpreter frame and the native frames
        # under those (an OSR entry's own frame is the one it replaces).
        depth = thread.depth_base + len(thread.frames) - (1 if replaces_frame else 0)
        nt = self.current
        nt.transitions.append(("enter", len(thread.frames), thread, replaces_frame))
        nt.generation += 1
        nt.block[SAMPLE_WORD] = 0      # asked for with other frames under native code
        threads = self.vm.threads
        result = None
        try:
            converted = [encode_arg(a, t, self) for a, t in zip(args, code.sig.params)]
            owner = nt.owner
            threads.leave_for_native(owner)
            try:
                result = code.cfunc(nt.address, depth, *converted)
            finally:
                threads.back_from_native(self._result_roots(result, code.sig.results), owner)
                nt.block[SAMPLE_WORD] = 0
        finally:
            nt.transitions.pop()
            nt.generation += 1
        tb = nt.block
        if tb[OFFSET["status"] // 8] == STATUS_ERROR:
            tb[OFFSET["status"] // 8] = STATUS_OK
            error, nt.pending_error = nt.pending_error, None
            if isinstance(error, NativeReturn) and not nt.transitions:
                self._refresh_lazy(nt)
                return error.value
            raise error
        if not code.sig.results or nt.rebuilt is not None:
            return None
        return decode_result(result, code.sig.results[0], self)

    @staticmethod
    def _result_roots(result, results) -> tuple:
        """A native call's result as the words a collection must keep while the thread
        waits for the VM lock with it in hand (a raw `ref` tagged, so it counts)."""
        if result is None or not results or not is_traced(results[0]):
            return ()
        return (tagref.from_ref(result) if isinstance(results[0], RefType) else result,)

    def take_rebuilt(self):
        """(frames, pending) of the deopt that ended the OSR entry just returned, or None:
        the caller continues with those frames in place of the frame that entered."""
        rebuilt, self.rebuilt = self.rebuilt, None
        return rebuilt

    # --- the runtime entry -----------------------------------------------------------

    def _runtime_entry(self, thread_ptr, save_ptr):
        """Called by the stub: serve one request; never let an exception escape.

        This is the hot path of every runtime helper called from native code: it reads
        only the request and the argument buffer from the save area (rsi and rdx) and
        hands helper calls to a server prepared for that helper's signature.
        """
        request = WORD.from_address(save_ptr + SAVE_RSI).value
        kind = request & 0xFF
        nt = self._local.nt
        threads = self.vm.threads
        try:
            if kind in POLL_REQUESTS and nt.owner is not None and nt.owner.wanted and \
                    self._defers(nt, kind, save_ptr):
                nt.block[POLL_WORD] = 0  # loops run on; entries still poll, and the
                return 0                 # requester arms them again every REARM_SECONDS
        except Exception:  # noqa: BLE001 - a racy read of the wanted kinds: do not defer
            pass
        nt.transitions.append(("exit", save_ptr, int(kind == DEOPT_REQUEST)))
        nt.generation += 1
        threads.back_from_native(lambda: self._argument_roots(request, save_ptr), nt.owner)
        try:
            self.vm.assumptions.stress_point()
            buffer = WORD.from_address(save_ptr + SAVE_RDX).value
            if kind == HELPER_REQUEST:
                return self.helper_servers[request >> PAYLOAD_SHIFT](buffer)
            serve = getattr(self, "_serve_" + REQUEST_BY_CODE[kind].name)
            return serve(request >> PAYLOAD_SHIFT, buffer, save_ptr) & MASK64
        except BaseException as error:  # noqa: BLE001 - must not unwind through native code
            if isinstance(error, GuestError) and error.stack is None:
                error.stack = self.guest_stack()
            if not isinstance(error, (GuestError, VMError, KeyboardInterrupt, NativeReturn)):
                wrapped = VMError(f"internal error in the runtime entry: {error!r}")
                wrapped.__cause__ = error
                error = wrapped
            nt.pending_error = error
            nt.block[OFFSET["status"] // 8] = STATUS_ERROR
            return 0
        finally:
            nt.transitions.pop()
            nt.generation += 1
            threads.leave_for_native(nt.owner)

    def _argument_roots(self, request: int, save_ptr: int) -> list:
        """The traced words in a runtime entry's argument buffer, as tagref64 words.  While
        the thread waits for the VM lock another thread may collect; the arguments of a
        helper or a call may be live nowhere else (not after the call: not in its stack
        map), yet the callee is about to read them."""
        kind, payload = request & 0xFF, request >> PAYLOAD_SHIFT
        if kind == HELPER_REQUEST:
            traced = self.helper_traced[payload]
        elif kind == IC_MISS_REQUEST:
            site = self.code_at(anchor_of(save_ptr)[0]).inline_caches[payload]
            traced = self.helper_traced[site.helper_index]
        elif kind == CALL_REQUEST:
            traced = traced_parameters(self.functions[payload].sig)
        else:
            return []
        if not traced:
            return []
        words = (WORD * (traced[-1][0] + 1)).from_address(
            WORD.from_address(save_ptr + SAVE_RDX).value)
        return [tagref.from_ref(words[i]) if is_ref else words[i] for i, is_ref in traced]

    def _defers(self, nt: NativeThread, kind: int, save_ptr: int) -> bool:
        """Whether this poll lets the handshakes waiting for its thread pass by (poll
        classes, runtime/threads.py): the function it polls in admits none of their kinds.
        An entry poll of a stack really too deep never does."""
        ra, _, frame_address, _ = anchor_of(save_ptr)
        if kind == ENTRY_POLL_REQUEST and frame_address < nt.stack_limit:
            return False
        site = self.site_at(ra)
        if site is None:
            return False
        function = site.frames[0].desc.func if site.frames else self.code_at(ra).version.func
        return self.vm.threads.defers(nt.owner, function)

    def _args(self, buffer, types):
        words = (WORD * max(1, len(types))).from_address(buffer)
        return [decode_word(words[i], t, self) for i, t in enumerate(types)]

    def _helper_server(self, name: str):
        """A function serving calls of helper `name`: decode the argument buffer, call,
        encode the result — with no conversion at all for word-typed signatures."""
        extern = self.module.externs[name]
        impl = self.vm.interp.helper(name)
        params, results = extern.sig.params, extern.sig.results
        n = len(params)
        words = WORD * max(1, n)
        plain = all(is_plain_word(t) for t in params)
        if plain and (not results or is_plain_word(results[0])):
            if not results:
                def serve_void(buffer):
                    impl(*words.from_address(buffer)[:n])
                    return 0
                return serve_void

            def serve_words(buffer):
                return impl(*words.from_address(buffer)[:n])
            return serve_words

        def serve(buffer):
            raw = words.from_address(buffer)
            result = impl(*[decode_word(raw[i], t, self) for i, t in enumerate(params)])
            return encode_word(result, results[0], self) if results else 0
        return serve

    def _serve_ic_miss(self, index, buffer, save_ptr):
        """An inline cache missed: its helper serves the call, then the cache may learn
        the receiver's shape (inline_cache.py).  A helper that raises patches nothing."""
        site = self.code_at(anchor_of(save_ptr)[0]).inline_caches[index]
        caches = self.inline_caches
        if site.kind == "invoke":
            return caches.invoke(site, (WORD * 2).from_address(buffer),
                                 self.vm.interp.helper(site.helper), self.current)
        entry = caches.resolve((WORD * 2).from_address(buffer))   # before a store's shape change
        result = self.helper_servers[site.helper_index](buffer)
        caches.missed(site, entry)
        return result

    def _serve_call(self, fid, buffer, save_ptr):
        func = self.functions[fid]
        args = self._args(buffer, func.sig.params)
        with self.guest_depth(self.thread_block[DEPTH_WORD]):
            result = self.vm.invoke(func, args)
        return encode_word(result, func.sig.results[0], self) if func.sig.results else 0

    @contextlib.contextmanager
    def guest_depth(self, depth: int):
        """While the runtime runs guest code for native code: the interpreter counts the
        `depth` guest frames under it (which native code passed: the depth word at a call,
        the buffer argument at a deopt) as frames under its own, so every tier overflows at
        Config.max_frames."""
        thread = self.vm.current_thread()
        outer = thread.depth_base
        thread.depth_base = depth - len(thread.frames)
        try:
            yield
        finally:
            thread.depth_base = outer

    def _serve_safepoint(self, payload, buffer, save_ptr):
        self.current.polled()
        self.vm.safepoint_poll()
        return 0

    def _serve_breakpoint(self, payload, buffer, save_ptr):
        """An armed breakpoint in native code: the thread stops here, its frame native,
        while the debugger looks (and may defer values: the frame then leaves lazily)."""
        self.current.polled()
        self.vm.safepoint_poll()
        self.vm.breakpoints.reached(self.vm.threads.current(), payload)
        return 0

    def _serve_entry_poll(self, payload, buffer, save_ptr):
        """A function's entry found the stack limit crossed: a poll when a safepoint
        request set the limit out of reach (the function then starts), else too deep."""
        nt = self.current
        _, _, frame_address, _ = anchor_of(save_ptr)
        nt.polled()
        self.vm.safepoint_poll()
        if frame_address < nt.stack_limit:
            raise GuestError("Stack overflow.")
        return 0

    def _serve_stack_overflow(self, payload, buffer, save_ptr):
        self.vm.safepoint_poll()
        raise GuestError("Stack overflow.")

    def _serve_unreachable(self, payload, buffer, save_ptr):
        raise VMError("UNREACHABLE executed in native code")

    def _serve_deopt(self, payload, buffer, save_ptr):
        """Rebuild the interpreter frames of the deopt site and run them."""
        anchor = save_ptr
        ra, sp, bp, save_ptr = anchor_of(save_ptr)
        site = self.site_at(ra)
        self.deopts[site.reason] = self.deopts.get(site.reason, 0) + 1
        if site.kind == "stress":
            self.reset_stress()
        code = self.code_at(ra)
        if ra in code.replay_sites:
            self.replays += 1
        self.vm.tracer.emit("deopt", f"{site.kind} '{site.reason}' in @{code.version.func}"
                                     f" %{code.version.name} -> {len(site.frames)} frame(s)",
                            tier="native", kind=site.kind, reason=site.reason,
                            function=code.version.func, version=code.version.name,
                            frames=[{"function": f.desc.func, "version": f.desc.version,
                                     "block": f.desc.block, "index": f.desc.index}
                                    for f in site.frames])
        if site.kind in TRAP_SITES:
            self.vm.note_deopt(code, site.kind, site.reason)
            return self._serve_trap(anchor)
        if not site.frames:         # an OSR entry clone declined at its entry poll:
            entered = self.transitions[-2]     # its entering frame goes on
            if entered[0] != "enter" or not entered[3]:
                raise VMError(f"{site.reason} outside an OSR entry")
            frame = entered[2].frames[entered[1] - 1]
            self.rebuilt = ([frame], None)
            self.vm.note_deopt(code, site.kind, site.reason, [frame])   # its loop counts again
            return 0
        if self.vm.config.gc_stress:
            # Collect with the frame still native, as when another thread collects while
            # this one waits for the VM lock here: the site's values are its only roots.
            self.vm.heap.collect("gc-stress at a deopt exit")
        read = self.reader(sp, bp, save_ptr)
        frames, pending = self.rebuild(site, read)
        self._apply_deferred(self.current, bp, frames)
        self.vm.note_deopt(code, site.kind, site.reason, frames)
        self._left_lazily(bp)    # the frame marked to leave (if it is) has left
        if self._ends_osr_entry(save_ptr):
            self.rebuilt = (frames, pending)
            return 0
        with self.guest_depth(buffer):
            result = self.vm.interp.resume_frames(self.vm.current_thread(), frames, pending)
        func = self.module.functions[code.version.func]
        return encode_word(result, func.sig.results[0], self) if func.sig.results else 0

    def _serve_trap(self, save_ptr):
        """A TRAP or an enabled WATCHPOINT in native code: the whole guest stack above the
        first native entry becomes interpreter frames and the interpreter runs it from the
        trap, so the client's handler sees, pops, pushes and changes the very frames it
        would in the interpreter.  Everything between — native frames, the runtime entries
        and interpreter loops that entered native code — then unwinds at once (the status
        word, then `NativeReturn`), and the first entry returns what the interpreter
        computed."""
        transitions = self.transitions
        _, depth, thread, replaces = first = transitions[0]
        base = depth - replaces
        frames = thread.frames
        # An OSR entry's interpreter frame stands for the outermost native frame: it is
        # rebuilt from native code, so the stale one leaves the stack while the rebuilt
        # frames run (the interpreter pops it when the first entry returns).
        replaced = frames[base] if replaces else None
        stack, origins = [], {}
        for i, item in enumerate(transitions):
            if item[0] == "enter":
                if i:
                    stack += frames[depth:item[1] - item[3]]
                    depth = item[1]
                    transitions[i] = ("enter", base, thread, False)
                continue
            native = list(self.native_frames(item[1]))
            left = 0 if i == len(transitions) - 1 else item[2]   # this exit: the trap's too
            for site, read, _ in reversed(native[left:]):
                rebuilt = self.rebuild(site, read)[0]
                origins.update((id(f), "inlined" if j else "native")
                               for j, f in enumerate(rebuilt))
                stack += rebuilt
            transitions[i] = ("exit", item[1], len(native))
        stack += frames[depth:]
        del frames[base:]
        transitions[0] = ("enter", base, thread, False)
        thread.origins.update(origins)
        try:
            result = self.vm.interp.resume_frames(thread, stack)
        finally:
            if replaced is not None:
                frames.append(replaced)
            transitions[0] = first
            for key in origins:
                thread.origins.pop(key, None)
        raise NativeReturn(result)

    def _ends_osr_entry(self, save_ptr) -> bool:
        """Whether the deoptimizing frame is the only native frame of an OSR entry (the
        transition before this exit): its interpreter frames can replace the entering one."""
        entered = self.transitions[-2] if len(self.transitions) > 1 else None
        if entered is None or entered[0] != "enter" or not entered[3]:
            return False
        return len(list(itertools.islice(self.native_frames(save_ptr), 2))) == 1

    def rebuild(self, site, read):
        """Interpreter frames (outermost first) and the pending result of a site."""
        frames = []
        for frame in site.frames:
            fd = frame.desc
            values = {name: decode_word(read(loc), ty, self)
                      for name, ty, loc in frame.variables()}
            frames.append(self.vm.interp.frame_at(fd.func, fd.version, fd.block, fd.index,
                                                  values, fd.waiting))
        pending = None
        if site.result is not None:
            ty, loc = site.result
            pending = (decode_word(read(loc), ty, self),)
        return list(reversed(frames)), pending

    # --- reading frames --------------------------------------------------------------

    def reader(self, sp, bp, save_ptr):
        """A function reading a stack-map location's 64-bit word in one frame.

        Registers are readable only in the innermost frame of a runtime entry (from the
        stub's save area); outer frames are read through rsp/rbp, which statepoints use.
        """
        save = (WORD * 16).from_address(save_ptr) if save_ptr else None

        def register(reg):
            if reg == 7:
                return sp
            if reg == 6:
                return bp
            if save is None:
                raise VMError(f"register location (DWARF {reg}) in an outer native frame")
            return save[reg]

        def read(loc):
            kind, off = loc.kind, loc.offset_or_constant
            if kind == LocationKind.CONSTANT:
                return off & MASK64
            if kind == LocationKind.REGISTER:
                if loc.dwarf_reg >= XMM_BASE_DWARF:
                    if save_ptr is None:
                        raise VMError("XMM location in an outer native frame")
                    addr = save_ptr + XMM_SAVE_OFFSET + 16 * (loc.dwarf_reg - XMM_BASE_DWARF)
                    return WORD.from_address(addr).value
                return register(loc.dwarf_reg)
            base = register(loc.dwarf_reg)
            if kind == LocationKind.DIRECT:
                return (base + off) & MASK64
            raw = ctypes.string_at(base + off, min(loc.size, 8))
            return int.from_bytes(raw, "little")
        return read

    def native_frames(self, save_ptr):
        """(site, reader, frame address) of each native frame above an anchor, innermost
        first."""
        ra, sp, bp, save_ptr = anchor_of(save_ptr)
        first = True
        while (site := self.site_at(ra)) is not None:
            yield site, self.reader(sp, bp, save_ptr if first else None), bp
            first = False
            ra = ctypes.c_uint64.from_address(bp + 8).value
            sp = bp + 16
            bp = ctypes.c_uint64.from_address(bp).value

    def deoptimize_frame(self, depth: int) -> bool:
        """Mark the native frame holding virtual frame `depth` (0: the innermost guest frame
        of the current runtime entry) to deoptimize lazily, when its call returns.

        False when that frame is an interpreter frame (nothing to do).
        """
        frames = self.virtual_frames()
        if depth >= len(frames):
            return False
        kind, _, bp = frames[-1 - depth]
        if kind != "native":
            return False
        self.thread_block[OFFSET["deopt_target"] // 8] = bp
        self._refresh_lazy(self.current)
        return True

    def machine_frames(self, nt, thread, segments: bool = False):
        """A thread's stack, outermost first, across all tier transitions: ("interp",
        Frame) for each interpreter frame, ("native", site, reader, frame address) for
        each native frame still running (deoptimizing frames live in the interpreter).
        With `segments`, each run of native frames under a runtime entry comes as one
        ("segment", save area, frames left) instead, for a caller that walks it its own
        way (a profiler collecting return addresses)."""
        frames, depth = thread.frames, 0
        transitions = nt.transitions
        for i, item in enumerate(transitions):
            if item[0] == "enter":
                # An OSR entry's interpreter frame stands for the native frame that
                # replaces it — until that frame starts (a thread stopped at its entry
                # poll is still, for the guest, in the interpreter's frame).
                replaced = item[3] and self._started(transitions, i + 1)
                yield from (("interp", f) for f in frames[depth:item[1] - replaced])
                depth = item[1]
                continue
            if segments:
                yield "segment", item[1], item[2]
                continue
            native = list(self.native_frames(item[1]))[item[2]:]
            for site, read, bp in reversed(native):
                if site.frames:          # not a function stopped at its entry poll
                    yield "native", site, read, bp
        yield from (("interp", f) for f in frames[depth:])

    def _started(self, transitions, i: int) -> bool:
        """Whether the outermost native frame of the exit at `transitions[i]` has started:
        only the innermost frame of an exit can be at its entry poll (a site with no
        frames), and then it is the outermost too when nothing is under it."""
        if i >= len(transitions) or transitions[i][0] != "exit":
            return True
        walk = itertools.islice(self.native_frames(transitions[i][1]), transitions[i][2],
                                None)
        innermost = next(walk, None)
        return innermost is None or bool(innermost[0].frames) or next(walk, None) is not None

    def virtual_frames(self, nt=None, thread=None):
        """Every guest frame of a thread (the calling one by default), outermost first:
        ("interp", Frame, None) for interpreter frames, ("native", (FunctionVersion,
        Instr), frame address) for each virtual frame of a native frame (several for
        inlined code)."""
        out = []
        for item in self.machine_frames(nt or self.current,
                                        thread or self.vm.current_thread()):
            if item[0] == "interp":
                out.append(("interp", item[1], None))
                continue
            _, site, _, bp = item
            for fd in reversed([f.desc for f in site.frames]):
                version = self.module.version(fd.func, fd.version)
                out.append(("native", (version, version.block(fd.block).instrs[fd.index]),
                            bp))
        return out

    def native_snapshots(self, nt, thread):
        """Every guest frame of a stopped thread, outermost first, as (kind, Frame, frame
        address, place): kind "interp" for interpreter frames (the frame itself), and for
        native code "native" (the compiled function's own frame) or "inlined" (a frame of
        code inlined into it), each a Frame rebuilt from the side table — a snapshot:
        changing it changes nothing (see `defer_value`); place is its index in its
        site's chain (0: innermost)."""
        out = []
        for item in self.machine_frames(nt, thread):
            if item[0] == "interp":
                out.append(("interp", item[1], None, 0))
                continue
            _, site, read, bp = item
            rebuilt, _ = self.rebuild(site, read)
            self._apply_deferred(nt, bp, rebuilt, keep=True)
            for j, frame in enumerate(rebuilt):
                out.append(("native" if j == 0 else "inlined", frame, bp, len(rebuilt) - 1 - j))
        return out

    def defer_value(self, nt, bp: int, place: int, name: str, value) -> None:
        """Set a variable of a native (or inlined) frame: the frame leaves lazily — when
        its call returns, at its next poll — and the interpreter resumes it with the value
        (HotSpot's deferred locals).  One native frame per thread may hold such values."""
        block = nt.block
        target = block[OFFSET["deopt_target"] // 8]
        if target not in (0, bp, DEOPT_ALL):
            raise VMError("another native frame of this thread is already marked to leave")
        nt.deferred.setdefault((bp, place), {})[name] = value
        if target != DEOPT_ALL:
            block[OFFSET["deopt_target"] // 8] = bp
        self._refresh_lazy(nt)

    @staticmethod
    def _apply_deferred(nt, bp: int, frames, keep: bool = False) -> None:
        """Put the values a client set into frames rebuilt from native frame `bp`
        (outermost first); `keep`: a snapshot, the values stay held for the deopt."""
        for j, frame in enumerate(frames):
            key = (bp, len(frames) - 1 - j)
            values = nt.deferred.get(key) if keep else nt.deferred.pop(key, None)
            for name, value in (values or {}).items():
                frame.set_value(name, value)

    def guest_stack(self):
        """The whole guest stack, outermost first, as [(FunctionVersion, Instr)]."""
        return [(f.code.version, f.instruction) if kind == "interp" else f
                for kind, f, _ in self.virtual_frames()]

    def roots(self):
        """Every traced value held by native frames of every thread (for the GC), as
        tagref64 words."""
        exits = [item for nt in self.native_threads for item in nt.transitions]
        for item in exits:
            if item[0] != "exit":
                continue
            for site, read, _ in self.native_frames(item[1]):
                for frame in site.frames:
                    for _, ty, loc in frame.variables():
                        if is_traced(ty):
                            word = read(loc)
                            yield tagref.from_ref(word) if isinstance(ty, RefType) else word
                for loc in site.gc_extra:
                    yield read(loc)
                if site.result is not None and is_traced(site.result[0]):
                    # A lazy exit after a call: the call's result, pending for the frames
                    # the exit rebuilds (its thread may wait for the VM lock there).
                    ty, loc = site.result
                    word = read(loc)
                    yield tagref.from_ref(word) if isinstance(ty, RefType) else word
        yield from self.inline_caches.roots()
        for nt in self.native_threads:
            yield nt.call_record[0]
            yield nt.call_record[2]

    def stats(self) -> dict:
        return {"compiled versions": self.stats_compiled,
                "invalidated versions": self.invalidations,
                "trampled regions": self.trampled_regions,
                "native sites": sum(len(c.table) for c in self.codes),
                "stack map bytes": sum(c.raw_stackmap_bytes for c in self.codes),
                "side table bytes": sum(c.table.nbytes for c in self.codes),
                "native deopts by reason": dict(self.deopts),
                "deopt replays (resumed from an earlier guard's state)": self.replays,
                **self.inline_caches.stats()}


# --- value conversions between Python values and native words ------------------------

def traced_parameters(sig) -> tuple:
    """(index, is a ref) of the parameters of `sig` the collector traces."""
    return tuple((i, isinstance(t, RefType)) for i, t in enumerate(sig.params) if is_traced(t))


def decode_word(word: int, ty, engine):
    """The Python value of IR type `ty` held in a 64-bit word."""
    word &= MASK64
    if isinstance(ty, DoubleType):
        return tagref.bits_double(word)
    if isinstance(ty, IntType):
        return word & ((1 << ty.bits) - 1)
    if isinstance(ty, FuncRefType):
        return engine.functions[word]
    return word


def encode_word(value, ty, engine) -> int:
    """The 64-bit word holding a Python value of IR type `ty`."""
    if isinstance(ty, DoubleType):
        return tagref.double_bits(value)
    if isinstance(ty, FuncRefType):
        return engine.function_id(value.name)
    return value & MASK64


def encode_arg(value, ty, engine):
    """A Python value as a ctypes argument of a native function."""
    if isinstance(ty, DoubleType):
        return float(value)
    if isinstance(ty, FuncRefType):
        return engine.function_id(value.name)
    return value


def decode_result(value, ty, engine):
    """A ctypes result of a native function as the Python value of its IR type."""
    if isinstance(ty, DoubleType):
        return float(value)
    return decode_word(value, ty, engine)

