"""Sign-up, admin approval and log-in: NativeAuthenticator with quantdesk's names and hook.

People sign up on the hub's own ``/hub/signup`` page; NativeAuthenticator
keeps their password as a bcrypt hash in the hub's database. With
``open_signup`` off nobody can log in until an admin approves them at
``/hub/authorize``. :class:`QuantdeskAuthenticator` adds two things:

- names follow the database's rules (:func:`quantdesk.hub.accounts.validate_person_name`),
  since a person's hub name is their database role and, as root, their OS account;
- approving a person provisions them at once
  (:func:`quantdesk.hub.provisioning.provision_person`), so their OS account
  exists from the moment they may log in; a name the platform cannot give
  them (an existing OS account it did not make) is refused there, with the
  reason, and the person stays unapproved.
"""

from __future__ import annotations

import asyncio
from typing import Any

from jupyterhub.scopes import needs_scope
from nativeauthenticator import NativeAuthenticator
from nativeauthenticator.handlers import ToggleAuthorizationHandler
from tornado import web
from traitlets import Bool

from quantdesk.config import Settings
from quantdesk.errors import QuantdeskError
from quantdesk.hub.accounts import validate_person_name
from quantdesk.hub.provisioning import provision_person

_APPROVAL_ROUTE = r"/authorize/([^/]*)"


class ApprovalHandler(ToggleAuthorizationHandler):  # type: ignore[misc]
    """``/hub/authorize/NAME``: provisions a person before approving them; unapproving is plain."""

    @needs_scope("admin:users")  # type: ignore[untyped-decorator]
    async def get(self, slug: str) -> None:
        """Provision ``slug`` if this request approves them, then toggle their approval."""
        record = self.authenticator.get_user(slug)
        if record is None or record.username != slug:
            raise web.HTTPError(404, reason="nobody signed up with that name")
        if not record.is_authorized:
            try:
                await asyncio.to_thread(
                    provision_person,
                    Settings.load(),
                    slug,
                    isolated=self.authenticator.isolated,
                )
            except QuantdeskError as error:
                raise web.HTTPError(409, reason=str(error).splitlines()[0]) from None
        await super().get(slug)


class QuantdeskAuthenticator(NativeAuthenticator):  # type: ignore[misc]
    """NativeAuthenticator whose names are quantdesk names and whose approval provisions."""

    isolated = Bool(
        False,
        config=True,
        help="Whether the hub runs as root and each person gets an OS account of their name.",
    )

    def validate_username(self, username: str) -> bool:
        """Accept only names that can also be a database role (and, as root, an OS account).

        Parameters
        ----------
        username
            The name a person signs up or logs in with.

        Returns
        -------
        bool
            True when valid.
        """
        try:
            validate_person_name(username, isolated=self.isolated)
        except QuantdeskError:
            return False
        return bool(super().validate_username(username))

    def get_handlers(self, app: Any) -> list[tuple[str, Any]]:
        """NativeAuthenticator's pages, with approval through :class:`ApprovalHandler`.

        Parameters
        ----------
        app
            The JupyterHub application.

        Returns
        -------
        list
            ``(route, handler)`` pairs.
        """
        handlers = [
            (route, ApprovalHandler if route == _APPROVAL_ROUTE else handler)
            for route, handler in super().get_handlers(app)
        ]
        return handlers
