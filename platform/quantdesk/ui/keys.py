"""The API keys page: add, list and delete your provider keys, and read your audit trail.

The secret is typed into a password field, sent once to this server, handed
to the vault and cleared from the form; the page never sends it back, and
lists a key only by provider, label and the hint of its key id.
"""

from __future__ import annotations

import pandas as pd
import panel as pn

from quantdesk.api.keys import (
    DEFAULT_LABEL,
    ApiKeyInfo,
    KeyAuditEntry,
    add_api_key,
    key_audit_log,
    list_api_keys,
    remove_api_key,
)
from quantdesk.config import Settings
from quantdesk.errors import InvalidInputError
from quantdesk.ui.feedback import Notice, disabled_while, run_blocking
from quantdesk.ui.page import build_page
from quantdesk.ui.tables import read_only_table, when

__all__ = ["audit_frame", "keys_frame", "keys_page"]

AUDIT_ROWS = 200


def keys_page(settings: Settings | None = None) -> pn.layout.Column:
    """The keys dashboard, as the viewer's database role.

    Add, list and delete API keys (hints only), the audit log; ``settings`` are read from
    the environment when None.
    """
    return build_page("keys", _keys, settings)


def keys_frame(keys: list[ApiKeyInfo]) -> pd.DataFrame:
    """Stored keys, one row each, with only the hint of the key id."""
    return pd.DataFrame(
        [
            {
                "provider": key.provider,
                "label": key.label,
                "key id": key.hint,
                "stored": when(key.created_at),
                "last used": when(key.last_used_at),
            }
            for key in keys
        ],
        columns=["provider", "label", "key id", "stored", "last used"],
    )


def audit_frame(entries: list[KeyAuditEntry]) -> pd.DataFrame:
    """Audit rows, newest first: when, who, what, the outcome and which key."""
    return pd.DataFrame(
        [
            {
                "when": when(entry.at),
                "actor": entry.actor,
                "action": entry.action,
                "outcome": entry.outcome + (f" (+{entry.repeated} more)" if entry.repeated else ""),
                "provider": entry.provider or "",
                "label": entry.label or "",
            }
            for entry in entries
        ],
        columns=["when", "actor", "action", "outcome", "provider", "label"],
    )


def _keys(notice: Notice, settings: Settings) -> list[pn.viewable.Viewable]:
    provider = pn.widgets.TextInput(
        name="Provider", placeholder="e.g. binance", width=150, css_classes=["quantdesk-provider"]
    )
    label = pn.widgets.TextInput(name="Label", value=DEFAULT_LABEL, width=120)
    key_id = pn.widgets.TextInput(name="Key id", width=220, css_classes=["quantdesk-key-id"])
    secret = pn.widgets.PasswordInput(name="Secret", width=220, css_classes=["quantdesk-secret"])
    replace = pn.widgets.Checkbox(name="Replace an existing key", width=180, margin=(32, 10))
    add = pn.widgets.Button(name="Add key", button_type="primary", width=110, margin=(25, 10))
    keys_table = read_only_table(keys_frame([]), css_classes=["quantdesk-keys"])
    to_delete = pn.widgets.Select(name="Key to delete", options={}, width=260)
    delete = pn.widgets.Button(name="Delete key", button_type="danger", width=110, margin=(25, 10))
    audit_table = read_only_table(audit_frame([]), page_size=10)

    def show(keys: list[ApiKeyInfo], audit: list[KeyAuditEntry]) -> None:
        keys_table.object = keys_frame(keys)
        to_delete.options = {
            f"{key.provider} / {key.label} ({key.hint})": f"{key.provider}\n{key.label}"
            for key in keys
        }
        audit_table.object = audit_frame(audit)

    def listing() -> tuple[list[ApiKeyInfo], list[KeyAuditEntry]]:
        return list_api_keys(settings), key_audit_log(limit=AUDIT_ROWS, settings=settings)

    async def reload(_: object = None) -> None:
        with notice.guard():
            show(*await run_blocking(listing, busy=keys_table))

    async def store(_: object) -> None:
        notice.clear()
        typed_id, typed_secret = key_id.value, secret.value
        # The form forgets the credentials at once, whatever happens next.
        key_id.value = key_id.value_input = ""
        secret.value = secret.value_input = ""
        with notice.guard(), disabled_while(add):
            if not typed_id or not typed_secret:
                raise InvalidInputError("type the key id and the secret, then press Add key")
            info = await run_blocking(
                add_api_key,
                (provider.value or "").strip(),
                typed_id,
                typed_secret,
                label=(label.value or "").strip() or DEFAULT_LABEL,
                replace=replace.value,
                settings=settings,
                busy=keys_table,
            )
            notice.success(f"Stored the {info.provider} key {info.hint} as {info.label!r}.")
            show(*await run_blocking(listing, busy=keys_table))

    async def remove(_: object) -> None:
        notice.clear()
        with notice.guard(), disabled_while(delete):
            if not to_delete.value:
                raise InvalidInputError("choose a key to delete")
            chosen_provider, chosen_label = to_delete.value.split("\n", 1)
            await run_blocking(
                remove_api_key,
                chosen_provider,
                label=chosen_label,
                settings=settings,
                busy=keys_table,
            )
            notice.success(f"Deleted the {chosen_provider} key {chosen_label!r}.")
            show(*await run_blocking(listing, busy=keys_table))

    add.on_click(store)
    delete.on_click(remove)
    pn.state.onload(reload)
    return [
        pn.pane.Markdown("### Add a key", margin=(5, 10)),
        pn.Row(provider, label, key_id, secret, replace, add),
        pn.pane.Markdown("### Your keys", margin=(5, 10)),
        keys_table,
        pn.Row(to_delete, delete),
        pn.pane.Markdown("### Your audit log", margin=(5, 10)),
        audit_table,
    ]
