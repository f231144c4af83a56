"""LLVM through llvmlite: one-time initialization and compiling LLVM IR text to machine code.

`ensure_llvm()` initializes the native target, its asm printer and its asm parser exactly
once per process.  The asm parser is not optional: without it a module containing
`module asm "..."` (the engine's hand-written entry stub) aborts the whole process with
"Inline asm not supported by this streamer" (see NATIVE-FACTS.md).  It also turns off
LLVM's patchpoint live-out analysis (`-enable-patchpoint-liveness=false`): on this LLVM 22
build (assertions on) any floating-point instruction reachable after a patchpoint makes MXCSR
live out of it, MXCSR has no DWARF number, and codegen aborts the process in
StackMaps.cpp ("Invalid Dwarf register number").  Nothing is lost: live-outs only tell
patch code which registers it must preserve, and our entry stub saves all of them anyway;
records then carry no live-outs.

`compile_ir(text, name)` is the one path from LLVM IR text to callable code: parse, verify,
optimize (FUNCTION_PASSES, -O1 codegen), JIT with MCJIT, and keep the emitted object file's
bytes (captured through the engine's object cache) so that its sections, `.llvm_stackmaps`
first of all, can be read.  The returned `CompiledObject` owns the execution engine: the
machine code stays mapped exactly as long as the object is alive.

The object file is ELF64 (x86-64 Linux).  Besides its sections, `CompiledObject` reads its
symbol table (each function's size, for checks and disassembly) and its relocation sections
(the `.llvm_stackmaps` function addresses are relocations against function symbols: the
object bytes hold zeros there, see stackmaps.function_names).
"""
import struct
import threading
from dataclasses import dataclass, field

import llvmlite.binding as llvm

_init_lock = threading.Lock()
_initialized = False

CODEGEN_LEVEL = 1
"""The target machine's optimization level: -O1 codegen (SelectionDAG, greedy register
allocation) gives the same code size as -O2 on our modules at half the codegen time."""

FAST_CODEGEN_ABOVE = 140
"""A module with more LLVM instructions than this outside its cold blocks (exits and slow
paths, lower.COLD_BLOCKS) is compiled with -O0 codegen (fast instruction selection and
register allocation): large units — OSR clones of whole scripts with their callees
inlined — are compiled once and their compile time is what the program waits for.
Measured side by side: method_call.lox's clones take 4x less codegen time at -O0 and the
run is 20% shorter; fib (124 such instructions, hot for its whole run) is 2.5x faster at
-O1 (counted with its cold blocks, as before, the NaN fix-ups of its arithmetic put it at
190 and at -O0).  A size is only a guess at how long code will run: recompiling code that
stays hot at -O1 would be the real answer.  Such modules also skip FUNCTION_PASSES: on
method_call's clones that is 2.5 + 1.5 ms less compile time for 1 ms more run time
(instcombine's tighter tag tests are what is lost)."""

FUNCTION_PASSES = ("instruction_combine", "simplify_cfg")
"""The LLVM passes run on every module compiled at CODEGEN_LEVEL, in order.  offramp's own
optimizer has already inlined, folded, removed redundant computations, loads and guards,
and dead code; what is left for LLVM is local clean-up (instcombine turns the NaN-box tests into single compares)
and the CFG.  Measured on the OSR clones of method_call.lox: with -O1 codegen this takes
less than half the time of the -O2 default pipeline for the same object code size, and
adding GVN (LLVM's) no longer changes the object code."""


def ensure_llvm() -> None:
    """Initialize llvmlite's native target, asm printer and asm parser, once per process."""
    global _initialized
    if _initialized:
        return
    with _init_lock:
        if not _initialized:
            llvm.initialize_native_target()
            llvm.initialize_native_asmprinter()
            llvm.initialize_native_asmparser()
            llvm.set_option("offramp", "-enable-patchpoint-liveness=false")
            _initialized = True


def target_machine(level: int = CODEGEN_LEVEL):
    """A new target machine for the host at codegen optimization `level`.

    Never share one: `create_mcjit_compiler` hands the target machine to the engine, which
    frees it with itself, so a second engine on the same machine crashes on disposal.
    """
    ensure_llvm()
    target = llvm.Target.from_triple(llvm.get_process_triple())
    return target.create_target_machine(opt=level, codemodel="jitdefault")


@dataclass(eq=False)
class CompiledObject:
    """Machine code of one LLVM module: its engine (keeps the code mapped) and object bytes."""

    name: str
    engine: object
    object_bytes: bytes
    _sections: dict = field(default_factory=dict, repr=False)

    def function_address(self, name: str) -> int:
        """The loaded address of function `name`; KeyError if the module does not define it."""
        address = self.engine.get_function_address(name)
        if not address:
            raise KeyError(f"{self.name}: no function {name!r}")
        return address

    def section(self, name: str) -> bytes | None:
        """The bytes of the object file's section `name` (e.g. '.llvm_stackmaps'), or None."""
        if not self._sections:
            self._sections.update(object_sections(self.object_bytes))
        return self._sections.get(name)

    def symbols(self) -> dict:
        """Named symbols of the object file: name -> Symbol."""
        table = elf_symbols(self.section(".symtab") or b"", self.section(".strtab") or b"")
        return {symbol.name: symbol for symbol in table if symbol.name}

    def function_size(self, name: str) -> int:
        """The size in bytes of function `name`'s machine code."""
        return self.symbols()[name].size

    def relocations(self, section: str) -> dict:
        """Offset in `section` -> name of the symbol relocated there (from `.rela<section>`)."""
        table = elf_symbols(self.section(".symtab") or b"", self.section(".strtab") or b"")
        rela = self.section(".rela" + section) or b""
        return {offset: table[info >> 32].name
                for offset, info, _ in _ELF_RELA.iter_unpack(rela)}


_ELF_SYMBOL = struct.Struct("<IBBHQQ")      # name, info, other, section, value, size
_ELF_RELA = struct.Struct("<QQq")            # offset, info (symbol << 32 | type), addend


@dataclass(frozen=True, slots=True)
class Symbol:
    """An ELF symbol: section-relative value (the function's offset) and size in bytes."""

    name: str
    value: int
    size: int


def _c_string(table: bytes, start: int) -> str:
    end = table.index(b"\0", start)
    return table[start:end].decode()


def elf_symbols(symtab: bytes, strtab: bytes) -> list:
    """Every entry of an ELF64 `.symtab`, in order (index 0 is the null symbol)."""
    return [Symbol(_c_string(strtab, name), value, size)
            for name, _, _, _, value, size in _ELF_SYMBOL.iter_unpack(symtab)]


def object_sections(object_bytes: bytes) -> dict:
    """Every named section of an object file: name -> contents (the iterator is reused)."""
    sections = {}
    for section in llvm.ObjectFileRef.from_data(object_bytes).sections():
        name = section.name()
        name = name.decode() if isinstance(name, bytes) else name
        if name:
            sections[name] = section.data()
    return sections


def codegen_level(llvm_ir_text: str, cold_blocks: tuple = ()) -> int:
    """CODEGEN_LEVEL, or 0 for a module of more than FAST_CODEGEN_ABOVE instructions
    (instruction lines are the indented ones), not counting those in blocks whose label
    starts with one of `cold_blocks`: exits and slow paths say little about how long the
    code will run."""
    count, cold = 0, False
    for line in llvm_ir_text.split("\n"):
        if line.startswith("  "):
            count += not cold
        elif line.endswith(":"):
            cold = line.startswith(cold_blocks) if cold_blocks else False
    return 0 if count > FAST_CODEGEN_ABOVE else CODEGEN_LEVEL


def optimize_module(module, tm) -> None:
    """Run FUNCTION_PASSES over `module` in place."""
    builder = llvm.create_pass_builder(tm, llvm.create_pipeline_tuning_options(speed_level=1))
    passes = llvm.create_new_module_pass_manager()
    for name in FUNCTION_PASSES:
        getattr(passes, f"add_{name}_pass")()
    passes.run(module, builder)


def compile_ir(llvm_ir_text: str, name: str, cold_blocks: tuple = ()) -> CompiledObject:
    """Parse, verify, optimize (FUNCTION_PASSES, for modules compiled at CODEGEN_LEVEL) and
    JIT `llvm_ir_text` as module `name` (`cold_blocks`: see codegen_level)."""
    level = codegen_level(llvm_ir_text, cold_blocks)
    tm = target_machine(level)
    module = llvm.parse_assembly(llvm_ir_text)
    module.name = name
    module.triple = tm.triple
    module.data_layout = str(tm.target_data)
    module.verify()
    if level:
        optimize_module(module, tm)
    engine = llvm.create_mcjit_compiler(module, tm)
    objects = []
    engine.set_object_cache(lambda _module, buffer: objects.append(bytes(buffer)))
    engine.finalize_object()
    if len(objects) != 1:
        raise RuntimeError(f"{name}: expected one object file from MCJIT, got {len(objects)}")
    return CompiledObject(name, engine, objects[0])
