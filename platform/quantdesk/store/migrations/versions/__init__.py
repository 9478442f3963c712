"""Schema revisions, applied in order: 0001 core tables, 0002 the API-key vault."""
