"""offramp: a micro virtual machine with an interpreter tier and an LLVM-built native tier.

Layers, bottom-up (a package imports only the ones below it): ir, interp, heap, native,
opt, runtime, lox, tools, and the `offramp` command in cli.py.  `config` and `trace`
sit under everything: they are the one switchboard and the one event table.
"""
