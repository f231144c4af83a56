"""Shared helpers for the optimizer tests: load IR text, run a given version, install."""
from offramp.ir.text import parse_module, print_version
from offramp.ir.verify import verify_module, verify_version
from offramp.runtime.vm import VM

HEADER = """
.typedef @i1 = int<1>
.typedef @i64 = int<64>
.typedef @dbl = double
.typedef @tr = tagref64
.typedef @void = void
.funcsig @unary = (@i64) -> (@i64)
.funcsig @binary = (@i64 @i64) -> (@i64)
.funcsig @ternary = (@i64 @i64 @i64) -> (@i64)
"""


def load(body: str):
    """A verified module from IR text (with the common header)."""
    module = parse_module(HEADER + body, "test.ir")
    verify_module(module)
    return module


def install(module, version):
    """Append `version` to its function (current from now on) and verify everything."""
    verify_version(module, version)
    module.functions[version.func].versions.append(version)
    verify_module(module)
    return version


def run(vm: VM, version, args):
    """Run a specific version (not necessarily the current one) to completion."""
    interp, thread = vm.interp, vm.main_thread
    base = len(thread.frames)
    thread.frames.append(interp.new_frame(version, list(args)))
    return interp.run(thread, base)


def text(module, version) -> str:
    return print_version(module, version)


def instr_ops(version) -> list:
    """Opcodes of a version, block by block (for checking what a pass left)."""
    return [i.op for b in version.blocks for i in b.instrs]


def frames_of(ctx) -> list:
    """(func, version, block, index) of every frame from the top, at a trap."""
    cursor, frames = ctx.cursor(), []
    while True:
        frames.append((cursor.func, cursor.version, cursor.block, cursor.index))
        if not cursor.has_caller():
            return frames
        cursor = cursor.next()
