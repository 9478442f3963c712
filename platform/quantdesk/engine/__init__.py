"""The backtest engine: a compiled simulation kernel behind a thin pandas layer."""
