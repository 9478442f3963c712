"""Research computations: parameter sweeps, walk-forward optimisation, overfitting statistics.

Pure computation over frames and strategies, with no I/O: a cluster maps
:func:`evaluate_chunk` over the chunks :func:`plan_chunks` cuts, and
:func:`run_sweep` and :func:`run_walk_forward` run the same steps in this process.
"""

from __future__ import annotations

from quantdesk.research.objective import Constraint, Objective
from quantdesk.research.space import Combination, ParameterSpace, parse_parameter_space
from quantdesk.research.sweep import (
    SweepResult,
    SweepRow,
    evaluate_chunk,
    plan_chunks,
    run_sweep,
    sweep_result,
)
from quantdesk.research.walk_forward import (
    WalkForwardFold,
    WalkForwardResult,
    WalkForwardWindow,
    run_walk_forward,
    walk_forward_windows,
)

__all__ = [
    "Combination",
    "Constraint",
    "Objective",
    "ParameterSpace",
    "SweepResult",
    "SweepRow",
    "WalkForwardFold",
    "WalkForwardResult",
    "WalkForwardWindow",
    "evaluate_chunk",
    "parse_parameter_space",
    "plan_chunks",
    "run_sweep",
    "run_walk_forward",
    "sweep_result",
    "walk_forward_windows",
]
