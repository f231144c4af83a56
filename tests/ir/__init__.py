"""Tests of the IR core: text format, verifier, golden files."""
