"""Instances allocated by IR (offramp/lox/allocation.py): the free-list fast path in native
code and in the interpreter, the helper as the slow path, and the GC seeing both."""
import io

import pytest

from offramp.config import Config
from offramp.lox.allocation import PREFIX
from offramp.lox.codegen import compile_program
from offramp.lox.driver import run_lox
from offramp.lox.parser import parse_program
from offramp.lox.runtime import LoxRuntime

MANY = """
class Node {
  init(value, next) { this.value = value; this.next = next; }
}
class Empty {}
var total = 0;
for (var round = 0; round < 40; round = round + 1) {
  var list = nil;
  for (var i = 0; i < 500; i = i + 1) {
    list = Node(i, list);
    Empty();
  }
  while (list != nil) { total = total + list.value; list = list.next; }
}
print total;
"""


def run(source, **config):
    out, err = io.StringIO(), io.StringIO()
    status = run_lox(source, "alloc.lox", Config(**config), out, err)
    return status, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("config", [dict(tier="jit"), dict(tier="eager"),
                                    dict(tier="eager", deopt_stress=7),
                                    dict(tier="jit", gc_initial_threshold=64 * 1024)])
def test_many_instances_are_allocated_natively_with_the_same_output(config):
    expected = run(MANY, tier="interp")
    assert expected[1] == "4.99e+06\n"            # 40 * (0 + ... + 499), printed with %g
    assert run(MANY, stats=True, **config)[:2] == expected[:2]


def test_the_fast_path_bypasses_the_helper_and_the_heap_stays_consistent():
    script, errors = parse_program(MANY)
    assert not errors
    program = compile_program(script, profile=True)
    runtime = LoxRuntime(program, Config(tier="jit", gc_initial_threshold=64 * 1024),
                         io.StringIO())
    helper_calls = []
    helpers = runtime.vm.interp.helpers
    instantiate = helpers["lox.instantiate"]
    helpers["lox.instantiate"] = lambda *a: helper_calls.append(1) or instantiate(*a)
    runtime.run()
    assert runtime.stdout.getvalue() == "4.99e+06\n"
    allocators = [name for name in program.module.functions if name.startswith(PREFIX)]
    assert len(allocators) == 2                         # Node and Empty
    assert runtime.heap.stats()["collections"] > 0
    assert len(helper_calls) < 40 * 1000 // 4           # most allocations never call it
    runtime.heap.collect()
    runtime.heap.verify()


def test_under_gc_stress_every_allocation_takes_the_slow_path():
    assert run(MANY.replace("< 40", "< 2").replace("< 500", "< 30"), tier="eager",
               gc_stress=True)[1] == f"{2 * sum(range(30))}\n"


def test_a_class_with_more_field_slots_than_the_fast_path_fills_uses_the_helper():
    from offramp.lox.allocation import MAX_CAPACITY, instance_allocator
    fields = " ".join(f"this.f{k} = {k};" for k in range(MAX_CAPACITY + 1))
    source = f"class Wide {{ init() {{ {fields} }} }}\nvar w = Wide(); w = Wide();\nprint w.f3;"
    script, errors = parse_program(source)
    assert not errors
    runtime = LoxRuntime(compile_program(script, profile=True), Config(tier="interp"),
                         io.StringIO())
    runtime.run()
    cls = runtime.vm.read_global("lox.global.Wide")
    assert runtime.heap.class_root_shape(cls).max_fields == MAX_CAPACITY + 1
    assert instance_allocator(runtime, cls) is None
    assert run(source, tier="eager")[1] == "3\n"
