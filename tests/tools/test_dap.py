"""`offramp dap`: a scripted DAP client drives sessions over pipes — breakpoints in hot
native loops and in code inlined into a compiled caller, variables read and changed,
steps, a pause of a running loop, evaluate, bad requests — and checks the messages.
Every wait has a timeout, so a hang fails the test instead of blocking the run."""
import json
import os
import queue
import subprocess
import sys
import textwrap
import threading

import pytest

from offramp.tools.dap import serve_dap
from tests.conftest import REPO_ROOT
from tests.tools.test_debugger import HOT, INLINED, STEPS

TIMEOUT = 20.0

FOREVER = textwrap.dedent("""\
    class P { init(x) { this.x = x; } }
    var p = P(3);
    var n = 0;
    print "looping";
    while (true) {
      n = n + 1;
    }
    """)


class Client:
    """A DAP client over two byte streams: numbered requests, and every message it
    receives kept in order (read by a thread, so a wait can time out)."""

    def __init__(self, to_adapter, from_adapter):
        self.to_adapter = to_adapter
        self.seq = 0
        self.inbox = queue.Queue()
        self.received = []
        threading.Thread(target=self._read, args=(from_adapter,), daemon=True).start()

    def _read(self, stream):
        while True:
            header = stream.readline()
            if not header:
                self.inbox.put(None)
                return
            assert header.startswith(b"Content-Length: "), header
            length = int(header.split(b":")[1])
            assert stream.readline() == b"\r\n"
            self.inbox.put(json.loads(stream.read(length)))

    def send_raw(self, body: bytes):
        self.to_adapter.write(b"Content-Length: %d\r\n\r\n%b" % (len(body), body))
        self.to_adapter.flush()

    def request(self, command, **arguments):
        """Send a request and return its response (events that came first are kept)."""
        self.seq += 1
        self.send_raw(json.dumps({"seq": self.seq, "type": "request", "command": command,
                                  "arguments": arguments}).encode())
        return self.next(lambda m: m["type"] == "response" and m["request_seq"] == self.seq)

    def ok(self, command, **arguments):
        response = self.request(command, **arguments)
        assert response["success"], response
        assert response["command"] == command
        return response.get("body")

    def event(self, name):
        return self.next(lambda m: m["type"] == "event" and m["event"] == name)

    def next(self, wanted):
        for message in self.received:
            if wanted(message) and not message.get("_taken"):
                message["_taken"] = True
                return message
        while True:
            message = self.inbox.get(timeout=TIMEOUT)
            assert message is not None, "the adapter closed its output"
            self.received.append(message)
            if wanted(message):
                message["_taken"] = True
                return message

    def output(self, category="stdout"):
        return "".join(m["body"]["output"] for m in self.received
                       if m.get("event") == "output" and m["body"]["category"] == category)

    def events(self):
        return [m["event"] for m in self.received if m["type"] == "event"]


@pytest.fixture
def session():
    """Start an adapter in this process on pipes; yields a function that launches a
    program (unless it is None) and returns the client at its `initialized` event."""
    started = []

    def start(tmp_path, source, **launch):
        c2a_read, c2a_write = os.pipe()
        a2c_read, a2c_write = os.pipe()
        adapter = threading.Thread(target=serve_dap, daemon=True, args=(
            os.fdopen(c2a_read, "rb"), os.fdopen(a2c_write, "wb")))
        adapter.start()
        client = Client(os.fdopen(c2a_write, "wb"), os.fdopen(a2c_read, "rb"))
        started.append((client, adapter))
        capabilities = client.ok("initialize", adapterID="offramp", linesStartAt1=True)
        assert capabilities["supportsConfigurationDoneRequest"]
        client.path = str(tmp_path / "t.lox")
        if source is not None:
            (tmp_path / "t.lox").write_text(source)
            client.ok("launch", program=client.path, **launch)
            client.event("initialized")
        return client

    yield start
    for client, adapter in started:
        client.to_adapter.close()         # the end of input ends the session
        adapter.join(TIMEOUT)
        assert not adapter.is_alive()


def in_native_code(client):
    """Wait until the program's loop runs in native code (`--trace=osr` says so)."""
    client.next(lambda m: m.get("event") == "output" and
                "[osr] enter" in m["body"]["output"])


def set_breakpoints(client, *lines):
    return client.ok("setBreakpoints", source={"path": client.path},
                     breakpoints=[{"line": line} for line in lines])["breakpoints"]


def finish(client, status=0):
    """Continue to the end: exited(status), then terminated, then disconnect."""
    client.ok("continue", threadId=1)
    assert client.event("exited")["body"] == {"exitCode": status}
    client.event("terminated")
    client.ok("disconnect")


@pytest.mark.parametrize("tier", ["jit", "eager"])
def test_a_breakpoint_in_a_hot_loop_reads_and_changes_it_and_the_program_ends(tmp_path,
                                                                              session,
                                                                              tier):
    client = session(tmp_path, HOT, tier=tier)
    [bp] = set_breakpoints(client, 7)
    assert bp["verified"] and bp["line"] == 7
    client.ok("configurationDone")
    stopped = client.event("stopped")["body"]
    assert stopped["reason"] == "breakpoint" and stopped["threadId"] == 1
    assert stopped["hitBreakpointIds"] == [bp["id"]] and stopped["allThreadsStopped"]
    assert client.ok("threads")["threads"] == [{"id": 1, "name": "main"}]
    frames = client.ok("stackTrace", threadId=1)["stackFrames"]
    script = "native" if tier == "eager" else "interp"
    assert [(f["name"], f["line"]) for f in frames] == [("work [native]", 7),
                                                        (f"script [{script}]", 13)]
    assert frames[0]["source"]["path"] == os.path.abspath(client.path)
    scopes = client.ok("scopes", frameId=frames[0]["id"])["scopes"]
    assert [s["name"] for s in scopes] == ["Locals", "Globals"]
    local = client.ok("variables", variablesReference=scopes[0]["variablesReference"])
    values = {v["name"]: v["value"] for v in local["variables"]}
    assert values == {"n": "10000", "sum": "1.25025e+07", "i": "5000"}
    changed = client.ok("setVariable", variablesReference=scopes[0]["variablesReference"],
                        name="i", value="5100")
    assert changed["value"] == "5100"
    assert client.ok("evaluate", expression="i", frameId=frames[0]["id"])["result"] == "5100"
    globals_ = client.ok("variables", variablesReference=scopes[1]["variablesReference"])
    assert [v["name"] for v in globals_["variables"]] == ["work"]
    set_breakpoints(client)                    # none left: the loop runs to its end
    finish(client)
    assert client.output() == f"{sum(range(5001)) + 1 + sum(range(5101, 10000)):g}\n"


@pytest.mark.parametrize("debuggable", [False, True])
def test_an_inlined_frame_in_a_compiled_caller(tmp_path, session, debuggable):
    client = session(tmp_path, INLINED, tier="jit", debuggable=debuggable)
    set_breakpoints(client, 5)
    client.ok("configurationDone")
    assert client.event("stopped")["body"]["description"] == "breakpoint in add (inlined)"
    frames = client.ok("stackTrace", threadId=1)["stackFrames"]
    assert [(f["name"], f["line"]) for f in frames] == [
        ("add [inlined]", 5), ("loop [native]", 12), ("script [interp]", 16)]
    assert len({f["id"] for f in frames}) == 3
    scopes = client.ok("scopes", frameId=frames[1]["id"])["scopes"]
    caller = client.ok("variables", variablesReference=scopes[0]["variablesReference"])
    assert {v["name"]: v["value"] for v in caller["variables"]}["i"] == "500"
    assert client.ok("evaluate", expression="t", frameId=frames[0]["id"])["result"] == \
        "125250"
    dead = client.ok("evaluate", expression="dead", frameId=frames[0]["id"])["result"]
    assert dead == ("249500" if debuggable else "<optimized out>")
    set_breakpoints(client)
    finish(client)
    assert client.output() == "499500\n"


def test_stop_on_entry_then_step_in_next_and_step_out(tmp_path, session):
    client = session(tmp_path, STEPS, tier="eager", stopOnEntry=True)
    client.ok("configurationDone")
    lines = []

    def where(reason):
        stopped = client.event("stopped")["body"]
        assert stopped["reason"] == reason
        top = client.ok("stackTrace", threadId=1, levels=1)["stackFrames"][0]
        lines.append((top["name"], top["line"]))
    where("entry")
    client.ok("next", threadId=1)
    where("step")
    client.ok("stepIn", threadId=1)
    where("step")
    client.ok("next", threadId=1)
    where("step")
    client.ok("stepOut", threadId=1)
    where("step")
    assert lines == [("script [interp]", 1), ("script [interp]", 5), ("f [interp]", 2),
                     ("f [interp]", 3), ("script [interp]", 6)]
    finish(client)
    assert client.output() == "4\n"


def test_pause_a_running_loop_then_fields_globals_and_disconnect(tmp_path, session):
    client = session(tmp_path, FOREVER, tier="jit", trace="osr")
    client.ok("configurationDone")
    in_native_code(client)
    for _ in range(5):     # a pause at the clone's entry poll is still in the interpreter
        client.ok("pause", threadId=1)
        assert client.event("stopped")["body"]["reason"] == "pause"
        frames = client.ok("stackTrace", threadId=1)["stackFrames"]
        if frames[0]["name"] == "script [native]":
            break
        client.ok("continue", threadId=1)
    assert [(f["name"], f["line"]) for f in frames] in (
        [("script [native]", 5)], [("script [native]", 6)])
    scopes = client.ok("scopes", frameId=frames[0]["id"])["scopes"]
    globals_ = client.ok("variables", variablesReference=scopes[1]["variablesReference"])
    p = {v["name"]: v for v in globals_["variables"]}["p"]
    assert p["value"] == "P instance" and p["variablesReference"] > 0
    fields = client.ok("variables", variablesReference=p["variablesReference"])
    assert [(v["name"], v["value"], v["evaluateName"]) for v in fields["variables"]] == \
        [("x", "3", "p.x")]
    client.ok("setVariable", variablesReference=p["variablesReference"], name="x",
              value='"changed"')
    assert client.ok("evaluate", expression="p.x")["result"] == '"changed"'
    client.ok("continue", threadId=1)
    stale = client.request("variables", variablesReference=p["variablesReference"])
    assert not stale["success"] and "the program is running" in stale["message"]
    client.ok("pause", threadId=1)
    client.event("stopped")
    stale = client.request("variables", variablesReference=p["variablesReference"] + 50)
    assert not stale["success"] and "valid only until the program resumes" in \
        stale["message"]
    client.ok("disconnect")                    # ends the program
    assert client.event("exited")["body"] == {"exitCode": 0}


def test_bad_requests_are_answered_and_the_session_goes_on(tmp_path, session):
    client = session(tmp_path, STEPS, tier="interp")
    bad = [("bogus", {}, "unsupported request 'bogus'"),
           ("stackTrace", {}, "missing argument 'threadId'"),
           ("stackTrace", {"threadId": "one"}, "argument 'threadId' must be an integer"),
           ("scopes", {"frameId": 99}, "no frame 99 at this stop"),
           ("evaluate", {"expression": "nope"}, "no variable 'nope'"),
           ("launch", {"program": "x.lox"}, "a program was launched already"),
           ("setBreakpoints", {"source": {}, "breakpoints": [{"line": "2"}]},
            "argument 'line' must be an integer")]
    for command, arguments, message in bad:
        response = client.request(command, **arguments)
        assert not response["success"] and message in response["message"], response
    client.send_raw(b"{not json")
    client.to_adapter.write(b"Content-Length: -3\r\n\r\n")
    [bp, nowhere] = set_breakpoints(client, 6, 40)
    assert bp["verified"] and not nowhere["verified"]
    assert nowhere["message"] == "no code at line 40"
    elsewhere = client.ok("setBreakpoints", source={"path": "other.lox"},
                          breakpoints=[{"line": 2}])["breakpoints"]
    assert elsewhere[0]["message"] == "not the launched program"
    client.ok("configurationDone")
    assert client.event("stopped")["body"]["hitBreakpointIds"] == [bp["id"]]
    frames = client.ok("stackTrace", threadId=1)["stackFrames"]
    scopes = client.ok("scopes", frameId=frames[0]["id"])["scopes"]
    bad_value = client.request("setVariable", name="a", value="1 +",
                               variablesReference=scopes[1]["variablesReference"])
    assert not bad_value["success"] and bad_value["message"] == "not a Lox literal: 1 +"
    finish(client)
    console = client.output("console")
    assert "offramp dap: ignored a message that is not JSON" in console
    assert "offramp dap: ignored a bad Content-Length: -3" in console


def test_a_launch_that_cannot_be_obeyed_fails_and_another_may_follow(tmp_path, session):
    client = session(tmp_path, None)
    response = client.request("stackTrace", threadId=1)
    assert response["message"] == "no program: launch one first"
    assert client.ok("threads") == {"threads": []}
    (tmp_path / "t.lox").write_text("print 1;\n")
    for arguments, message in [
            ({}, "missing argument 'program'"),
            ({"program": str(tmp_path / "none.lox")}, 'could not read file'),
            ({"program": client.path, "tier": "fast"}, "tier must be one of interp, jit, eager"),
            ({"program": client.path, "trace": "gc,bogus"}, "unknown trace categories bogus"),
            ({"program": client.path, "debuggable": "yes"},
             "argument 'debuggable' must be a boolean")]:
        response = client.request("launch", **arguments)
        assert not response["success"] and message in response["message"], response
    client.ok("launch", program=client.path, tier="eager", trace=["tier"])
    client.event("initialized")
    finish(client)
    assert client.output() == "1\n" and "[tier]" in client.output("stderr")


def test_errors_go_to_stderr_and_the_exit_status_to_exited(tmp_path, session):
    client = session(tmp_path, 'print "a";\nprint 1 + nil;\n', tier="jit")
    client.ok("configurationDone")
    assert client.event("exited")["body"] == {"exitCode": 70}
    client.event("terminated")
    assert client.events()[-4:] == ["output", "output", "exited", "terminated"]
    assert client.output() == "a\n"
    assert client.output("stderr") == "Operands must be two numbers or two strings.\n" \
                                      "[line 2] in script\n"
    response = client.request("stackTrace", threadId=1)
    assert not response["success"] and response["message"] == "the program has ended"
    client.ok("disconnect")


def test_offramp_dap_command_speaks_on_stdio(tmp_path):
    """The command itself (a compile error: launch fails, with the errors as output)."""
    program = tmp_path / "bad.lox"
    program.write_text("print ;\n")
    process = subprocess.Popen([sys.executable, "-m", "offramp", "dap"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    try:
        client = Client(process.stdin, process.stdout)
        client.ok("initialize", adapterID="offramp")
        response = client.request("launch", program=str(program))
        assert not response["success"] and "did not compile (exit status 65)" in \
            response["message"]
        assert "Expect expression." in client.output("stderr")
        assert client.event("exited")["body"] == {"exitCode": 65}
        client.event("terminated")
        client.ok("disconnect")
        assert process.wait(TIMEOUT) == 0
    finally:
        process.kill()
        process.wait()


def test_a_breakpoint_set_while_a_native_loop_runs_stops_it(tmp_path, session):
    client = session(tmp_path, FOREVER, tier="jit", trace="osr")
    client.ok("configurationDone")
    in_native_code(client)
    [bp] = set_breakpoints(client, 6)
    assert bp["verified"]
    stopped = client.event("stopped")["body"]
    assert stopped["reason"] == "breakpoint" and stopped["hitBreakpointIds"] == [bp["id"]]
    frames = client.ok("stackTrace", threadId=1)["stackFrames"]
    assert [f["line"] for f in frames] == [6]
    set_breakpoints(client)
    client.ok("continue", threadId=1)
    client.ok("pause", threadId=1)
    assert client.event("stopped")["body"]["reason"] == "pause"
    client.ok("disconnect", terminateDebuggee=True)
    assert client.event("exited")["body"] == {"exitCode": 0}


THREADS = textwrap.dedent("""\
    var started = false;
    var lock = Lock();
    fun other() {
      started = true;
      lock.acquire();
      lock.release();
      return 2;
    }
    lock.acquire();
    var t = spawn(other);
    while (!started) {}
    print "both";
    lock.release();
    print join(t);
    """)


def test_every_thread_is_listed_and_stopped_at_a_breakpoint(tmp_path, session):
    client = session(tmp_path, THREADS, tier="jit")
    set_breakpoints(client, 12)
    client.ok("configurationDone")
    stopped = client.event("stopped")["body"]
    assert stopped["threadId"] == 1 and stopped["allThreadsStopped"]
    threads = client.ok("threads")["threads"]
    assert [t["id"] for t in threads] == [1, 2] and threads[0]["name"] == "main"
    frames = client.ok("stackTrace", threadId=2)["stackFrames"]
    assert frames[0]["name"] == "other [interp]" and frames[0]["line"] in (4, 5)
    assert client.ok("stackTrace", threadId=1)["stackFrames"][0]["line"] == 12
    finish(client)
    assert client.output() == "both\n2\n"


def test_disconnect_without_terminating_lets_the_program_run_to_its_end(tmp_path, session):
    client = session(tmp_path, HOT, tier="jit")
    set_breakpoints(client, 7)
    client.ok("configurationDone")
    client.event("stopped")
    client.ok("disconnect", terminateDebuggee=False)
    assert client.events()[-3:] == ["output", "exited", "terminated"]
    assert client.output() == f"{sum(range(10000)) + 1:g}\n"
