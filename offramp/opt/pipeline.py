"""The optimization pipeline: inline, fold and remove redundancy (one walk), share frame
states, remove dead code.

`optimize` returns a new version of the function (not installed: the caller appends it to
`module.functions[f].versions` when it should become current, or hands it to the native
tier).  With `verify=True` (tests always pass it) the verifier runs after every pass, so a
pass that breaks an invariant is named by the failure.  `stats`, when given, receives the
number of distinct frame states before and after, which `--stats` reports.
"""
from ..ir.verify import VerifyError, verify_version
from .dce import eliminate_dead_code
from .redundancy import eliminate_redundancy
from .inline import DEFAULT_MAX_DEPTH, DEFAULT_MAX_GROWTH, always, inline_calls
from .rewrite import as_version
from .states import count_states, share_states


def optimize(module, version, new_name: str, *, inline=True, stats: dict | None = None,
             verify: bool = False, max_inline_depth: int = DEFAULT_MAX_DEPTH,
             max_inline_growth: int = DEFAULT_MAX_GROWTH, callee_version=None):
    """A new, optimized version `new_name` of `version` (or of a Function's current one).

    `inline` is True (inline every stateful call within budget), False, or a policy
    `should_inline(call, callee_version) -> bool`; `callee_version(name)` picks the version
    of a callee to inline (default: its current one).
    """
    version = as_version(module, version)

    def checked(pass_name, v):
        if verify:
            try:
                verify_version(module, v)
            except VerifyError as e:
                raise VerifyError(f"after {pass_name}: {e}") from e
        return v

    before = count_states(version) if stats is not None else 0
    v = version
    if inline:
        policy = always if inline is True else inline
        v = checked("inline", inline_calls(module, v, new_name, policy,
                                           max_depth=max_inline_depth,
                                           max_growth=max_inline_growth,
                                           callee_version=callee_version))
    v = checked("fold and redundancy", eliminate_redundancy(module, v, new_name))
    v = checked("share states", share_states(module, v, new_name))
    v = checked("dce", eliminate_dead_code(module, v, new_name))
    if stats is not None:
        stats["frame states before"] = before
        stats["frame states after"] = count_states(v)
    return v


def install(module, version) -> None:
    """Make `version` its function's current version (new calls enter it)."""
    func = module.functions[version.func]
    if any(v.name == version.name for v in func.versions):
        raise ValueError(f"@{func.name} already has a VERSION %{version.name}")
    func.versions.append(version)
