"""The predictions page: your models, the latest probabilities, feature importance, auto-train.

"Predict" calls :func:`quantdesk.predict`, which reuses the newest fitting
model or trains and registers one (auto-train); the page says which it did
and why, then shows the latest bars' probabilities of an up move and the
signals they give. Choosing a model shows its out-of-sample scores and the
gain of its most important features.
"""

from __future__ import annotations

import datetime as dt
import html
from typing import Any

import holoviews as hv  # type: ignore[import-untyped]
import pandas as pd
import panel as pn

from quantdesk.api.predictions import (
    DEFAULT_MAX_AGE,
    ModelRecord,
    PredictionReport,
    list_models,
    predict,
)
from quantdesk.config import Settings
from quantdesk.errors import InvalidInputError
from quantdesk.ui.feedback import Notice, disabled_while, run_blocking
from quantdesk.ui.page import PAGE_WIDTH, build_page
from quantdesk.ui.parameter_widgets import MarketForm
from quantdesk.ui.stats_view import format_stat
from quantdesk.ui.tables import read_only_table, when

__all__ = ["models_frame", "predictions_page"]

LATEST_BARS = 24
FEATURES_SHOWN = 15


def predictions_page(settings: Settings | None = None) -> pn.layout.Column:
    """The predictions dashboard, as the viewer's database role.

    Predict with auto-train, latest probabilities, models; ``settings`` are read from the
    environment when None.
    """
    return build_page("predictions", _predictions, settings)


def models_frame(models: list[ModelRecord]) -> pd.DataFrame:
    """Registered models, one row each: data, training span and out-of-sample scores."""
    return pd.DataFrame(
        [
            {
                "model": str(model.id)[:8],
                "created": when(model.created_at),
                "data": model.data_address,
                "timeframe": model.timeframe,
                "features": f"{model.feature_set} v{model.feature_version}",
                "trained through": when(model.training_end),
                "AUC": format_stat(model.scores.get("auc")),
                "accuracy": format_stat(model.scores.get("accuracy")),
            }
            for model in models
        ],
        columns=[
            "model",
            "created",
            "data",
            "timeframe",
            "features",
            "trained through",
            "AUC",
            "accuracy",
        ],
    )


def _predictions(notice: Notice, settings: Settings) -> list[pn.viewable.Viewable]:
    market = MarketForm(start=dt.date(2023, 6, 1), end=dt.date(2024, 6, 1))
    go = pn.widgets.Button(name="Predict", button_type="primary", width=120, margin=(25, 10))
    status = pn.pane.HTML("", margin=(5, 10), css_classes=["quantdesk-auto-train"])
    probabilities = pn.pane.HoloViews(None, css_classes=["quantdesk-probabilities"])
    latest_table = read_only_table(pd.DataFrame(columns=["time", "probability", "signal"]))
    latest = pn.Row(
        probabilities,
        pn.Column(pn.pane.Markdown("**Latest predictions**"), latest_table, width=380),
    )
    model_choice = pn.widgets.Select(name="Model", options={}, width=420)
    models_table = read_only_table(models_frame([]), page_size=8)
    importance = pn.pane.HoloViews(None, min_height=40, css_classes=["quantdesk-importance"])
    records: dict[str, ModelRecord] = {}

    def show_models(models: list[ModelRecord]) -> None:
        records.clear()
        records.update({str(model.id): model for model in models})
        models_table.object = models_frame(models)
        model_choice.options = {
            f"{str(model.id)[:8]} · {model.data_address} {model.timeframe}": str(model.id)
            for model in models
        }
        show_importance()

    def show_importance(_: object = None) -> None:
        record = records.get(model_choice.value or "")
        importance.object = None if record is None else _importance_chart(record)

    async def reload(_: object = None) -> None:
        with notice.guard():
            show_models(await run_blocking(list_models, busy=models_table, settings=settings))

    async def run(_: object) -> None:
        notice.clear()
        with notice.guard(), disabled_while(go):
            request = market.request()
            if not request["data"]:
                raise InvalidInputError("enter a symbol as SOURCE:SYMBOL, e.g. sample:BTC/USDT")
            report: PredictionReport = await run_blocking(
                predict,
                request["data"],
                timeframe=request["timeframe"],
                start=request["start"],
                end=request["end"],
                bars=LATEST_BARS,
                settings=settings,
                busy=status,
            )
            status.object = _auto_train_html(report)
            latest_table.object = _latest_frame(report)
            probabilities.object = _probability_chart(report)

            show_models(await run_blocking(list_models, busy=models_table, settings=settings))
            model_choice.value = str(report.model_id)

    go.on_click(run)
    model_choice.param.watch(show_importance, "value")
    pn.state.onload(reload)
    return [
        pn.Row(market.layout, go),
        status,
        latest,
        pn.pane.Markdown("### Your models", margin=(5, 10)),
        models_table,
        model_choice,
        importance,
    ]


def _auto_train_html(report: PredictionReport) -> str:
    model = str(report.model_id)[:8]
    if report.trained:
        action = f"trained and registered model {model} because: {report.reason}"
    else:
        action = (
            f"reused model {model}: its bars are unchanged and the data has not outrun "
            f"it by more than {DEFAULT_MAX_AGE}"
        )
    took = f"{report.seconds:.1f} s, {report.training_seconds:.1f} s of it training"
    return (
        f"<b>Auto-train:</b> {html.escape(action)} · {html.escape(took)} · "
        f"out-of-sample AUC {html.escape(format_stat(report.scores.get('auc')))}"
    )


def _latest_frame(report: PredictionReport) -> pd.DataFrame:
    frame = report.latest.reset_index()
    frame["time"] = frame["time"].dt.strftime("%Y-%m-%d %H:%M")
    frame["probability"] = frame["probability"].round(4)
    frame["signal"] = frame["signal"].map({1: "long", -1: "short", 0: "flat"})
    return frame.iloc[::-1]


def _probability_chart(report: PredictionReport) -> Any:
    times = pd.DatetimeIndex(report.latest.index).tz_localize(None)
    return (
        hv.Curve((times, report.latest["probability"].to_numpy()), "time", "probability")
        * hv.HLine(0.5).opts(color="#999999", line_dash="dashed")
    ).opts(
        title=f"Probability of an up move: {report.data_address} {report.timeframe}",
        width=PAGE_WIDTH - 460,
        height=260,
        ylim=(0, 1),
    )


def _importance_chart(record: ModelRecord) -> Any:
    ranked = sorted(record.importance.items(), key=lambda item: -item[1]["gain"])[:FEATURES_SHOWN]
    frame = pd.DataFrame(
        {"feature": [name for name, _ in ranked], "gain": [row["gain"] for _, row in ranked]}
    )
    return hv.Bars(frame.iloc[::-1], "feature", "gain").opts(
        invert_axes=True,
        width=PAGE_WIDTH - 460,
        height=360,
        title=f"Feature importance (gain) of model {str(record.id)[:8]}",
        color="#1f77b4",
        tools=["hover"],
    )
