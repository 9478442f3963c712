"""quantdesk: a Jupyter-native, multi-user trading analytics platform.

The package keeps its import light: heavy pieces load on first use, so
``import quantdesk`` stays fast in every kernel.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY_ATTRIBUTES: dict[str, str] = {
    "backtest": "quantdesk.api.backtest",
    "BacktestConfig": "quantdesk.engine",
    "BacktestResult": "quantdesk.engine",
    "Strategy": "quantdesk.strategies",
    "Parameter": "quantdesk.strategies",
    "Signals": "quantdesk.strategies",
    "Settings": "quantdesk.config",
    "Timeframe": "quantdesk.core.timeframe",
    "validate_ohlcv": "quantdesk.core.frame",
    "resample_ohlcv": "quantdesk.api.data",
    "gap_report": "quantdesk.api.data",
    "load": "quantdesk.api.data",
    "LoadResult": "quantdesk.api.data",
    "indicators": "quantdesk.indicators",
    "patterns": "quantdesk.patterns",
    "add_api_key": "quantdesk.api.keys",
    "get_api_key": "quantdesk.api.keys",
    "list_api_keys": "quantdesk.api.keys",
    "remove_api_key": "quantdesk.api.keys",
    "save_run": "quantdesk.api.runs",
    "list_runs": "quantdesk.api.runs",
    "load_run": "quantdesk.api.runs",
    "remove_run": "quantdesk.api.runs",
    "RunInfo": "quantdesk.api.runs",
    "SavedRun": "quantdesk.api.runs",
    "JobInfo": "quantdesk.api.jobs",
    "list_jobs": "quantdesk.api.jobs",
    "get_job": "quantdesk.api.jobs",
    "cancel_job": "quantdesk.api.jobs",
    "watch_jobs": "quantdesk.api.jobs",
    "CachedSeries": "quantdesk.api.cache",
    "list_cached_series": "quantdesk.api.cache",
    "remove_cached_series": "quantdesk.api.cache",
    "get_client": "quantdesk.api.cluster",
    "submit": "quantdesk.api.research",
    "sweep": "quantdesk.api.research",
    "Job": "quantdesk.api.research",
    "predict": "quantdesk.api.predictions",
    "train": "quantdesk.api.predictions",
    "PredictionReport": "quantdesk.api.predictions",
    "list_models": "quantdesk.api.predictions",
    "get_model": "quantdesk.api.predictions",
    "remove_model": "quantdesk.api.predictions",
}

__all__ = [
    "BacktestConfig",
    "BacktestResult",
    "CachedSeries",
    "Job",
    "JobInfo",
    "LoadResult",
    "Parameter",
    "PredictionReport",
    "RunInfo",
    "SavedRun",
    "Settings",
    "Signals",
    "Strategy",
    "Timeframe",
    "__version__",
    "add_api_key",
    "backtest",
    "cancel_job",
    "gap_report",
    "get_api_key",
    "get_client",
    "get_job",
    "get_model",
    "indicators",
    "list_api_keys",
    "list_cached_series",
    "list_jobs",
    "list_models",
    "list_runs",
    "load",
    "load_run",
    "patterns",
    "predict",
    "remove_api_key",
    "remove_cached_series",
    "remove_model",
    "remove_run",
    "resample_ohlcv",
    "save_run",
    "submit",
    "sweep",
    "train",
    "validate_ohlcv",
    "watch_jobs",
]

if TYPE_CHECKING:
    from quantdesk import indicators, patterns
    from quantdesk.api.backtest import backtest
    from quantdesk.api.cache import CachedSeries, list_cached_series, remove_cached_series
    from quantdesk.api.cluster import get_client
    from quantdesk.api.data import LoadResult, gap_report, load, resample_ohlcv
    from quantdesk.api.jobs import JobInfo, cancel_job, get_job, list_jobs, watch_jobs
    from quantdesk.api.keys import add_api_key, get_api_key, list_api_keys, remove_api_key
    from quantdesk.api.predictions import (
        PredictionReport,
        get_model,
        list_models,
        predict,
        remove_model,
        train,
    )
    from quantdesk.api.research import Job, submit, sweep
    from quantdesk.api.runs import (
        RunInfo,
        SavedRun,
        list_runs,
        load_run,
        remove_run,
        save_run,
    )
    from quantdesk.config import Settings
    from quantdesk.core.frame import validate_ohlcv
    from quantdesk.core.timeframe import Timeframe
    from quantdesk.engine import BacktestConfig, BacktestResult
    from quantdesk.strategies import Parameter, Signals, Strategy


def __getattr__(name: str) -> Any:
    module_name = _LAZY_ATTRIBUTES.get(name)
    if module_name is None:
        raise AttributeError(f"module 'quantdesk' has no attribute {name!r}")
    module = importlib.import_module(module_name)
    value = module if module_name == f"quantdesk.{name}" else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
