"""``quantdesk keys``: store, list and remove API keys in the encrypted vault."""

from __future__ import annotations

import errno
import os
import shlex
import stat
import sys

import click

from quantdesk.cli.output import emit, json_option, table_text
from quantdesk.errors import InvalidInputError


@click.group("keys")
def keys() -> None:
    """API keys of data providers and brokers, encrypted in the database; only you read yours."""


@keys.command("add")
@click.argument("provider")
@click.option(
    "--from-file",
    "from_file",
    default=None,
    metavar="PATH",
    help="Read the key id (line 1) and the secret (line 2) from PATH, a file you own with "
    "mode 0600 or 0400. Without it you are asked for both without echo, or they are read "
    "from stdin when piped (line 1 the key id, line 2 the secret).",
)
@click.option("--key-id", default=None, hidden=True)
@click.option("--secret", default=None, hidden=True)
@click.option("--label", default="default", show_default=True, help="Tells keys apart.")
@click.option("--replace", is_flag=True, help="Overwrite a key with the same provider and label.")
@json_option
def add(
    provider: str,
    from_file: str | None,
    key_id: str | None,
    secret: str | None,
    label: str,
    replace: bool,
    as_json: bool,
) -> None:
    """Encrypt and store the API key of PROVIDER (e.g. binance).

    The key id and the secret never go on the command line, where every user
    of the machine could read them: you are prompted for them, or pipe them
    on stdin, or name a private file with --from-file.
    """
    from quantdesk.api.keys import add_api_key

    _refuse_command_line_credentials(key_id=key_id, secret=secret)
    if from_file is not None:
        given_id, given_secret = _read_credentials_file(from_file)
    elif sys.stdin.isatty():
        given_id, given_secret = _read_credentials_prompt()
    else:
        given_id, given_secret = _read_credentials_stdin()
    info = add_api_key(provider, given_id, given_secret, label=label, replace=replace)
    emit(
        info.to_json(),
        as_json=as_json,
        text=f"stored the {info.provider} key {info.hint} (label {info.label})",
    )


# A key id and a secret fit in far less; anything bigger is the wrong file.
_CREDENTIALS_BYTES_LIMIT = 64 * 1024


def _refuse_command_line_credentials(*, key_id: str | None, secret: str | None) -> None:
    """Refuse a key id or secret given as an option; the message never quotes the value."""
    given = [
        name for name, value in (("--key-id", key_id), ("--secret", secret)) if value is not None
    ]
    if not given:
        return
    verb, them = ("is", "it") if len(given) == 1 else ("are", "them")
    raise InvalidInputError(
        f"{' and '.join(given)} on the command line {verb} refused: every user of this machine "
        f"can read {them} with 'ps'; leave {them} out to be prompted, pipe "
        '"KEY_ID\\nSECRET" on stdin, '
        "or use --from-file PATH (mode 0600)"
    )


def _read_credentials_prompt() -> tuple[str, str]:
    """The key id and the secret from two hidden prompts on stderr."""
    key_id = str(click.prompt("Key id", hide_input=True, err=True))
    secret = str(click.prompt("Secret", hide_input=True, err=True))
    return key_id, secret


def _read_credentials_stdin() -> tuple[str, str]:
    """The key id and the secret from the first two lines of piped stdin."""
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:
        raw = sys.stdin.read(_CREDENTIALS_BYTES_LIMIT + 1).encode("utf-8")
    else:
        raw = stream.read(_CREDENTIALS_BYTES_LIMIT + 1)
    return _two_lines(raw, "stdin")


def _read_credentials_file(path: str) -> tuple[str, str]:
    """The key id and the secret from a private file, checked on the opened descriptor."""
    shown = shlex.quote(path)
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NOCTTY | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        descriptor = os.open(os.path.expanduser(path), flags)
    except FileNotFoundError:
        raise InvalidInputError(f"--from-file: {shown} does not exist") from None
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.EMLINK):
            raise InvalidInputError(
                f"--from-file: {shown} is a symbolic link; name the file it points to"
            ) from None
        raise InvalidInputError(f"--from-file: cannot open {shown} ({error.strerror})") from None
    try:
        _check_private(os.fstat(descriptor), shown)
        chunks: list[bytes] = []
        size = 0
        while size <= _CREDENTIALS_BYTES_LIMIT:
            chunk = os.read(descriptor, _CREDENTIALS_BYTES_LIMIT + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(descriptor)
    return _two_lines(b"".join(chunks), f"--from-file {shown}")


def _check_private(status: os.stat_result, shown: str) -> None:
    """Refuse anything but a regular file of the caller's that no one else may touch."""
    if not stat.S_ISREG(status.st_mode):
        raise InvalidInputError(f"--from-file: {shown} is not a regular file")
    if status.st_uid != os.geteuid():
        raise InvalidInputError(
            f"--from-file: {shown} belongs to another user; copy it to a file of your own "
            "and run 'chmod 600' on that"
        )
    if status.st_mode & 0o077:
        raise InvalidInputError(
            f"--from-file: {shown} has mode {stat.S_IMODE(status.st_mode):04o}, so other "
            f"users may have access; run 'chmod 600 {shown}' first"
        )


def _two_lines(raw: bytes, source: str) -> tuple[str, str]:
    """Line 1 the key id, line 2 the secret; line ends are dropped, nothing else is."""
    if len(raw) > _CREDENTIALS_BYTES_LIMIT:
        raise InvalidInputError(
            f"{source} holds more than {_CREDENTIALS_BYTES_LIMIT} bytes; it should hold two "
            "lines, the key id and the secret"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInputError(f"{source} is not UTF-8 text") from None
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    if not lines[0]:
        raise InvalidInputError(
            f"{source} has no key id on its first line; it should hold two lines, "
            "the key id and the secret"
        )
    if len(lines) < 2 or not lines[1]:
        raise InvalidInputError(
            f"{source} has no secret on its second line; it should hold two lines, "
            "the key id and the secret"
        )
    if any(lines[2:]):
        raise InvalidInputError(
            f"{source} has more than two lines; it should hold only the key id and the secret"
        )
    return lines[0], lines[1]


@keys.command("list")
@json_option
def list_keys(as_json: bool) -> None:
    """List your API keys: provider, label, key id hint, created, last used. Never the secret."""
    from quantdesk.api.keys import list_api_keys

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
    from quantdesk.api.keys import remove_api_key

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
    from quantdesk.api.keys import rotate_master_key

    rotation = rotate_master_key()
    text = f"re-encrypted {rotation.rotated} API key(s) under the new master key"
    if rotation.rename_required:
        text += (
            f"; now rename {rotation.next_key_file} over {rotation.key_file} in the server's "
            "data directory (do not delete it: the keys are encrypted with it)"
        )
    emit(
        {"rotated": rotation.rotated, "rename_required": rotation.rename_required},
        as_json=as_json,
        text=text,
    )
