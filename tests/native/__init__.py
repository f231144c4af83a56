"""Tests of the native tier's building blocks: LLVM setup, stack map parsing, side tables."""
