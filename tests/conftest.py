"""Shared test setup: the `--run-slow` and `--bless` switches and a fixture that runs the `offramp` command.

Tests marked `@pytest.mark.slow` (long stress runs) are skipped unless pytest is given
`--run-slow`; the default run covers them with a bounded, deterministic sample.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true", default=False,
                     help="also run tests marked slow (full stress sets)")
    parser.addoption("--bless", action="store_true", default=False,
                     help="rewrite golden files' expected output from the current printer")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-slow"):
        return
    skip_slow = pytest.mark.skip(reason="slow: run with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


def run_offramp(args, timeout=60.0):
    """Run `python -m offramp ARGS` from the checkout; returns the CompletedProcess (text).

    The child runs in UTF-8 mode so Lox strings print the same whatever the locale, and
    from the repository root so it imports this checkout's `offramp`.
    """
    env = dict(os.environ, PYTHONUTF8="1", PYTHONIOENCODING="utf-8")
    return subprocess.run([sys.executable, "-m", "offramp", *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, encoding="utf-8",
                          errors="backslashreplace", timeout=timeout)


@pytest.fixture(name="run_offramp")
def run_offramp_fixture():
    """The `run_offramp(args, timeout=60)` helper, for tests that run the command."""
    return run_offramp

