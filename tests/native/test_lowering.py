"""The native lowering of every instruction against the interpreter's semantics table.

The interpreter is the oracle: each case of tests/interp/test_semantics.py is compiled
through LLVM (whose verifier runs on every module) and must give the same bits.
"""
import pytest

from offramp.config import Config
from offramp.ir.ops import OPS
from offramp.native.lowerops import LOWER
from offramp.runtime import vm as vm_module

from tests.interp import test_semantics as table


@pytest.fixture(autouse=True)
def native_tier(monkeypatch):
    """Run the semantics table's functions in eager native mode."""
    original = vm_module.VM.__init__

    def init(self, module, config=None, *args, **kwargs):
        original(self, module, Config(tier="eager"), *args, **kwargs)
    monkeypatch.setattr(vm_module.VM, "__init__", init)


def compiled_count(vm):
    return len(vm.tiers.engine.codes)


@pytest.mark.parametrize("op,ty,operands,expected", table.CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(table.CASES)])
def test_arithmetic_and_comparisons_natively(op, ty, operands, expected):
    table.test_arithmetic_and_comparisons(op, ty, operands, expected)


@pytest.mark.parametrize("op,types,value,expected", table.CONVERSIONS,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(table.CONVERSIONS)])
def test_conversions_natively(op, types, value, expected):
    table.test_conversions(op, types, value, expected)


@pytest.mark.parametrize("op,value,expected", table.TAGREF,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(table.TAGREF)])
def test_tagref64_natively(op, value, expected):
    table.test_tagref64(op, value, expected)


def test_the_semantics_cases_really_run_native_code():
    from offramp.ir.types import I64
    created = []
    original = vm_module.VM.__init__

    def spy(self, *args, **kwargs):
        original(self, *args, **kwargs)
        created.append(self)
    vm_module.VM.__init__ = spy
    try:
        assert table.run_one("ADD", (2, 3), [I64, I64], I64, I64) == 5
    finally:
        vm_module.VM.__init__ = original
    assert compiled_count(created[0]) == 1


def test_every_instruction_has_a_native_lowering():
    assert set(LOWER) == set(OPS)
