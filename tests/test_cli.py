"""The `offramp` command's contract: options, the Config they build, exit statuses, messages."""
import re
import sys
import types
from pathlib import Path

import pytest

from offramp.cli import main, native_tier_available
from offramp.config import Config

REPO_ROOT = Path(__file__).resolve().parent.parent
HELLO = str(REPO_ROOT / "examples" / "hello.lox")
EXAMPLES = sorted(path.name for path in (REPO_ROOT / "examples").glob("*.lox"))


@pytest.fixture(name="fake_drivers")
def fake_drivers_fixture(monkeypatch):
    """Stand-ins for run_lox and run_ir that record their call and return 0."""
    calls = []

    def recorder(kind):
        def run(source, path, config, stdout, stderr):
            calls.append((kind, source, path, config))
            print(f"{kind} ran", file=stdout)
            return 0
        return run

    for module, function in (("offramp.lox.driver", "run_lox"),
                             ("offramp.runtime.ir_runner", "run_ir")):
        fake = types.ModuleType(module)
        setattr(fake, function, recorder(function))
        monkeypatch.setitem(sys.modules, module, fake)
    return calls


@pytest.mark.parametrize("argv", [
    [],
    ["frobnicate"],
    ["run"],
    ["run", "--tier=fast", HELLO],
    ["run", "--tier=interp", "--deopt-stress=often", HELLO],
    ["run", "--tier=interp", "--deopt-stress=-1", HELLO],
    ["run", "--tier=interp", "--max-frames=0", HELLO],
    ["run", "--tier=interp", "--no-such-option", HELLO],
    ["run", "--tier=interp", HELLO, "extra"],
    ["run", "--tier=interp", HELLO[:-3] + "txt"],
    ["debug"],
    ["dap", "x.lox"],          # the program comes with the launch request
])
def test_usage_errors_exit_64_with_a_message(argv, capsys):
    assert main(argv) == 64
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip()


def test_usage_error_shows_usage(capsys):
    assert main(["run", "--tier=fast", "x.lox"]) == 64
    err = capsys.readouterr().err
    assert err.startswith("usage: offramp run")
    assert "--tier" in err and "invalid choice: 'fast'" in err


def test_help_exits_0(capsys):
    assert main(["run", "--help"]) == 0
    assert "--deopt-stress" in capsys.readouterr().out


def test_unknown_trace_category_exits_64(capsys):
    assert main(["run", "--tier=interp", "--trace=gc,bogus", HELLO]) == 64
    err = capsys.readouterr().err
    assert "unknown trace category bogus" in err


def test_unreadable_file_exits_74(capsys, tmp_path):
    missing = tmp_path / "missing.lox"
    assert main(["run", "--tier=interp", str(missing)]) == 74
    assert capsys.readouterr().err == (
        f'offramp: could not read file "{missing}": No such file or directory\n')


def test_directory_is_unreadable(capsys, tmp_path):
    folder = tmp_path / "folder.lox"
    folder.mkdir()
    assert main(["run", "--tier=interp", str(folder)]) == 74
    assert capsys.readouterr().err.startswith(f'offramp: could not read file "{folder}": ')


def test_invalid_utf8_is_unreadable(capsys, tmp_path):
    path = tmp_path / "latin1.lox"
    path.write_bytes(b'print "caf\xe9";\n')
    assert main(["run", "--tier=interp", str(path)]) == 74
    assert "not valid UTF-8" in capsys.readouterr().err


@pytest.mark.parametrize("tier_args", [["--tier=jit"], ["--tier=eager"], []])
def test_native_tiers_run_programs(tier_args, run_offramp):
    assert native_tier_available()
    result = run_offramp(["run", *tier_args, "examples/hello.lox"])
    assert (result.returncode, result.stdout, result.stderr) == (0, "Hello, world!\n", "")


def test_options_build_one_config(fake_drivers, capsys):
    argv = ["run", "--tier=interp", "--gc-stress", "--deopt-stress=3", "--trace=gc,tier",
            "--stats", "--max-frames=64", "--dump-ir", HELLO]
    assert main(argv) == 0
    assert capsys.readouterr().out == "run_lox ran\n"
    (kind, source, path, config), = fake_drivers
    assert (kind, path) == ("run_lox", HELLO)
    assert source.startswith("// The smallest program")
    assert config == Config(tier="interp", gc_stress=True, deopt_stress=3,
                            trace=frozenset({"gc", "tier"}), stats=True, max_frames=64,
                            dump_ir=True)


def test_defaults_build_the_default_config(fake_drivers):
    assert main(["run", "--tier=interp", HELLO]) == 0
    (_, _, _, config), = fake_drivers
    assert config == Config(tier="interp")


def test_ir_files_go_to_the_ir_runner(fake_drivers, tmp_path, capsys):
    path = tmp_path / "empty.ir"
    path.write_text("")
    assert main(["run", "--tier=interp", str(path)]) == 0
    assert capsys.readouterr().out == "run_ir ran\n"
    assert [call[0] for call in fake_drivers] == ["run_ir"]


def test_python_dash_m_reports_usage_errors(run_offramp):
    result = run_offramp([])
    assert result.returncode == 64
    assert result.stderr.startswith("usage: offramp")


def test_python_dash_m_runs_hello(run_offramp):
    result = run_offramp(["run", "--tier=interp", "examples/hello.lox"])
    assert (result.returncode, result.stdout, result.stderr) == (0, "Hello, world!\n", "")


@pytest.mark.parametrize("example", EXAMPLES)
def test_examples_print_what_they_say(example, run_offramp):
    """Each example states its output in `// expect:` comments, like the Lox suite."""
    text = (REPO_ROOT / "examples" / example).read_text(encoding="utf-8")
    expected = "".join(m[1] + "\n" for m in re.finditer(r"// expect: ?(.*)", text))
    result = run_offramp(["run", "--tier=interp", f"examples/{example}"])
    assert (result.returncode, result.stdout, result.stderr) == (0, expected, "")


def test_ci_runs_the_readme_test_command():
    """The README's test command is, character for character, what .ci/run runs."""
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    command = next(line for line in readme.splitlines() if "pytest" in line)
    ci_lines = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert command in ci_lines
