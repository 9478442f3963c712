"""How a backtest trades: cash, costs, position sizing, fills, stops and annualisation.

:class:`BacktestConfig` is frozen, strict and refuses unknown fields; every
problem is raised as a one-line :class:`~quantdesk.errors.ConfigurationError`
(an ``InvalidInputError``) that names the field and the fix. Strict means no
coercion: a number field takes a number (an int, a float or a NumPy scalar),
never text such as ``"1e4"``, and a switch takes ``True`` or ``False``, never
``"yes"``. Every way to make one, ``model_copy(update=...)``,
``copy.replace`` and ``model_construct`` included, validates it, so a config the runner
cannot run cannot be built.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import model_validator

from quantdesk.core.strict_config import StrictConfig

SizingMode = Literal["all_in", "units", "cash", "equity_fraction"]
SIZING_MODES: tuple[str, ...] = ("all_in", "units", "cash", "equity_fraction")


class BacktestConfig(StrictConfig):
    """The trading rules of one backtest; frozen and strict, and unknown fields are refused.

    Copies are checked like new configs: ``config.model_copy(update={"cash": -1})``
    raises, as ``BacktestConfig(cash=-1)`` does.

    Fields
    ------
    cash
        Starting cash, > 0. Default 10,000.
    commission
        Commission rate on traded value, charged at entry and again at exit:
        ``rate * |size| * fill_price``. In ``[0, 1)``; default 0.
    fixed_fee
        Fee in cash added to every filled order (entry and exit); default 0.
    slippage
        Fraction of price by which every market fill is worse than the quoted
        price (buys higher, sells lower), at entry and at exit. Take-profit
        fills are limit fills and get none. In ``[0, 1)``; default 0.
    lot_size
        The smallest tradable quantity; sizes are whole multiples of it. 1 for
        stocks, e.g. ``1e-8`` for bitcoin. Default 1.
    sizing
        How an entry is sized: ``"all_in"`` (default) buys the largest number of
        lots the equity pays for, with commission; ``"units"`` buys ``size``
        units (rounded down to lots); ``"cash"`` spends up to ``size`` in cash,
        commission included; ``"equity_fraction"`` spends up to that fraction
        (in ``(0, 1]``) of equity.
    size
        The value the non-default sizing modes need; must be left unset for
        ``"all_in"``.
    margin
        The share of a position's value the account must put up, in ``(0, 1]``:
        an entry may be worth up to ``equity / margin`` (the sizing modes
        spend from that buying power). 1, the default, is no leverage;
        ``0.5`` is 2:1 and ``0.02`` is 50:1, as backtesting.py's ``margin``.
        Shorts and longs alike are liquidated when their loss would use up
        the equity (exit reason ``"liquidation"``, see
        :mod:`quantdesk.engine.kernel`).
    trade_on_close
        Fill signal orders at the signal bar's close instead of the next bar's open.
    finalize_trades
        Close a position still open on the last bar at that bar's close (exit
        reason ``"end"``) instead of reporting it as open.
    stop_loss, take_profit, trailing_stop
        Fractions of the entry fill price, applied to every position whose
        strategy gives no finite distance of that kind on the entry signal's
        bar (NaN distances, or none, mean the config's). ``stop_loss=0.05``
        exits a long 5 % below its entry. The trailing stop trails the best
        price since entry at a fixed distance of ``trailing_stop * entry price``.
    periods_per_year
        Return periods in a year for the annualised statistics. Returns are
        measured per calendar day (per week for weekly bars); unset, the engine
        uses 365 for data that trades at weekends (crypto), 252 for data that
        does not (stocks) and 52 for weekly bars.
    risk_free_rate
        The annual risk-free rate the Sharpe and Sortino ratios measure excess
        returns against, e.g. ``0.04`` for 4 % a year; in ``(-1, 1)``, default
        0. Per return period it is ``(1 + risk_free_rate) ** (1 / N) - 1``
        with ``N`` periods a year (see :mod:`quantdesk.engine.stats`).
    """

    cash: float = 10_000.0
    commission: float = 0.0
    fixed_fee: float = 0.0
    slippage: float = 0.0
    lot_size: float = 1.0
    sizing: SizingMode = "all_in"
    size: float | None = None
    margin: float = 1.0
    trade_on_close: bool = False
    finalize_trades: bool = False
    stop_loss: float | None = None
    take_profit: float | None = None
    trailing_stop: float | None = None
    periods_per_year: float | None = None
    risk_free_rate: float = 0.0

    def __init__(self, **values: Any) -> None:
        # Declared so type checkers take any keywords: StrictConfig checks them.
        super().__init__(**values)

    @model_validator(mode="after")
    def _check_values(self) -> BacktestConfig:
        _require(self.cash > 0 and math.isfinite(self.cash), "cash", "must be positive", self.cash)
        _require(
            0 <= self.commission < 1,
            "commission",
            "is a rate in [0, 1), e.g. 0.001 for 0.1 %",
            self.commission,
        )
        _require(
            0 <= self.fixed_fee < math.inf, "fixed_fee", "must be 0 or positive", self.fixed_fee
        )
        _require(
            0 <= self.slippage < 1,
            "slippage",
            "is a fraction of price in [0, 1), e.g. 0.0005",
            self.slippage,
        )
        _require(
            0 < self.lot_size < math.inf,
            "lot_size",
            "must be positive, e.g. 1 for stocks or 1e-8 for bitcoin",
            self.lot_size,
        )
        self._check_size()
        _require(
            0 < self.margin <= 1,
            "margin",
            "is the share of a position's value put up, in (0, 1], e.g. 0.5 for 2:1 leverage",
            self.margin,
        )
        for name in ("stop_loss", "trailing_stop"):
            value = getattr(self, name)
            if value is not None:
                _require(0 < value < 1, name, "is a fraction of entry price in (0, 1)", value)
        if self.take_profit is not None:
            _require(
                0 < self.take_profit < math.inf,
                "take_profit",
                "is a positive fraction of entry price, e.g. 0.1",
                self.take_profit,
            )
        if self.periods_per_year is not None:
            _require(
                0 < self.periods_per_year < math.inf,
                "periods_per_year",
                "must be positive, e.g. 252 or 365",
                self.periods_per_year,
            )
        _require(
            -1 < self.risk_free_rate < 1,
            "risk_free_rate",
            "is an annual rate in (-1, 1), e.g. 0.04 for 4 % a year",
            self.risk_free_rate,
        )
        return self

    def _check_size(self) -> None:
        if self.sizing == "all_in":
            if self.size is not None:
                raise ValueError(
                    f"size={self.size!r} is only used with sizing='units', 'cash' or "
                    "'equity_fraction'; drop size or choose one of those"
                )
            return
        if self.size is None:
            raise ValueError(f"sizing={self.sizing!r} needs a size, e.g. size=0.5")
        if self.sizing == "equity_fraction":
            _require(0 < self.size <= 1, "size", "is a fraction of equity in (0, 1]", self.size)
        else:
            _require(
                0 < self.size < math.inf, "size", f"must be positive ({self.sizing})", self.size
            )


def _require(condition: bool, name: str, rule: str, value: object) -> None:
    if not condition:
        raise ValueError(f"BacktestConfig.{name} {rule}; got {value!r}")
