"""A fork server for campaigns: `offramp run` without paying Python's start-up for every run.

Starting `python -m offramp` costs about a quarter of a second (importing offramp and
llvmlite) — a third of a typical fuzz run.  A server process (`python -m
offramp.tools.fuzz.forkserver`) imports all of that once and then, for each request, forks
a child that runs the `offramp` module as `__main__` (runpy), as a fresh `python -m offramp`
process does: standard input from /dev/null, standard output and error into files, a CPU
limit (RLIMIT_CPU), exit status or signal as the process's own.  The server is
single-threaded, so forking it is safe.

Protocol: one JSON object per line on the server's stdin — {"argv": [...], "stdout": path,
"stderr": path, "cpu": seconds, "wall": seconds} — answered by one JSON line on its stdout:
{"status": exit status or -signal, "timed_out": bool}.  The server and its children form a
process group of their own (`ForkServer.kill` ends them all).
"""
import json
import os
import resource
import runpy
import signal
import subprocess
import sys
import tempfile
import time
import traceback

POLL_SECONDS = 0.002     # how often the server looks whether its child has ended
INTERNAL_FAILURE = 71    # the child could not even start the command (EX_OSERR)


def serve(requests, replies) -> None:
    """Answer requests until the input ends."""
    from offramp.lox import driver              # noqa: F401 - loaded once, before any fork
    from offramp.runtime import ir_runner, tiering  # noqa: F401
    for line in requests:
        request = json.loads(line)
        status, timed_out = run_forked(request)
        replies.write(json.dumps({"status": status, "timed_out": timed_out}) + "\n")
        replies.flush()


def run_forked(request: dict) -> tuple:
    """Fork a child running the command; (its status or -signal, whether it timed out)."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        try:
            _child(request)
        finally:
            os._exit(INTERNAL_FAILURE)
    deadline = time.monotonic() + request["wall"]
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return -signal.SIGKILL, True
        time.sleep(POLL_SECONDS)
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        return -signum, signum == signal.SIGXCPU
    return os.WEXITSTATUS(status), False


def _child(request: dict) -> None:
    """In the forked child: become `python -m offramp ARGV` and exit as it would."""
    cpu = max(1, int(request["cpu"]))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    _redirect(0, os.devnull, os.O_RDONLY)
    _redirect(1, request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    _redirect(2, request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    sys.argv = ["offramp", *request["argv"]]
    try:
        runpy.run_module("offramp", run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as stop:
        code = _exit_code(stop.code)
    except BaseException:  # noqa: BLE001 - as the interpreter would: traceback, status 1
        traceback.print_exc()
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:
            pass
    os._exit(code)


def _redirect(fd: int, path: str, flags: int) -> None:
    """Point file descriptor `fd` at `path`."""
    opened = os.open(path, flags, 0o600)
    os.dup2(opened, fd)
    os.close(opened)


def _exit_code(code) -> int:
    """The status `sys.exit(code)` gives a process (a message is printed, status 1)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


class ForkServer:
    """The campaign's side: one server process, used by one thread at a time."""

    def __init__(self, cwd, env: dict):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "offramp.tools.fuzz.forkserver"], cwd=cwd, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, encoding="utf-8",
            start_new_session=True)

    def run(self, argv, cpu_seconds: float, wall_seconds: float) -> tuple:
        """(stdout, stderr, status, timed_out) of `offramp ARGV` run in a forked child."""
        with tempfile.TemporaryDirectory(prefix="offramp-fork-") as folder:
            out, err = os.path.join(folder, "out"), os.path.join(folder, "err")
            request = {"argv": list(argv), "stdout": out, "stderr": err,
                       "cpu": cpu_seconds, "wall": wall_seconds}
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
            line = self.process.stdout.readline()
            if not line:
                raise ServerGone("the fork server ended")
            reply = json.loads(line)
            return (_read(out), _read(err), reply["status"], reply["timed_out"])

    def kill(self) -> None:
        """End the server and any child it is running."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()


class ServerGone(Exception):
    """The server process ended (killed by a stop, or crashed)."""


def _read(path: str) -> str:
    """A child's output file as text (missing: nothing was written)."""
    try:
        with open(path, encoding="utf-8", errors="backslashreplace") as file:
            return file.read()
    except FileNotFoundError:
        return ""


if __name__ == "__main__":
    serve(sys.stdin, sys.stdout)
