"""glibc is told to keep freed memory: large blocks then come back at the same address."""

import ctypes
import sys

import pytest

from nmt_cli.training.allocator import keep_freed_memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_large_blocks_are_reused_instead_of_unmapped():
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    assert keep_freed_memory()
    size = 8 << 20  # 8 MB: mmapped by default glibc, heap-served once kept
    first = libc.malloc(size)
    libc.free(first)
    second = libc.malloc(size)
    libc.free(second)
    assert first == second
