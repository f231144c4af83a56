"""IR -> IR passes that keep deoptimization exact.

Every pass takes a Module and a FunctionVersion (or a Function, meaning its current
version) and returns a NEW FunctionVersion; the input is never changed, because frame
states elsewhere name it.  Outputs pass the verifier; the interpreter is the oracle.

| module        | pass                                                                 |
|---------------|----------------------------------------------------------------------|
| `inline.py`   | `inline_calls`: inlining, composing the callee's frame states         |
| `fold.py`     | `fold_constants`: constants, branches, guards, copy propagation       |
| `redundancy.py` | `eliminate_redundancy`: repeated computations, loads, implied guards |
| `dce.py`      | `eliminate_dead_code`: dead values (state and keep-alive uses count)  |
| `states.py`   | `share_states`, `count_states`: replay from the last valid state      |
| `osr.py`      | `osr_entry`: a function entering a version at a loop header           |
| `pipeline.py` | `optimize`: inline -> fold -> redundancy -> dce -> states -> dce      |
"""
