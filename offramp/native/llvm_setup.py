"""LLVM through llvmlite: one-time initialization and compiling LLVM IR text to machine code.

`ensure_llvm()` initializes the native target, its asm printer and its asm parser exactly
once per process.  The asm parser is not optional: without it a module containing
`module asm "..."` (the engine's hand-written entry stub) aborts the whole process with
"Inline asm not supported by this streamer" (see NATIVE-FACTS.md).

`compile_ir(text, name)` is the one path from LLVM IR text to callable code: parse, verify,
optimize at -O2 with the new pass manager, JIT with MCJIT, and keep the emitted object file's
bytes (captured through the engine's object cache) so that its sections, `.llvm_stackmaps`
first of all, can be read.  The returned `CompiledObject` owns the execution engine: the
machine code stays mapped exactly as long as the object is alive.
"""
import threading
from dataclasses import dataclass, field

import llvmlite.binding as llvm

_init_lock = threading.Lock()
_initialized = False
_target_machine = None

OPT_LEVEL = 2


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
            _initialized = True


def target_machine():
    """The host's target machine at -O2 (shared: target machines are immutable here)."""
    global _target_machine
    ensure_llvm()
    with _init_lock:
        if _target_machine is None:
            target = llvm.Target.from_triple(llvm.get_process_triple())
            _target_machine = target.create_target_machine(opt=OPT_LEVEL,
                                                           codemodel="jitdefault")
        return _target_machine


@dataclass(eq=False)
class CompiledObject:
    """Machine code of one LLVM module: its engine (keeps the code mapped) and object bytes."""

    name: str
    engine: object
    object_bytes: bytes
    optimized_ir: str
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


def object_sections(object_bytes: bytes) -> dict:
    """Every named section of an object file: name -> contents (the iterator is reused)."""
    sections = {}
    for section in llvm.ObjectFileRef.from_data(object_bytes).sections():
        name = section.name()
        name = name.decode() if isinstance(name, bytes) else name
        if name:
            sections[name] = section.data()
    return sections


def compile_ir(llvm_ir_text: str, name: str) -> CompiledObject:
    """Parse, verify, optimize (-O2, new pass manager) and JIT `llvm_ir_text` as module `name`."""
    tm = target_machine()
    module = llvm.parse_assembly(llvm_ir_text)
    module.name = name
    module.triple = tm.triple
    module.data_layout = str(tm.target_data)
    module.verify()
    builder = llvm.create_pass_builder(tm, llvm.create_pipeline_tuning_options(speed_level=OPT_LEVEL))
    builder.getModulePassManager().run(module, builder)
    optimized_ir = str(module)
    engine = llvm.create_mcjit_compiler(module, tm)
    objects = []
    engine.set_object_cache(lambda _module, buffer: objects.append(bytes(buffer)))
    engine.finalize_object()
    if len(objects) != 1:
        raise RuntimeError(f"{name}: expected one object file from MCJIT, got {len(objects)}")
    return CompiledObject(name, engine, objects[0], optimized_ir)
