"""``quantdesk keys add|list|rm`` run as a person would run them."""

from __future__ import annotations

import errno
import json
import os
import pty
import secrets
import select
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from quantdesk.config import Settings
from quantdesk.store.vault import get_api_key
from tests.command_line import QUANTDESK, run_quantdesk

KeysCli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def alice(database_user: Callable[..., Any]) -> Any:
    """A fresh non-admin user."""
    return database_user("alice")


@pytest.fixture
def alice_environment(alice: Any, tmp_path: Path) -> dict[str, str]:
    """The environment of alice's shell: her database URL and a private data directory."""
    return {
        **os.environ,
        "QUANTDESK_DATA_DIR": str(tmp_path),
        "QUANTDESK_DATABASE_URL": alice_url(alice),
    }


@pytest.fixture
def keys_cli(alice_environment: dict[str, str]) -> KeysCli:
    """Run ``quantdesk keys ...`` as alice, with ``stdin`` piped in (empty by default)."""

    def run(*words: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [QUANTDESK, "keys", *words],
            input=stdin,
            capture_output=True,
            text=True,
            env=alice_environment,
            timeout=300,
            check=False,
        )

    return run


def alice_url(user: Any) -> str:
    """The user's URL as a person would paste it, password included."""
    return str(user.url.set(drivername="postgresql").render_as_string(hide_password=False))


def alice_settings(user: Any) -> Settings:
    """Settings that connect as the user, to read back what the CLI stored."""
    return Settings.load(database_url=alice_url(user))


def stored_keys(keys_cli: KeysCli) -> list[Any]:
    """What ``keys list --json`` shows."""
    listed = keys_cli("list", "--json")
    assert listed.returncode == 0, listed.stderr
    return list(json.loads(listed.stdout))


def key_file(directory: Path, text: str, mode: int) -> Path:
    """A key file holding ``text`` with permission bits ``mode``."""
    path = directory / "binance-key"
    path.write_text(text)
    path.chmod(mode)
    return path


def test_add_list_and_remove_a_key(keys_cli: KeysCli, alice: Any) -> None:
    key_id, secret = "AKIAEXAMPLEKEY0000WXYZ", f"sk-{secrets.token_hex(16)}"

    added = keys_cli("add", "binance", stdin=f"{key_id}\n{secret}\n")
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
    assert get_api_key("binance", settings=alice_settings(alice)).secret == secret

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
    assert "'quantdesk keys add binance --label default'" in again.stderr
    assert stored_keys(keys_cli) == []


@pytest.mark.parametrize("line_end", ["\n", "\r\n"])
def test_a_piped_key_id_and_secret_stay_out_of_the_command_line(
    keys_cli: KeysCli, alice: Any, line_end: str
) -> None:
    key_id, secret = "KRAKENKEY01", f"sk-{secrets.token_hex(16)}"

    added = keys_cli(
        "add", "kraken", "--label", "paper", stdin=f"{key_id}{line_end}{secret}{line_end}"
    )

    assert added.returncode == 0, added.stderr
    assert secret not in added.stdout + added.stderr
    stored = get_api_key("kraken", label="paper", settings=alice_settings(alice))
    assert (stored.key_id, stored.secret) == (key_id, secret)


def test_a_piped_secret_without_a_final_line_break_is_taken_whole(
    keys_cli: KeysCli, alice: Any
) -> None:
    added = keys_cli("add", "kraken", stdin="KRAKENKEY02\nsk-no-line-break")

    assert added.returncode == 0, added.stderr
    stored = get_api_key("kraken", settings=alice_settings(alice))
    assert (stored.key_id, stored.secret) == ("KRAKENKEY02", "sk-no-line-break")


def test_adding_twice_names_the_way_out(keys_cli: KeysCli) -> None:
    assert keys_cli("add", "binance", stdin="AK1\none\n").returncode == 0

    second = keys_cli("add", "binance", "--json", stdin="AK2\ntwo\n")
    replaced = keys_cli("add", "binance", "--replace", stdin="AK2\ntwo\n")

    assert second.returncode == 2
    assert "keys rm binance --label default" in json.loads(second.stderr)["error"]
    assert replaced.returncode == 0, replaced.stderr


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_a_private_key_file_is_read(
    keys_cli: KeysCli, alice: Any, tmp_path: Path, mode: int
) -> None:
    key_id, secret = "BINANCEFILEKEY01", f"sk-{secrets.token_hex(16)}"
    path = key_file(tmp_path, f"{key_id}\n{secret}\n", mode)

    added = keys_cli("add", "binance", "--from-file", str(path))

    assert added.returncode == 0, added.stderr
    assert secret not in added.stdout + added.stderr
    stored = get_api_key("binance", settings=alice_settings(alice))
    assert (stored.key_id, stored.secret) == (key_id, secret)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o602])
def test_a_key_file_others_may_open_is_refused(
    keys_cli: KeysCli, tmp_path: Path, mode: int
) -> None:
    secret = f"sk-{secrets.token_hex(16)}"
    path = key_file(tmp_path, f"BINANCEFILEKEY02\n{secret}\n", mode)

    refused = keys_cli("add", "binance", "--from-file", str(path))

    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1
    assert f"mode {mode:04o}" in refused.stderr
    assert f"chmod 600 {path}" in refused.stderr
    assert secret not in refused.stdout + refused.stderr
    assert stored_keys(keys_cli) == []


def test_a_symbolic_link_to_a_key_file_is_refused(keys_cli: KeysCli, tmp_path: Path) -> None:
    target = key_file(tmp_path, "BINANCEFILEKEY03\nsk-linked\n", 0o600)
    link = tmp_path / "link-to-key"
    link.symlink_to(target)

    refused = keys_cli("add", "binance", "--from-file", str(link))

    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1
    assert "symbolic link" in refused.stderr
    assert "sk-linked" not in refused.stdout + refused.stderr
    assert stored_keys(keys_cli) == []


def test_a_key_file_that_is_no_regular_file_is_refused_without_waiting(
    keys_cli: KeysCli, tmp_path: Path
) -> None:
    fifo = tmp_path / "key-fifo"
    os.mkfifo(fifo, 0o600)

    refused = keys_cli("add", "binance", "--from-file", str(fifo))

    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1
    assert "not a regular file" in refused.stderr
    assert stored_keys(keys_cli) == []


@pytest.mark.parametrize(
    "words",
    [
        ("--secret", "{value}"),
        ("--secret={value}",),
        ("--key-id", "{value}"),
        ("--key-id", "{value}", "--secret", "{value}"),
    ],
)
def test_credentials_on_the_command_line_are_refused(
    keys_cli: KeysCli, words: tuple[str, ...]
) -> None:
    value = f"sk-{secrets.token_hex(16)}"
    given = [word.format(value=value) for word in words]

    refused = keys_cli("add", "binance", *given, stdin="AKPIPED\nsk-piped\n")

    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1
    assert value not in refused.stdout + refused.stderr
    for way_out in ("prompted", '"KEY_ID\\nSECRET" on stdin', "--from-file PATH (mode 0600)"):
        assert way_out in refused.stderr
    assert stored_keys(keys_cli) == []


def test_the_refused_options_stay_out_of_the_help(keys_cli: KeysCli) -> None:
    shown = keys_cli("add", "--help")

    assert shown.returncode == 0, shown.stderr
    assert "--from-file" in shown.stdout
    assert "--secret" not in shown.stdout
    assert "--key-id" not in shown.stdout


@pytest.mark.parametrize(
    ("stdin", "missing"),
    [
        ("AKONLY\n", "no secret on its second line"),
        ("AKONLY", "no secret on its second line"),
        ("AKONLY\n\n", "no secret on its second line"),
        ("", "no key id on its first line"),
        ("\nsk-orphan\n", "no key id on its first line"),
    ],
)
def test_a_missing_line_on_stdin_is_refused(keys_cli: KeysCli, stdin: str, missing: str) -> None:
    refused = keys_cli("add", "binance", stdin=stdin)

    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1
    assert f"stdin has {missing}" in refused.stderr
    assert "AKONLY" not in refused.stderr
    assert stored_keys(keys_cli) == []


def test_a_key_file_without_its_secret_is_refused(keys_cli: KeysCli, tmp_path: Path) -> None:
    path = key_file(tmp_path, "AKONLY\n", 0o600)

    refused = keys_cli("add", "binance", "--from-file", str(path))

    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1
    assert "no secret on its second line" in refused.stderr
    assert stored_keys(keys_cli) == []


def _read_until(controller: int, wanted: str, *, timeout: float = 120.0) -> str:
    """What the terminal shows up to and including ``wanted``."""
    seen = b""
    deadline = time.monotonic() + timeout
    while wanted.encode() not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {wanted!r} on the terminal; it showed {seen!r}"
        ready, _, _ = select.select([controller], [], [], remaining)
        if ready:
            try:
                seen += os.read(controller, 4096)
            except OSError as error:
                if error.errno == errno.EIO:
                    pytest.fail(f"the terminal closed before {wanted!r}; it showed {seen!r}")
                raise
    return seen.decode(errors="replace")


def _rest_of(controller: int) -> str:
    """What the terminal shows until the program closes it."""
    seen = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError as error:
            if error.errno == errno.EIO:
                return seen.decode(errors="replace")
            raise
        if not chunk:
            return seen.decode(errors="replace")
        seen += chunk


def test_a_terminal_is_asked_for_both_without_echo(
    alice_environment: dict[str, str], alice: Any
) -> None:
    key_id, secret = "PROMPTEDKEY0001", f"sk-{secrets.token_hex(16)}"
    controller, terminal = pty.openpty()
    try:
        # A new session: no controlling terminal, so getpass uses this one and not ours.
        process = subprocess.Popen(
            [QUANTDESK, "keys", "add", "kraken"],
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=terminal,
            env=alice_environment,
            start_new_session=True,
        )
    finally:
        os.close(terminal)
    try:
        shown = _read_until(controller, "Key id: ")
        os.write(controller, f"{key_id}\n".encode())
        shown += _read_until(controller, "Secret: ")
        os.write(controller, f"{secret}\n".encode())
        stdout, _ = process.communicate(timeout=300)
        shown += _rest_of(controller)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(controller)

    assert process.returncode == 0, shown
    assert "stored the kraken key" in stdout.decode()
    assert key_id not in shown
    assert secret not in shown
    stored = get_api_key("kraken", settings=alice_settings(alice))
    assert (stored.key_id, stored.secret) == (key_id, secret)


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
