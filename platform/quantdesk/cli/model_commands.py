"""``quantdesk models`` and ``quantdesk predict``: your models, and predictions with auto-train."""

from __future__ import annotations

import click

from quantdesk.cli.output import aligned_lines, emit, json_option, table_text


@click.group("models")
def models() -> None:
    """Your registered models: what they read, the data they learned from, how they scored."""


@models.command("list")
@json_option
def list_command(as_json: bool) -> None:
    """List your models, newest first."""
    from quantdesk.api.predictions import list_models

    found = list_models()
    header = ("id", "data", "timeframe", "features", "trained to", "auc")
    rows = [
        (
            str(record.id),
            record.data_address,
            record.timeframe,
            record.feature_set,
            f"{record.training_end:%Y-%m-%d %H:%M}",
            _score(record.scores.get("auc")),
        )
        for record in found
    ]
    text = table_text(header, rows) if rows else "no models; 'quantdesk predict' trains one"
    emit([record.to_dict() for record in found], as_json=as_json, text=text)


@models.command("show")
@click.argument("model_id")
@json_option
def show_command(model_id: str, as_json: bool) -> None:
    """Show model MODEL_ID: its data, parameters, per-fold scores and top features."""
    from quantdesk.api.predictions import get_model

    record = get_model(model_id).record
    details = record.to_dict()
    lines = [f"model {record.id}: {record.feature_set} features on {record.data_address}"]
    lines += aligned_lines(
        {
            key: value
            for key, value in details.items()
            if key not in {"id", "folds", "importance", "parameters", "feature_names"}
        }
    )
    lines += ["", "parameters:", *(f"  {line}" for line in aligned_lines(details["parameters"]))]
    lines += ["", "folds:"]
    lines += [
        f"  {fold['fold']}: test {fold['test_start']} .. {fold['test_end']}, "
        f"{fold['rounds']} rounds, auc {_score(fold['scores'].get('auc'))}"
        for fold in record.folds
    ]
    ranked = sorted(record.importance.items(), key=lambda item: -item[1]["gain"])[:10]
    lines += ["", "top features by gain:"]
    lines += [f"  {name}: {values['gain']:.1f}" for name, values in ranked]
    emit(details, as_json=as_json, text="\n".join(lines))


@models.command("rm")
@click.argument("model_id")
@json_option
def remove_command(model_id: str, as_json: bool) -> None:
    """Remove model MODEL_ID and the predictions it made."""
    from quantdesk.api.predictions import remove_model

    remove_model(model_id)
    emit({"removed": model_id}, as_json=as_json, text=f"removed model {model_id}")


@click.command("predict")
@click.argument("address")
@click.option("--timeframe", default=None, help="Bar timeframe, e.g. 1h [default: the settings'].")
@click.option("--start", default=None, help="First bar's time (UTC), e.g. 2021-01-01.")
@click.option("--end", default=None, help="Bars before this time (UTC).")
@click.option("--feature-set", default="default", show_default=True, help="A feature set's name.")
@click.option(
    "--horizon",
    type=click.IntRange(min=1),
    default=None,
    help="Bars ahead the label looks [default: TrainingConfig's, 1].",
)
@click.option(
    "--folds",
    type=click.IntRange(min=1),
    default=None,
    help="Walk-forward folds when training [default: TrainingConfig's, 5].",
)
@click.option(
    "--max-age",
    default=None,
    help="Retrain when the data runs this far past the model's training end [default: 7D].",
)
@click.option(
    "--bars",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="How many of the latest bars to predict.",
)
@json_option
def predict_command(
    address: str,
    timeframe: str | None,
    start: str | None,
    end: str | None,
    feature_set: str,
    horizon: int | None,
    folds: int | None,
    max_age: str | None,
    bars: int,
    as_json: bool,
) -> None:
    """Predict ADDRESS (SOURCE:SYMBOL) with your model for it, training one when needed."""
    from quantdesk.api.predictions import DEFAULT_MAX_AGE, TrainingConfig, predict

    chosen = {"horizon": horizon, "folds": folds}

    report = predict(
        address,
        timeframe=timeframe,
        start=start,
        end=end,
        feature_set=feature_set,
        config=TrainingConfig(**{name: value for name, value in chosen.items() if value}),
        max_age=DEFAULT_MAX_AGE if max_age is None else max_age,
        bars=bars,
    )
    how = f"trained ({report.reason})" if report.trained else "reused"
    lines = [
        f"model {report.model_id} {how}; out-of-sample auc {_score(report.scores.get('auc'))}",
        *(
            f"  {entry['time'][:16].replace('T', ' ')}  p(up) {entry['probability']:.3f}  "
            f"signal {entry['signal']:+d}"
            for entry in report.to_dict()["predictions"]
        ),
    ]
    emit(report.to_dict(), as_json=as_json, text="\n".join(lines))


def _score(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
