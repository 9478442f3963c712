"""Widgets generated from a strategy's typed parameters, and the market a run reads.

An ``int`` parameter gets a whole-number input, a ``float`` one a number
input, each limited to the parameter's bounds; a ``bool`` one a checkbox.
Sweeps take each parameter as ``START:STOP:STEP`` text, as the command line
does, starting from a range around the default inside the bounds.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import panel as pn

from quantdesk.strategies import Parameter, Strategy, available_strategies, strategy_class

__all__ = [
    "MarketForm",
    "ParameterForm",
    "default_sweep_range",
    "strategy_chooser",
]

TIMEFRAMES = ("1m", "5m", "15m", "1h", "4h", "1d")
DEFAULT_ADDRESS = "sample:BTC/USDT"


def strategy_chooser(
    value: str = "sma_cross", *, exclude: tuple[str, ...] = ()
) -> pn.widgets.Select:
    """A select of the registered strategies by name."""
    names = [name for name in sorted(available_strategies()) if name not in exclude]
    return pn.widgets.Select(name="Strategy", options=names, value=value, width=200)


class ParameterForm:
    """One widget per parameter of a strategy, rebuilt when the strategy changes.

    Parameters
    ----------
    strategy
        The strategy whose parameters to show.
    """

    def __init__(self, strategy: str | type[Strategy]) -> None:
        self.layout = pn.FlexBox(sizing_mode="stretch_width")
        self.widgets: dict[str, pn.widgets.Widget] = {}
        self.show(strategy)

    def show(self, strategy: str | type[Strategy]) -> None:
        """Show the widgets of ``strategy``'s parameters, at their defaults."""
        self.strategy = strategy_class(strategy)
        self.widgets = {
            name: parameter_widget(definition)
            for name, definition in self.strategy.parameter_definitions().items()
        }
        self.layout.objects = list(self.widgets.values())

    def values(self) -> dict[str, object]:
        """The chosen values by parameter name."""
        return {name: widget.value for name, widget in self.widgets.items()}


def parameter_widget(definition: Parameter[Any]) -> pn.widgets.Widget:
    """The widget for one parameter: bounded to its minimum and maximum, at its default.

    Parameters
    ----------
    definition
        The strategy's parameter.

    Returns
    -------
    panel.widgets.Widget
        A checkbox, a whole-number input or a number input.
    """
    label = definition.name.replace("_", " ")
    description = definition.description or None
    if definition.kind == "bool":
        return pn.widgets.Checkbox(name=label, value=bool(definition.default), width=160)
    widget_class = pn.widgets.IntInput if definition.kind == "int" else pn.widgets.FloatInput
    step = 1 if definition.kind == "int" else _float_step(float(definition.default))
    return widget_class(
        name=label,
        value=definition.default,
        start=definition.minimum,
        end=definition.maximum,
        step=step,
        description=description,
        width=140,
    )


def default_sweep_range(definition: Parameter[Any]) -> str:
    """A ``START:STOP:STEP`` range of about five values around the default, inside the bounds.

    Parameters
    ----------
    definition
        A numeric parameter.

    Returns
    -------
    str
        E.g. ``"5:25:5"`` for an int defaulting to 10 with minimum 1.
    """
    if definition.kind == "bool":
        return "true,false"
    default = float(definition.default)
    low = default / 2 if default > 0 else default - 1
    high = default * 2 if default > 0 else default + 1
    if definition.minimum is not None:
        low = max(low, float(definition.minimum))
    if definition.maximum is not None:
        high = min(high, float(definition.maximum))
    if definition.kind == "int":
        whole_step = max(1, round((high - low) / 4))
        start = round(low)
        return f"{start}:{start + 4 * whole_step}:{whole_step}"
    step = (high - low) / 4
    return f"{low:g}:{low + 4 * step:g}:{step:g}"


class MarketForm:
    """The bars a run reads: a ``SOURCE:SYMBOL`` address, a timeframe and a date range."""

    def __init__(
        self,
        *,
        start: dt.date = dt.date(2024, 1, 1),
        end: dt.date = dt.date(2024, 4, 1),
        timeframe: str = "1h",
    ) -> None:
        self.address = pn.widgets.TextInput(
            name="Symbol", value=DEFAULT_ADDRESS, width=180, css_classes=["quantdesk-symbol"]
        )
        self.timeframe = pn.widgets.Select(
            name="Timeframe",
            options=list(TIMEFRAMES),
            value=timeframe,
            width=90,
            css_classes=["quantdesk-timeframe"],
        )
        self.start = pn.widgets.DatePicker(name="From", value=start, width=130)
        self.end = pn.widgets.DatePicker(name="To", value=end, width=130)
        self.layout = pn.Row(self.address, self.timeframe, self.start, self.end)

    def request(self) -> dict[str, Any]:
        """The loading keywords: ``data``, ``timeframe``, ``start`` and ``end``."""
        return {
            "data": (self.address.value or "").strip(),
            "timeframe": self.timeframe.value,
            "start": None if self.start.value is None else str(self.start.value),
            "end": None if self.end.value is None else str(self.end.value),
        }


def _float_step(default: float) -> float:
    magnitude = abs(default) if default else 1.0
    return float(f"{magnitude / 10:.1g}")
