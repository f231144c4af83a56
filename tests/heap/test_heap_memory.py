"""The reservation: addresses, word and byte access, page spans, static memory."""
import subprocess
import sys

import pytest

from offramp.heap.memory import PAGE_BYTES, Memory


@pytest.fixture(name="memory")
def memory_fixture():
    memory = Memory(64 * PAGE_BYTES)
    yield memory
    memory.close()


def test_reservation_is_aligned_and_below_2_48(memory):
    assert memory.base % 4096 == 0
    assert memory.base + memory.size <= 1 << 48
    assert len(memory.mem64) == memory.size // 8
    assert memory.committed_bytes == 0


def test_words_and_bytes(memory):
    addr = memory.take_pages(1)
    memory.store64(addr + 8, 0xFFFF_0000_1234_5678)
    assert memory.load64(addr + 8) == 0xFFFF_0000_1234_5678
    assert memory.mem64[(addr - memory.base) // 8 + 1] == 0xFFFF_0000_1234_5678
    memory.store_bytes(addr + 16, b"abcdefgh")
    assert memory.load_bytes(addr + 16, 8) == b"abcdefgh"
    assert memory.load64(addr + 16) == int.from_bytes(b"abcdefgh", "little")


@pytest.mark.parametrize("bad", [lambda m: m.base - 8, lambda m: m.base + 4,
                                 lambda m: m.base + m.size])
def test_bad_addresses_raise(memory, bad):
    with pytest.raises(ValueError):
        memory.load64(bad(memory))
    with pytest.raises(ValueError):
        memory.load_bytes(memory.base + memory.size - 4, 8)


def test_given_pages_are_zeroed_and_reused(memory):
    a = memory.take_pages(1)
    memory.store64(a, 42)
    memory.store64(a + PAGE_BYTES - 8, 43)
    assert memory.pages_in_use == 1
    memory.give_pages(a, 1)
    assert memory.pages_in_use == 0
    b = memory.take_pages(1)
    assert b == a
    assert memory.load64(a) == 0 and memory.load64(a + PAGE_BYTES - 8) == 0


def test_free_runs_coalesce_for_large_spans(memory):
    pages = [memory.take_pages(1) for _ in range(5)]
    assert pages == [pages[0] + k * PAGE_BYTES for k in range(5)]
    for k in (1, 3, 2):
        memory.give_pages(pages[k], 1)
    assert memory.take_pages(3) == pages[1]          # the three freed pages, merged
    memory.give_pages(pages[4], 1)                   # touches the frontier: frontier shrinks
    assert memory.take_pages(2) == pages[4]


def test_exhaustion_returns_zero(memory):
    assert memory.take_pages(65) == 0
    assert memory.take_pages(64) == memory.base
    assert memory.take_pages(1) == 0
    assert memory.peak_committed_bytes == 64 * PAGE_BYTES


def test_static_memory_is_zeroed_distinct_and_aligned(memory):
    a = memory.alloc_static(3)
    b = memory.alloc_static(1)
    big = memory.alloc_static(3 * PAGE_BYTES // 8)
    assert a % 8 == 0 and b == a + 24
    assert all(memory.load64(x) == 0 for x in (a, a + 16, b, big, big + 3 * PAGE_BYTES - 8))
    assert memory.static_bytes == 32 + 3 * PAGE_BYTES
    assert not big <= a < big + 3 * PAGE_BYTES


RESERVE_UNDER_A_LIMIT = """
import resource, sys
from offramp.heap.errors import OutOfMemory
from offramp.heap.memory import Memory
with open("/proc/self/statm") as statm:
    mapped = int(statm.read().split()[0]) * resource.getpagesize()
limit = mapped + int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
try:
    print(Memory(1 << 32).size)
except OutOfMemory as error:
    print(error.message, error.detail)
"""


def reserve_under_a_limit(room: int) -> str:
    """What Memory(4 GiB) reserves in a process with `room` bytes of address space left."""
    return subprocess.run([sys.executable, "-c", RESERVE_UNDER_A_LIMIT, str(room)],
                          capture_output=True, text=True, timeout=60, check=True).stdout


def test_a_limited_address_space_gets_a_smaller_reservation():
    """With 300 MiB left: 256 MiB fits, and half of that is taken (the rest for the process)."""
    assert reserve_under_a_limit(300 << 20) == f"{128 << 20}\n"


def test_no_room_for_the_smallest_reservation_is_out_of_memory():
    out = reserve_under_a_limit(8 << 20)
    assert out.startswith("Out of memory. cannot reserve ")
