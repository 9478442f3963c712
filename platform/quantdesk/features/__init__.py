"""Features and labels for learning from bars, in strict time order (pure computation).

A :class:`FeatureSet` turns a canonical OHLCV frame into one row of numbers
per bar that uses only that bar and earlier ones; :func:`check_causal` proves
it on the data at hand by recomputing on truncated copies. Labels come from
forward returns over a horizon (:func:`forward_return_labels`) and are never
features. :func:`walk_forward_splits` cuts rows into training, validation
and test blocks that move forward in time, with a purge and an embargo of at
least the label horizon between them, never random folds.

>>> from quantdesk.features import get_feature_set, forward_return_labels
>>> features = get_feature_set("default").compute(frame)    # doctest: +SKIP
>>> labels = forward_return_labels(frame, horizon=4)        # doctest: +SKIP
"""

from __future__ import annotations

from quantdesk.features.labels import LABEL_KINDS, forward_return_labels
from quantdesk.features.sets import (
    FEATURE_SETS,
    FeatureSet,
    check_causal,
    default_feature_set,
    feature_set_names,
    get_feature_set,
    register_feature_set,
)
from quantdesk.features.splits import Split, minimum_rows, walk_forward_splits

__all__ = [
    "FEATURE_SETS",
    "LABEL_KINDS",
    "FeatureSet",
    "Split",
    "check_causal",
    "default_feature_set",
    "feature_set_names",
    "forward_return_labels",
    "get_feature_set",
    "minimum_rows",
    "register_feature_set",
    "walk_forward_splits",
]
