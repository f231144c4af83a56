"""A differential campaign: generate programs, run them in every mode, compare, shrink.

Each program runs as `python -m offramp run FILE` in a child process (with a timeout; forked
from a fork server that has loaded offramp once, forkserver.py, unless --no-fork-server), first
in the oracle mode `--tier=interp`, then in each native mode of MODES; every mode must give
the oracle's stdout, stderr and exit status.  A timeout, a signal, a Python traceback or an
LLVM error is a finding even where the oracle fails the same way.  With `--clox PATH`,
programs that use no offramp extension are also run by clox, and the oracle must match it.
Findings are grouped by signature (mode and kind of difference); the first few programs of
each signature are shrunk (shrink.py) and written, with a report, to the output directory.
"""
import argparse
import concurrent.futures
import importlib
import os
import random
import re
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from .forkserver import ForkServer, ServerGone
from .shrink import shrink_lines, shrink_tree
from .tree import render

REPO_ROOT = Path(__file__).resolve().parents[3]
ORACLE = "interp"
EXIT_USAGE = 64


@dataclass(frozen=True)
class Kind:
    """One kind of program: its file suffix, its generator (`module:function`, seed ->
    text), the generator of its tree if it has one (for structural shrinking), and the
    modes a campaign runs by default."""

    name: str
    suffix: str
    generator: str
    tree_generator: str | None
    default_modes: tuple
    clox_comparable: bool


KINDS = {
    "lox": Kind("lox", ".lox", "offramp.tools.fuzz.lox_gen:generate",
                "offramp.tools.fuzz.lox_gen:generate_tree",
                ("jit", "eager", "eager-deopt1", "deopt-random", "gc-stress", "ic-stress",
                 "assume-stress", "break-stress"), True),
    "ir": Kind("ir", ".ir", "offramp.tools.fuzz.ir_gen:generate", None,
               ("jit", "eager", "eager-deopt1", "deopt-random", "gc-stress"), False),
    # Threaded Lox programs whose output does not depend on the interleaving (clox has
    # no threads): every mode, and handshakes at every poll or every 7th.
    "threads": Kind("threads", ".lox", "offramp.tools.fuzz.thread_gen:generate",
                    "offramp.tools.fuzz.thread_gen:generate_tree",
                    ("jit", "eager", "eager-deopt1", "gc-stress", "handshake1", "handshake7",
                     "ic-stress", "assume-stress", "break-stress"), False),
}


def _deopt_random(seed: int) -> list:
    """`--deopt-stress=N` with N in 2..7 and the tier (jit or eager) drawn from the seed."""
    rng = random.Random(seed * 7919 + 17)
    return [f"--tier={rng.choice(('jit', 'eager'))}", f"--deopt-stress={rng.randint(2, 7)}"]


@dataclass(frozen=True)
class Mode:
    """A way to run a program: its command-line options for a seed, and which seeds."""

    name: str
    options: object          # seed -> list of options
    sample: int = 1          # run on seeds divisible by this

    def runs_on(self, seed: int) -> bool:
        """Whether the mode runs on this seed (its sample)."""
        return seed % self.sample == 0


MODES = {mode.name: mode for mode in (
    Mode("interp", lambda seed: ["--tier=interp"]),
    Mode("jit", lambda seed: ["--tier=jit"]),
    Mode("eager", lambda seed: ["--tier=eager"]),
    Mode("eager-deopt1", lambda seed: ["--tier=eager", "--deopt-stress=1"]),
    Mode("deopt-random", _deopt_random),
    Mode("gc-stress", lambda seed: ["--tier=jit", "--gc-stress"], sample=10),
    Mode("handshake1", lambda seed: ["--tier=jit", "--handshake-stress=1"]),
    Mode("handshake7", lambda seed: ["--tier=eager", "--handshake-stress=7"]),
    Mode("ic-stress", lambda seed: ["--tier=eager", f"--ic-stress={1 + seed % 3}"]),
    Mode("assume-stress", lambda seed: [("--tier=jit", "--tier=eager")[seed % 2],
                                        f"--assumption-stress={1 + seed % 5}"]),
    Mode("break-stress", lambda seed: [("--tier=jit", "--tier=eager")[seed % 2],
                                       f"--breakpoint-stress={1 + seed % 3}"]),
)}


NATIVE_MODES = frozenset(MODES) - {ORACLE}


class MissingGenerator(Exception):
    """The kind's generator module is not in this checkout."""


def load(reference: str):
    """The function named by `module:function`, imported now."""
    module_name, function_name = reference.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name == module_name:
            raise MissingGenerator(f"offramp fuzz: the generator {module_name} is not built "
                                   f"(no module {module_name})") from None
        raise
    return getattr(module, function_name)


@dataclass
class Outcome:
    """What one run printed and how it ended."""

    stdout: str
    stderr: str
    status: int
    timed_out: bool = False


def run_offramp(campaign, path: str, options) -> Outcome:
    """`python -m offramp run PATH OPTIONS` from the repository root, as the tests run it
    (forked from a fork server that has loaded offramp already, unless the campaign says
    not to)."""
    argv = ["run", path, *options]
    if campaign.fork_servers is not None:
        return campaign.fork_servers.run(argv, campaign.timeout)
    return _run([sys.executable, "-m", "offramp", *argv], campaign.timeout)


class ForkServers:
    """One fork server (forkserver.py) per worker thread, started on first use; a stop
    kills them all, with the runs they have under way."""

    def __init__(self):
        self.local = threading.local()
        self.started = []
        self.lock = threading.Lock()

    def run(self, argv, timeout: float) -> Outcome:
        """A run of `offramp ARGV` in this thread's server."""
        server = getattr(self.local, "server", None)
        if server is None:
            server = self.local.server = ForkServer(REPO_ROOT, _child_env())
            with self.lock:
                self.started.append(server)
        try:
            stdout, stderr, status, timed_out = server.run(argv, timeout,
                                                           timeout * WALL_FACTOR)
        except ServerGone:
            self.local.server = None
            return Outcome("", "", -signal.SIGKILL)
        return Outcome(stdout, stderr, -1 if timed_out else status, timed_out)

    def kill_all(self) -> None:
        """End every server and its child."""
        with self.lock:
            for server in self.started:
                server.kill()


_CHILDREN = set()
_CHILDREN_LOCK = threading.Lock()


class Stopped(Exception):
    """The campaign was told to stop (SIGTERM, Ctrl-C): finish with what was run."""


WALL_FACTOR = 5
"""The timeout is CPU time (RLIMIT_CPU, so a loaded machine does not make runs time out);
a run is also stopped after WALL_FACTOR times as long in wall-clock time (a hang that
sleeps)."""


def _limit_cpu(process, seconds: float) -> None:
    """Give the child `seconds` of CPU time (then SIGXCPU); set from outside with prlimit,
    as a preexec_fn is not safe with the campaign's threads."""
    whole = max(1, int(seconds))
    try:
        resource.prlimit(process.pid, resource.RLIMIT_CPU, (whole, whole + 1))
    except (ProcessLookupError, PermissionError):  # already gone: nothing to limit
        pass


def _run(argv, timeout: float) -> Outcome:
    """Run a child process with a timeout; it is registered so that a stop can kill it."""
    with subprocess.Popen(argv, cwd=REPO_ROOT, env=_child_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, encoding="utf-8",
                          errors="backslashreplace") as process:
        _limit_cpu(process, timeout)
        with _CHILDREN_LOCK:
            _CHILDREN.add(process)
        try:
            stdout, stderr = process.communicate(timeout=timeout * WALL_FACTOR)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
            return Outcome(_text(stdout), _text(stderr), -1, timed_out=True)
        finally:
            with _CHILDREN_LOCK:
                _CHILDREN.discard(process)
    if process.returncode == -signal.SIGXCPU:
        return Outcome(stdout, stderr, -1, timed_out=True)
    return Outcome(stdout, stderr, process.returncode)


def _child_env() -> dict:
    """The environment of every run: output in UTF-8 whatever the locale."""
    return dict(os.environ, PYTHONUTF8="1", PYTHONIOENCODING="utf-8")


def _kill_children(campaign) -> None:
    """Kill the runs under way (the campaign is stopping)."""
    if campaign.fork_servers is not None:
        campaign.fork_servers.kill_all()
    with _CHILDREN_LOCK:
        for process in list(_CHILDREN):
            process.kill()


def _text(data) -> str:
    """Captured output as text (a timeout may leave bytes or None)."""
    if data is None:
        return ""
    return data if isinstance(data, str) else data.decode("utf-8", "backslashreplace")


LLVM_ERROR = re.compile(r"(LLVM ERROR: .*|error: <unknown>:\d+:\d+: .*)")
INTERNAL_ERROR = re.compile(r"offramp: internal error: (\w+: [^(]*)")


def crash_signature(outcome: Outcome) -> str | None:
    """How a run failed on its own (whatever the oracle did), or None."""
    if outcome.timed_out:
        return "timeout"
    if outcome.status < 0:
        try:
            return f"killed by {signal.Signals(-outcome.status).name}"
        except ValueError:
            return f"killed by signal {-outcome.status}"
    if "Traceback (most recent call last)" in outcome.stderr:
        last = [line for line in outcome.stderr.splitlines() if line.strip()][-1]
        return f"exit {outcome.status} + Python traceback: {_normalize(last.split(':')[0])}"
    llvm = LLVM_ERROR.search(outcome.stderr)
    if llvm:
        message = re.sub(r" in function '[^']*'", "", llvm.group(1))
        return f"exit {outcome.status} + LLVM error: {_normalize(message)}"
    internal = INTERNAL_ERROR.search(outcome.stderr)
    if internal:
        return f"exit {outcome.status} + internal error: {_normalize(internal.group(1))}"
    if outcome.status not in (0, 65, 70):
        return f"exit {outcome.status}"
    return None


def _normalize(text: str) -> str:
    """Text with numbers masked, so findings that differ only in names group together."""
    return re.sub(r"\d+", "N", text.strip())[:120]


def difference_signature(expected: Outcome, actual: Outcome) -> str | None:
    """The kind of difference between the oracle's run and another, or None if equal."""
    crash = crash_signature(actual)
    if crash:
        return crash
    if actual.status != expected.status:
        return f"exit {actual.status} (expected {expected.status})"
    for stream in ("stdout", "stderr"):
        want, got = getattr(expected, stream), getattr(actual, stream)
        if want != got:
            first = _first_difference(want, got)
            return f"{stream} differs: {_normalize(first[0])} / {_normalize(first[1])}"
    return None


def _first_difference(expected: str, actual: str) -> tuple:
    """The first differing lines of two texts (empty string past the end)."""
    left, right = expected.splitlines(), actual.splitlines()
    for index in range(max(len(left), len(right))):
        a = left[index] if index < len(left) else ""
        b = right[index] if index < len(right) else ""
        if a != b:
            return a, b
    return "", ""


@dataclass
class Finding:
    """One program that failed in one mode."""

    kind: Kind
    seed: int
    mode: str
    options: list
    signature: str
    expected: Outcome
    actual: Outcome


@dataclass
class Campaign:
    """The settings of a campaign and its tallies (shared by the worker threads)."""

    kind: Kind
    modes: list
    out: Path
    shrink: bool = True
    clox: str | None = None
    timeout: float = 60.0
    per_signature: int = 3
    shrink_tests: int = 300
    shrink_seconds: float = 300.0
    runs: dict = field(default_factory=dict)
    mismatches: dict = field(default_factory=dict)
    by_signature: dict = field(default_factory=dict)
    saved: dict = field(default_factory=dict)
    stopped: bool = False
    fork_servers: ForkServers | None = None   # None: each run starts `python -m offramp`
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, mode: str, signature: str | None) -> None:
        """Tally one run of `mode` (and its mismatch, if any)."""
        with self.lock:
            self.runs[mode] = self.runs.get(mode, 0) + 1
            if signature:
                self.mismatches[mode] = self.mismatches.get(mode, 0) + 1
                key = (mode, signature)
                self.by_signature[key] = self.by_signature.get(key, 0) + 1

    def claim_slot(self, finding: Finding) -> bool:
        """Whether this finding is among the first `per_signature` programs of its signature
        (in any mode, one mode per program: one bug seen in four modes must not drown the
        others)."""
        with self.lock:
            seeds = self.saved.setdefault(_group(finding.mode, finding.signature), set())
            if len(seeds) >= self.per_signature or finding.seed in seeds:
                return False
            seeds.add(finding.seed)
            return True


def _group(mode: str, signature: str) -> str:
    """What the per-signature cap counts: the signature for native modes (one bug shows in
    several), the mode and signature for the oracle's own failures and clox's."""
    return signature if mode in NATIVE_MODES else f"{mode}: {signature}"


REPORT_HEAD = re.compile(r"kind: (\S+) +seed: (\d+) +mode: (\S+).*\nsignature: (.*)")


def saved_findings(out: Path, kind: Kind) -> dict:
    """The findings an earlier campaign saved in `out` (group -> seeds), read from their
    reports, so that the cap holds across campaigns."""
    saved = {}
    for path in sorted(out.glob("*.txt")) if out.is_dir() else ():
        head = REPORT_HEAD.match(path.read_text(encoding="utf-8", errors="replace"))
        if head and head.group(1) == kind.name:
            saved.setdefault(_group(head.group(3), head.group(4)), set()).add(int(head.group(2)))
    return saved


def run_seed(campaign: Campaign, generate, seed: int) -> list:
    """Run one program in the oracle and every mode; returns its findings."""
    text = generate(seed)
    with tempfile.TemporaryDirectory(prefix="offramp-fuzz-") as folder:
        path = os.path.join(folder, f"s{seed}{campaign.kind.suffix}")
        Path(path).write_text(text, encoding="utf-8")
        return _compare_modes(campaign, seed, path, text)


def _compare_modes(campaign: Campaign, seed: int, path: str, text: str) -> list:
    """Run the oracle, clox (if asked) and each mode on the file; the findings."""
    findings = []
    oracle_options = MODES[ORACLE].options(seed)
    expected = _unless_stopped(campaign, run_offramp(campaign, path, oracle_options))
    problem = crash_signature(expected)
    campaign.count(ORACLE, problem)
    if problem:
        empty = Outcome("", "", 0)
        findings.append(Finding(campaign.kind, seed, ORACLE, oracle_options, problem, empty,
                                expected))
        return findings
    if campaign.clox and campaign.kind.clox_comparable and not _uses_extensions(text):
        actual = _unless_stopped(campaign, _run([campaign.clox, path], campaign.timeout))
        signature = difference_signature(actual, expected)
        campaign.count("clox", signature)
        if signature:
            findings.append(Finding(campaign.kind, seed, "clox", oracle_options, signature,
                                    actual, expected))
    for name in campaign.modes:
        mode = MODES[name]
        if name == ORACLE or not mode.runs_on(seed):
            continue
        options = mode.options(seed)
        actual = _unless_stopped(campaign, run_offramp(campaign, path, options))
        signature = difference_signature(expected, actual)
        campaign.count(name, signature)
        if signature:
            findings.append(Finding(campaign.kind, seed, name, options, signature, expected,
                                    actual))
    return findings


STOP_GRACE = 0.5   # seconds for the stop handler to run after our children got the signal


def _unless_stopped(campaign: Campaign, outcome: Outcome) -> Outcome:
    """The outcome, unless the campaign is stopping (its child was killed by the stop, not
    by a bug): then Stopped is raised and the run is not counted."""
    if outcome.status in (-signal.SIGTERM, -signal.SIGKILL, -signal.SIGINT):
        time.sleep(STOP_GRACE)
    if campaign.stopped:
        raise Stopped
    return outcome


def _uses_extensions(text: str) -> bool:
    """Whether a Lox program calls natives clox lacks (then clox is not asked)."""
    from .lox_gen import uses_extensions
    return uses_extensions(text)


def still_fails(campaign: Campaign, finding: Finding):
    """The shrinker's predicate: the candidate fails in the same mode with the same
    signature."""
    def check(text: str) -> bool:
        """Whether `text` still fails the finding's way."""
        if campaign.stopped:
            raise Stopped
        with tempfile.TemporaryDirectory(prefix="offramp-shrink-") as folder:
            path = os.path.join(folder, f"c{campaign.kind.suffix}")
            Path(path).write_text(text, encoding="utf-8")
            oracle = run_offramp(campaign, path, MODES[ORACLE].options(finding.seed))
            if finding.mode == ORACLE:
                return crash_signature(oracle) == finding.signature
            if crash_signature(oracle) or oracle.status == 65:
                return False
            if finding.mode == "clox":
                reference = _run([campaign.clox, path], campaign.timeout)
                return difference_signature(reference, oracle) == finding.signature
            actual = run_offramp(campaign, path, finding.options)
            return difference_signature(oracle, actual) == finding.signature
    return check


def shrink_finding(campaign: Campaign, finding: Finding) -> tuple:
    """The finding's program shrunk (text, tests run); the original if shrinking is off."""
    kind = campaign.kind
    original = load(kind.generator)(finding.seed)
    if not campaign.shrink:
        return original, 0
    check = still_fails(campaign, finding)
    if kind.tree_generator:
        tree = load(kind.tree_generator)(finding.seed)
        small, tests = shrink_tree(tree, check, campaign.shrink_tests, campaign.shrink_seconds)
        return render(small) + "\n", tests
    return shrink_lines(original, check, campaign.shrink_tests, campaign.shrink_seconds)


def short_name(finding: Finding) -> str:
    """A file name for the finding: mode, signature words, seed."""
    gist = re.sub(r"^exit N \+ |error: <unknown>:N:N: |during register allocation", "",
                  re.sub(r"\d+", "N", finding.signature))
    words = re.sub(r"[^a-z0-9]+", "-", gist.lower()).strip("-")
    return f"{finding.mode}-{words[:48].rstrip('-')}-s{finding.seed}"


def save_finding(campaign: Campaign, finding: Finding, text: str, note: str) -> Path:
    """Write the program and its report into the output directory; returns the program's
    path."""
    campaign.out.mkdir(parents=True, exist_ok=True)
    name = short_name(finding)
    program = campaign.out / f"{name}{campaign.kind.suffix}"
    program.write_text(text, encoding="utf-8")
    (campaign.out / f"{name}.txt").write_text(report(campaign, finding, program, note),
                                             encoding="utf-8")
    return program


def report(campaign: Campaign, finding: Finding, program: Path, note: str) -> str:
    """A short report: seed, mode, signature, how to reproduce, the first differing lines."""
    lines = [f"kind: {finding.kind.name}   seed: {finding.seed}   mode: {finding.mode} "
             f"({' '.join(finding.options)})",
             f"signature: {finding.signature}", note, "",
             "reproduce (from the repository root):",
             f"  python -m offramp run {program} --tier=interp   # oracle",
             f"  python -m offramp run {program} {' '.join(finding.options)}"
             if finding.mode != "clox" else f"  {campaign.clox} {program}",
             f"  python -m offramp.tools.fuzz --kind {finding.kind.name} "
             f"--seeds {finding.seed}:{finding.seed + 1} "
             + (f"--modes {ORACLE} --clox {campaign.clox}" if finding.mode == "clox"
                else f"--modes {finding.mode}"), ""]
    expected_name = "clox" if finding.mode == "clox" else "oracle (interp)"
    actual_name = "offramp interp" if finding.mode == "clox" else finding.mode
    for stream in ("stdout", "stderr"):
        want, got = getattr(finding.expected, stream), getattr(finding.actual, stream)
        if want != got:
            lines += [f"{stream} differs; first differing lines:",
                      f"  {expected_name}: {_first_difference(want, got)[0]!r}",
                      f"  {actual_name}: {_first_difference(want, got)[1]!r}",
                      f"  {actual_name} {stream} tail: {got[-600:]!r}"]
    lines.append(f"exit status: {expected_name} {finding.expected.status}, "
                 f"{actual_name} {finding.actual.status}"
                 + (" (timed out)" if finding.actual.timed_out else ""))
    return "\n".join(lines) + "\n"


def handle_finding(campaign: Campaign, finding: Finding) -> str:
    """Save (the first few of a signature, shrunk); returns the line printed for it."""
    line = f"FAIL seed {finding.seed} [{finding.mode}] {finding.signature}"
    if not campaign.claim_slot(finding):
        return line
    original = load(campaign.kind.generator)(finding.seed)
    save_finding(campaign, finding, original, "(not shrunk yet)")
    text, tests = shrink_finding(campaign, finding)
    if not campaign.shrink:
        return f"{line} -> {save_finding(campaign, finding, text, 'not shrunk')}"
    shrunk = rerun(campaign, finding, text)
    note = f"shrunk from {len(original)} to {len(text)} characters in {tests} tests"
    return f"{line} -> {save_finding(campaign, shrunk, text, note)}"


def rerun(campaign: Campaign, finding: Finding, text: str) -> Finding:
    """The finding with the outputs of the (shrunk) program `text`, for its report."""
    with tempfile.TemporaryDirectory(prefix="offramp-shrunk-") as folder:
        path = os.path.join(folder, f"p{campaign.kind.suffix}")
        Path(path).write_text(text, encoding="utf-8")
        ours = run_offramp(campaign, path, finding.options)
        if finding.mode == ORACLE:
            return replace(finding, actual=ours)
        if finding.mode == "clox":
            return replace(finding, expected=_run([campaign.clox, path], campaign.timeout),
                           actual=ours)
        oracle = run_offramp(campaign, path, MODES[ORACLE].options(finding.seed))
        return replace(finding, expected=oracle, actual=ours)


def summary(campaign: Campaign) -> str:
    """Per mode: programs run and mismatches, then the count of each signature."""
    lines = ["", f"{'mode':<14}{'programs':>10}{'mismatches':>12}"]
    for mode, runs in campaign.runs.items():
        lines.append(f"{mode:<14}{runs:>10}{campaign.mismatches.get(mode, 0):>12}")
    if campaign.by_signature:
        lines += ["", "mismatches by signature:"]
        for (mode, signature), number in sorted(campaign.by_signature.items(),
                                                key=lambda item: -item[1]):
            lines.append(f"  {number:>5}  [{mode}] {signature}")
    return "\n".join(lines)


def parse_seeds(text: str) -> range:
    """`A:B` -> range(A, B); `A` -> just seed A."""
    if ":" in text:
        start, stop = text.split(":")
        return range(int(start), int(stop))
    return range(int(text), int(text) + 1)


class _Parser(argparse.ArgumentParser):
    """Bad usage exits 64 (EX_USAGE), as the `offramp` command does."""

    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The campaign's command line (also `offramp fuzz`)."""
    parser = _Parser(
        prog="offramp fuzz", description="Differential fuzzing: random programs run in the "
        "interpreter (oracle) and every native mode must behave the same.")
    parser.add_argument("--kind", choices=KINDS, default="lox")
    parser.add_argument("--seeds", type=parse_seeds, default=range(0, 100), metavar="A:B")
    parser.add_argument("--modes", default=None, metavar="M,M",
                        help=f"modes to compare with the oracle (default: the kind's); "
                             f"choose from {','.join(MODES)}")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("fuzz-findings"), metavar="DIR")
    parser.add_argument("--no-shrink", action="store_true")
    parser.add_argument("--clox", default=None, metavar="PATH",
                        help="also compare the oracle with this clox binary")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="CPU seconds per run before it counts as a timeout (wall-clock: "
                             f"{WALL_FACTOR} times as long)")
    parser.add_argument("--per-signature", type=int, default=3,
                        help="programs saved (and shrunk) per signature")
    parser.add_argument("--shrink-seconds", type=float, default=300.0,
                        help="time to shrink one finding (also at most 300 candidates)")
    parser.add_argument("--no-fork-server", action="store_true",
                        help="start `python -m offramp` for every run instead of forking it "
                             "from a server that has loaded offramp once (slower)")
    parser.add_argument("--progress", type=int, default=0, metavar="N",
                        help="a line on stderr every N programs (seed, runs, mismatches, "
                             "time), for long campaigns")
    return parser


def main(argv=None) -> int:
    """Run a campaign; exit status 1 if anything mismatched, 64 on bad usage."""
    args = build_parser().parse_args(argv)
    kind = KINDS[args.kind]
    modes = args.modes.split(",") if args.modes else list(kind.default_modes)
    unknown = [mode for mode in modes if mode not in MODES]
    if unknown:
        print(f"offramp fuzz: unknown mode(s) {', '.join(unknown)} "
              f"(choose from {', '.join(MODES)})", file=sys.stderr)
        return EXIT_USAGE
    try:
        generate = load(kind.generator)
    except MissingGenerator as missing:
        print(missing, file=sys.stderr)
        return EXIT_USAGE
    campaign = Campaign(kind, modes, args.out, shrink=not args.no_shrink, clox=args.clox,
                        timeout=args.timeout, per_signature=args.per_signature,
                        shrink_seconds=args.shrink_seconds,
                        fork_servers=None if args.no_fork_server else ForkServers())
    campaign.saved = saved_findings(args.out, kind)
    failed = _run_all(campaign, generate, args.seeds, max(1, args.jobs), args.progress)
    print(summary(campaign), flush=True)
    return 1 if failed else 0


def _run_all(campaign: Campaign, generate, seeds, jobs: int, progress: int = 0) -> bool:
    """Run every seed (on `jobs` threads, each driving child processes); True if any
    failed.  On SIGTERM or Ctrl-C the runs under way are killed and the tallies so far
    stand.  With `progress`, every that many programs a line on stderr says how far it is."""
    def one(seed: int) -> list:
        if campaign.stopped:
            return []
        return [handle_finding(campaign, finding)
                for finding in run_seed(campaign, generate, seed)]

    def stop(signum, frame):
        campaign.stopped = True
        raise Stopped

    previous = signal.signal(signal.SIGTERM, stop)
    failed = False
    pool = concurrent.futures.ThreadPoolExecutor(jobs)
    started = time.monotonic()
    try:
        for done, (seed, lines) in enumerate(zip(seeds, pool.map(one, seeds)), 1):
            for line in lines:
                failed = True
                print(line, flush=True)
            if progress and done % progress == 0:
                _report_progress(campaign, seed, done, time.monotonic() - started)
    except (Stopped, KeyboardInterrupt):
        campaign.stopped = True
        _kill_children(campaign)
        print("stopped: the summary counts the runs finished so far", flush=True)
        failed = failed or bool(campaign.mismatches)
    finally:
        signal.signal(signal.SIGTERM, previous)
        _wait_for_workers(campaign, pool)
        if campaign.fork_servers is not None:
            campaign.fork_servers.kill_all()
    return failed


def _report_progress(campaign: Campaign, seed: int, done: int, seconds: float) -> None:
    """One line on stderr: programs done, the last seed, runs and mismatches so far."""
    with campaign.lock:
        runs, mismatches = sum(campaign.runs.values()), sum(campaign.mismatches.values())
    print(f"offramp fuzz: {done} programs (last seed {seed}), {runs} runs, "
          f"{mismatches} mismatches, {seconds:.0f} s", file=sys.stderr, flush=True)


def _wait_for_workers(campaign, pool) -> None:
    """Let the runs in progress end; an interrupt while waiting (a worker may be shrinking)
    kills their children instead, so the summary is still printed, never a traceback."""
    try:
        pool.shutdown(wait=True, cancel_futures=True)
    except KeyboardInterrupt:
        campaign.stopped = True
        _kill_children(campaign)
        pool.shutdown(wait=False, cancel_futures=True)
