"""Trading strategies: a typed base class, built-ins, and discovery of plug-ins."""
