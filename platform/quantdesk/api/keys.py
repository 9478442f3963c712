"""API keys of data providers and brokers, encrypted in the database's vault.

The workflows are the vault's own (:mod:`quantdesk.store.vault`); this module
is where the library's API and the command line reach them.
"""

from __future__ import annotations

from quantdesk.store.vault import (
    KEY_FILE,
    NEXT_KEY_FILE,
    ApiKeyInfo,
    add_api_key,
    list_api_keys,
    remove_api_key,
    rotate_master_key,
)

__all__ = [
    "KEY_FILE",
    "NEXT_KEY_FILE",
    "ApiKeyInfo",
    "add_api_key",
    "list_api_keys",
    "remove_api_key",
    "rotate_master_key",
]
