"""``quantdesk keys add|list|rm`` run as a person would run them."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from quantdesk.config import Settings
from quantdesk.store.vault import get_api_key
from tests.command_line import QUANTDESK, run_quantdesk


@pytest.fixture
def alice(database_user: Callable[..., Any]) -> Any:
    """A fresh non-admin user."""
    return database_user("alice")


@pytest.fixture
def keys_cli(alice: Any, tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``quantdesk keys ...`` as alice."""
    environment = {"QUANTDESK_DATABASE_URL": alice_url(alice)}

    def run(*words: str) -> subprocess.CompletedProcess[str]:
        return run_quantdesk("keys", *words, data_dir=tmp_path, extra_environment=environment)

    return run


def alice_url(user: Any) -> str:
    """The user's URL as a person would paste it, password included."""
    return str(user.url.set(drivername="postgresql").render_as_string(hide_password=False))


def test_add_list_and_remove_a_key(
    keys_cli: Callable[..., subprocess.CompletedProcess[str]], alice: Any
) -> None:
    key_id, secret = "AKIAEXAMPLEKEY0000WXYZ", f"sk-{secrets.token_hex(16)}"

    added = keys_cli("add", "binance", "--key-id", key_id, "--secret", secret)
    listed = keys_cli("list")
    as_json = keys_cli("list", "--json")

    assert added.returncode == 0, added.stderr
    assert "AKI…XYZ" in added.stdout
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith("provider")
    assert listed.stdout.splitlines()[1].split()[:3] == ["binance", "default", "AKI…XYZ"]
    assert "never" in listed.stdout
    [entry] = json.loads(as_json.stdout)
    assert (entry["provider"], entry["label"], entry["hint"], entry["last_used_at"]) == (
        "binance",
        "default",
        "AKI…XYZ",
        None,
    )
    for output in (added, listed, as_json):
        assert secret not in output.stdout + output.stderr
        assert key_id not in output.stdout + output.stderr
    settings = Settings.load(database_url=alice_url(alice))
    assert get_api_key("binance", settings=settings).secret == secret

    removed = keys_cli("rm", "binance", "--json")
    again = keys_cli("rm", "binance")

    assert removed.returncode == 0, removed.stderr
    assert json.loads(removed.stdout) == {
        "provider": "binance",
        "label": "default",
        "removed": True,
    }
    assert again.returncode == 2
    assert again.stderr.count("\n") == 1
    assert "no API key for 'binance' with label 'default'" in again.stderr
    assert json.loads(keys_cli("list", "--json").stdout) == []


def test_a_piped_secret_stays_out_of_the_command_line(alice: Any, tmp_path: Path) -> None:
    secret = f"sk-{secrets.token_hex(16)}"
    environment = {
        **os.environ,
        "QUANTDESK_DATA_DIR": str(tmp_path),
        "QUANTDESK_DATABASE_URL": alice_url(alice),
    }

    added = subprocess.run(
        [QUANTDESK, "keys", "add", "kraken", "--key-id", "KRAKENKEY01", "--label", "paper"],
        input=f"{secret}\n",
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
        check=False,
    )

    assert added.returncode == 0, added.stderr
    assert secret not in added.stdout + added.stderr
    settings = Settings.load(database_url=alice_url(alice))
    assert get_api_key("kraken", label="paper", settings=settings).secret == secret


def test_adding_twice_names_the_way_out(
    keys_cli: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    assert keys_cli("add", "binance", "--key-id", "AK1", "--secret", "one").returncode == 0

    second = keys_cli("add", "binance", "--key-id", "AK2", "--secret", "two", "--json")
    replaced = keys_cli("add", "binance", "--key-id", "AK2", "--secret", "two", "--replace")

    assert second.returncode == 2
    assert "keys rm binance --label default" in json.loads(second.stderr)["error"]
    assert replaced.returncode == 0, replaced.stderr


def test_users_cannot_rotate_the_master_key_from_the_command_line(
    alice: Any, tmp_path: Path
) -> None:
    result = run_quantdesk(
        "keys",
        "rotate-master",
        data_dir=tmp_path,
        extra_environment={"QUANTDESK_ADMIN_DATABASE_URL": alice_url(alice)},
    )

    assert result.returncode == 1
    assert "permission denied for function rotate_master" in result.stderr
    assert result.stderr.count("\n") == 1
