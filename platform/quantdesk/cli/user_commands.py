"""``quantdesk users``: manage database users; ``quantdesk db check``: lint the catalog.

Both run as the manager role (``QUANTDESK_ADMIN_DATABASE_URL``, or the
embedded server's admin URL). A new password is printed once and stored
nowhere else.
"""

from __future__ import annotations

import click

from quantdesk.cli.output import emit, json_option

FAILURE_EXIT_CODE = 1


@click.group("users")
def users() -> None:
    """Database users: each person logs in as their own role and sees only their rows."""


@users.command("add")
@click.argument("name")
@click.option("--admin", is_flag=True, help="Let the user read every user's rows (never write).")
@click.option(
    "--connection-limit",
    type=click.IntRange(min=1),
    default=None,
    help="Sessions the user may hold at once [default: user_connection_limit, 10].",
)
@json_option
def add_command(name: str, admin: bool, connection_limit: int | None, as_json: bool) -> None:
    """Create user NAME and print their database URL (shown only this once).

    With ``--admin`` a running hub gets an approved admin account of the
    same name too, whose password is printed once; with no hub running, only
    the database user is made, and the output says so.
    """
    from quantdesk.api.users import add_user, remove_user
    from quantdesk.config import Settings
    from quantdesk.errors import HubError
    from quantdesk.hub import add_hub_admin, running_hub

    settings = Settings.load()
    hub = running_hub(settings) if admin else None
    credentials = add_user(name, admin=admin, connection_limit=connection_limit, settings=settings)
    hub_account = None
    if hub is not None:
        try:
            hub_account = add_hub_admin(settings, hub, name)
        except HubError:
            remove_user(name, settings=settings)
            raise
    url = credentials.revealed_url()
    role = "admin user" if admin else "user"
    lines = [
        f"created {role} {name}",
        f"database URL (shown only now; give it to {name} and keep no copy):",
        url,
        f"{name} sets QUANTDESK_DATABASE_URL to it; 'quantdesk users rotate {name}' "
        "makes a new one",
    ]
    payload: dict[str, object] = {"user": name, "admin": admin, "database_url": url}
    if hub_account is not None and hub is not None:
        lines.append(
            f"hub admin account at {hub.url}/hub/login: {name}, password "
            f"{hub_account.password} (shown only now)"
        )
        payload["hub"] = {"url": hub.url, "password": hub_account.password}
    elif admin:
        lines.append(
            f"no hub is running, so {name} has no hub account yet: with the hub up "
            "('quantdesk up'), they sign up and an admin approves them"
        )
        payload["hub"] = None
    emit(payload, as_json=as_json, text="\n".join(lines))


@users.command("rotate")
@click.argument("name")
@json_option
def rotate_command(name: str, as_json: bool) -> None:
    """Give user NAME a new random password; the old one and its sessions stop working."""
    from quantdesk.api.users import rotate_user_password
    from quantdesk.config import Settings

    credentials = rotate_user_password(name, settings=Settings.load())
    url = credentials.revealed_url()
    text = "\n".join(
        [
            f"new database URL for {name} (shown only now; the old one no longer works):",
            url,
        ]
    )
    emit({"user": name, "database_url": url}, as_json=as_json, text=text)


@users.command("rm")
@click.argument("name")
@click.option(
    "--purge", is_flag=True, help="Also delete the user's runs, jobs, models and API keys."
)
@json_option
def remove_command(name: str, purge: bool, as_json: bool) -> None:
    """Remove user NAME: delete their rows and drop their role.

    Without --purge, a user who still has data is kept. The API-key audit
    trail is never deleted, so the name cannot be given to a new user.
    """
    from quantdesk.api.users import remove_user
    from quantdesk.config import Settings

    deleted = remove_user(name, purge=purge, settings=Settings.load())
    emit(
        {"user": name, "removed": True, "deleted_rows": deleted},
        as_json=as_json,
        text=f"removed user {name} ({deleted} row(s) deleted)",
    )


@users.command("list")
@json_option
def list_command(as_json: bool) -> None:
    """List the database users."""
    from quantdesk.api.users import list_users
    from quantdesk.config import Settings

    found = list_users(Settings.load())
    payload = [
        {"user": user.name, "admin": user.admin, "can_login": user.can_login} for user in found
    ]
    width = max((len(user.name) for user in found), default=0)
    lines = [
        f"{user.name:<{width}}  {'admin' if user.admin else 'user'}"
        + ("" if user.can_login else "  (locked)")
        for user in found
    ]
    emit(payload, as_json=as_json, text="\n".join(lines) if lines else "no users yet")


@click.command("check")
@json_option
@click.pass_context
def check_command(context: click.Context, as_json: bool) -> None:
    """Check that the database catalog enforces isolation; exit 1 on any problem."""
    from quantdesk.api.database import check_database
    from quantdesk.config import Settings

    problems = check_database(Settings.load())
    payload = {
        "ok": not problems,
        "problems": [
            {"object": problem.subject, "problem": problem.problem, "fix": problem.fix}
            for problem in problems
        ],
    }
    text = (
        "\n".join(str(problem) for problem in problems)
        if problems
        else "the catalog enforces isolation: no problems found"
    )
    emit(payload, as_json=as_json, text=text)
    if problems:
        context.exit(FAILURE_EXIT_CODE)
