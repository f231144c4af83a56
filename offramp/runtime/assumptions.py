"""Assumptions: facts compiled code takes for granted without checking them, and who
depends on each.

A client's optimizer may compile code that relies on something true now and cheap to
watch — the Lox client assumes that a global holding a function or class keeps it, and
that no instance of a class has a field shadowing one of its methods — instead of
guarding it at every use.  It names each such fact by a key (a hashable tuple whose first
item is its kind), asks `holds(key)` before relying on it, and registers the version it
builds as a dependent (`depend`).  The client also watches the writes that could make the
fact false and calls `break_(key, why)` when one happens: every dependent version is then
dropped — its native code invalidated, so that no new call enters it and running
activations in every thread leave it lazily at their next call return or poll
(native/trample.py) — and the key is never assumed again: the function is compiled anew,
later, without it.

A version that relies on assumptions carries their keys (`FunctionVersion.assumptions`)
and only runs as native code: the interpreter runs the newest version without any
(`Function.interpretable`), because nothing could make an interpreter frame leave it.

`--assumption-stress=N` breaks every assumption held at every Nth runtime entry of native
code (a helper, a poll, a call into the runtime): the rare path of each, forced.
"""
from dataclasses import dataclass, field


@dataclass
class Assumptions:
    """The VM's table of assumptions: dependents by key, and the keys broken."""

    vm: object
    dependents: dict = field(default_factory=dict)   # key -> [FunctionVersion]
    broken: set = field(default_factory=set)
    registered: int = 0          # (key, version) dependencies made
    broken_count: int = 0        # keys broken that had dependents
    countdown: int = 0           # --assumption-stress: runtime entries to the next break
    # The client's text for a key (a class and method name rather than two addresses).
    describe: object = None

    def holds(self, key) -> bool:
        """Whether `key` may be assumed (it has never been broken)."""
        return key not in self.broken

    def depend(self, version, keys) -> None:
        """`version` (about to be compiled) relies on `keys`."""
        keys = frozenset(keys)
        if not keys:
            return
        version.assumptions = version.assumptions | keys
        for key in keys:
            self.dependents.setdefault(key, []).append(version)
            self.registered += 1
        if self.vm.tracer.on("tier"):
            assumed = sorted(self.text(k) for k in keys)
            self.vm.tracer.emit("tier", f"@{version.func} VERSION %{version.name} assumes "
                                        f"{', '.join(assumed)}", event="assumes",
                                function=version.func, version=version.name,
                                assumptions=assumed)

    def valid(self, version) -> bool:
        """Whether every assumption of `version` still holds."""
        return not (version.assumptions & self.broken)

    def break_(self, key, why: str) -> None:
        """A write made `key` false: drop every version relying on it, and never assume
        it again."""
        if key in self.broken:
            return
        self.broken.add(key)
        dependents = self.dependents.pop(key, [])
        if not dependents:
            return
        self.broken_count += 1
        self.vm.tracer.emit("tier", f"assumption broken: {self.text(key)} ({why}); "
                                    f"{len(dependents)} dependent version(s)",
                            event="assumption-broken", assumption=self.text(key), reason=why,
                            dependents=[f"@{v.func} %{v.name}" for v in dependents])
        for version in dependents:
            self.vm.drop_version(version)

    def stress_point(self) -> None:
        """--assumption-stress: count one runtime entry; at every Nth, break every
        assumption that has dependents."""
        every = self.vm.config.assumption_stress
        if not every or not self.dependents:
            return
        self.countdown -= 1
        if self.countdown > 0:
            return
        self.countdown = every
        for key in list(self.dependents):
            self.break_(key, "--assumption-stress")

    def text(self, key) -> str:
        """A key as the trace prints it: the client's words, else its kind and parts."""
        if self.describe is not None:
            return self.describe(key)
        return f"{key[0]}({', '.join(str(part) for part in key[1:])})"

    def stats(self) -> dict:
        return {"assumptions registered": self.registered,
                "assumptions broken": self.broken_count}
