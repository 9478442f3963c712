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
  reason, and the person stays unapproved;
- approving and discarding refuse requests another site made a browser send
  (:func:`refuse_cross_site`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from jupyterhub.scopes import needs_scope
from nativeauthenticator import NativeAuthenticator
from nativeauthenticator.handlers import DiscardHandler, ToggleAuthorizationHandler
from tornado import web
from traitlets import Bool

from quantdesk.config import Settings
from quantdesk.errors import QuantdeskError
from quantdesk.hub.accounts import validate_person_name
from quantdesk.hub.provisioning import provision_person

_APPROVAL_ROUTE = r"/authorize/([^/]*)"
_DISCARD_ROUTE = r"/discard/([^/]*)"
SAME_SITE_FETCHES = frozenset({"same-origin", "none"})
"""``Sec-Fetch-Site`` values a browser sends for the hub's own pages and for typed addresses."""


def refuse_cross_site(handler: Any) -> None:
    """Refuse a request another site's page made the browser send.

    NativeAuthenticator approves (``/hub/authorize/NAME``) and discards
    (``/hub/discard/NAME``) with plain GET links, which carry no ``_xsrf``
    field: a page elsewhere could make a logged-in admin's browser approve
    anyone with an ``<img>`` tag. Browsers say where a request came from in
    ``Sec-Fetch-Site``; a client with a token sends none and is let through.

    Parameters
    ----------
    handler
        The tornado request handler.

    Raises
    ------
    tornado.web.HTTPError
        403 for a cross-site or same-site (another port or subdomain) request.
    """
    origin = handler.request.headers.get("Sec-Fetch-Site")
    if origin is not None and origin not in SAME_SITE_FETCHES:
        raise web.HTTPError(403, reason="use the hub's own /hub/authorize page for this")


class DiscardOnlyFromTheHubHandler(DiscardHandler):  # type: ignore[misc]
    """``/hub/discard/NAME``, refusing cross-site requests."""

    @needs_scope("admin:users")  # type: ignore[untyped-decorator]
    async def get(self, user_name: str) -> None:
        """Discard ``user_name``'s sign-up unless another site asked for it."""
        refuse_cross_site(self)
        await super().get(user_name)


class ApprovalHandler(ToggleAuthorizationHandler):  # type: ignore[misc]
    """``/hub/authorize/NAME``: provisions a person before approving them; unapproving is plain."""

    @needs_scope("admin:users")  # type: ignore[untyped-decorator]
    async def get(self, slug: str) -> None:
        """Provision ``slug`` if this request approves them, then toggle their approval."""
        refuse_cross_site(self)
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
        ours = {_APPROVAL_ROUTE: ApprovalHandler, _DISCARD_ROUTE: DiscardOnlyFromTheHubHandler}
        return [(route, ours.get(route, handler)) for route, handler in super().get_handlers(app)]
