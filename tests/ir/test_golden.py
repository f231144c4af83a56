"""Golden IR files: each `golden/NAME.ir` parses, verifies, and prints as `NAME.ir.expected`.

The `.ir` files are written by hand (comments, free layout); the `.expected` files are the
printer's canonical form, regenerated with `pytest tests/ir --bless`.
"""
from pathlib import Path

import pytest

from offramp.ir.text import parse_module, print_module
from offramp.ir.verify import verify_module

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(GOLDEN.glob("*.ir"))


def test_there_are_golden_files():
    assert len(CASES) >= 4


@pytest.mark.parametrize("source", CASES, ids=lambda p: p.name)
def test_golden(source, request):
    module = parse_module(source.read_text(), str(source))
    verify_module(module)
    printed = print_module(module)
    expected_path = source.with_name(source.name + ".expected")
    if request.config.getoption("--bless", default=False):
        expected_path.write_text(printed)
    assert expected_path.exists(), f"{expected_path.name} is missing: run pytest --bless"
    assert printed == expected_path.read_text(), \
        f"{source.name} prints differently from {expected_path.name} (pytest --bless to accept)"
    assert parse_module(printed) == module
