"""Pure computation on the canonical OHLCV frame: no I/O, no storage, no network."""
