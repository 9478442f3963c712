"""``quantdesk keys``: store, list and remove API keys in the encrypted vault."""

from __future__ import annotations

import sys

import click

from quantdesk.cli.output import emit, json_option, table_text


@click.group("keys")
def keys() -> None:
    """API keys of data providers and brokers, encrypted in the database; only you read yours."""


@keys.command("add")
@click.argument("provider")
@click.option("--key-id", required=True, help="The key id (also called API key or access key).")
@click.option(
    "--secret",
    default=None,
    help="The secret. Better left out: you are then asked for it without echo, or it is "
    "read from stdin when piped, so it stays out of 'ps' and your shell history.",
)
@click.option("--label", default="default", show_default=True, help="Tells keys apart.")
@click.option("--replace", is_flag=True, help="Overwrite a key with the same provider and label.")
@json_option
def add(
    provider: str,
    key_id: str,
    secret: str | None,
    label: str,
    replace: bool,
    as_json: bool,
) -> None:
    """Encrypt and store the API key of PROVIDER (e.g. binance)."""
    from quantdesk.store.vault import add_api_key

    info = add_api_key(
        provider,
        key_id,
        secret if secret is not None else _read_secret(),
        label=label,
        replace=replace,
    )
    emit(
        info.to_json(),
        as_json=as_json,
        text=f"stored the {info.provider} key {info.hint} (label {info.label})",
    )


def _read_secret() -> str:
    """The secret from a hidden prompt, or from stdin when it is not a terminal."""
    if sys.stdin.isatty():
        return str(click.prompt("Secret", hide_input=True, err=True))
    piped = sys.stdin.read()
    return piped.removesuffix("\n").removesuffix("\r")


@keys.command("list")
@json_option
def list_keys(as_json: bool) -> None:
    """List your API keys: provider, label, key id hint, created, last used. Never the secret."""
    from quantdesk.store.vault import list_api_keys

    found = list_api_keys()
    rows = [
        (
            info.provider,
            info.label,
            info.hint,
            f"{info.created_at:%Y-%m-%d %H:%M}",
            "never" if info.last_used_at is None else f"{info.last_used_at:%Y-%m-%d %H:%M}",
        )
        for info in found
    ]
    header = ("provider", "label", "key id", "created", "last used")
    text = (
        table_text(header, rows)
        if rows
        else "no API keys stored; add one with 'quantdesk keys add'"
    )
    emit([info.to_json() for info in found], as_json=as_json, text=text)


@keys.command("rm")
@click.argument("provider")
@click.option("--label", default="default", show_default=True, help="Which of its keys.")
@json_option
def remove(provider: str, label: str, as_json: bool) -> None:
    """Delete your API key of PROVIDER."""
    from quantdesk.store.vault import remove_api_key

    remove_api_key(provider, label=label)
    emit(
        {"provider": provider, "label": label, "removed": True},
        as_json=as_json,
        text=f"removed the {provider} key (label {label})",
    )


@keys.command("rotate-master")
@json_option
def rotate_master(as_json: bool) -> None:
    """Re-encrypt every user's API keys under a new master key (admin URL)."""
    from quantdesk.config import Settings
    from quantdesk.store.vault import KEY_FILE, NEXT_KEY_FILE, rotate_master_key

    settings = Settings.load()
    rotated = rotate_master_key(settings)
    external = settings.admin_database_url is not None
    text = f"re-encrypted {rotated} API key(s) under the new master key"
    if external:
        text += (
            f"; now rename {NEXT_KEY_FILE} over {KEY_FILE} in the server's data directory "
            "(do not delete it: the keys are encrypted with it)"
        )
    emit(
        {"rotated": rotated, "rename_required": external},
        as_json=as_json,
        text=text,
    )
