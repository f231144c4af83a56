"""Fixtures for the heap tests: small heaps that are unmapped when the test ends."""
import io

import pytest

from offramp.config import Config
from offramp.heap import Heap
from offramp.trace import Tracer


@pytest.fixture(name="make_heap")
def make_heap_fixture():
    """make_heap(reserve=..., poison=..., trace=False, **Config fields) -> Heap."""
    heaps = []

    def make(reserve=1 << 28, poison=None, trace=False, **config):
        tracer = Tracer({"gc"} if trace else (), stream=io.StringIO())
        heap = Heap(Config(heap_reserve_bytes=reserve, **config), tracer, poison=poison)
        heaps.append(heap)
        return heap

    yield make
    for heap in heaps:
        heap.close()


@pytest.fixture(name="heap")
def heap_fixture(make_heap):
    """A heap with poisoning on (so use-after-free fails) and the default threshold."""
    return make_heap(poison=True)
