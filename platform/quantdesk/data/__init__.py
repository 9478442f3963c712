"""The data layer: sources of market data, the Parquet cache and the loader."""
