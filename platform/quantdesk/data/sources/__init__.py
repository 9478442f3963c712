"""The data sources that ship with quantdesk."""
