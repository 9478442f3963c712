"""The hub's sign-up and log-in forms, filled in as a browser does (cookies and ``_xsrf``).

The first admin signs up through the very page everyone else uses, so the
hub stores their password hash exactly as it stores anyone's.
"""

from __future__ import annotations

import http.cookiejar
import json
import re
import urllib.error
import urllib.parse
import urllib.request

from quantdesk.errors import HubError

_TIMEOUT_SECONDS = 30
_XSRF_COOKIE = "_xsrf"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *arguments: object, **keywords: object) -> None:
        return None


class HubForms:
    """A browser-like session on one hub: a cookie jar, no automatic redirects.

    Parameters
    ----------
    url
        The hub's address, e.g. ``http://127.0.0.1:8080``.
    """

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self._cookies = http.cookiejar.CookieJar()
        self._opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self._cookies), _NoRedirect()
        )

    def __repr__(self) -> str:
        return f"HubForms(url={self.url!r})"

    def sign_up(self, name: str, password: str) -> str:
        """Fill in ``/hub/signup``.

        Parameters
        ----------
        name, password
            The new account.

        Returns
        -------
        str
            The page the hub answered with (its message says whether it worked).
        """
        fields = {
            "username": name,
            "signup_password": password,
            "signup_password_confirmation": password,
        }
        _, page = self._post("/hub/signup", fields)
        return page

    def log_in(self, name: str, password: str) -> bool:
        """Fill in ``/hub/login``.

        Parameters
        ----------
        name, password
            The credentials.

        Returns
        -------
        bool
            True when the hub logged the person in (it redirects), False when it
            showed the form again.
        """
        status, _ = self._post("/hub/login", {"username": name, "password": password})
        return status in (301, 302, 303)

    def signed_up(self, name: str) -> bool:
        """As a logged-in admin, whether ``name`` is among the sign-ups at ``/hub/authorize``."""
        _, page = self._request("/hub/authorize")
        return re.search(rf"(?<![\w.-]){re.escape(name)}(?![\w.-])", page) is not None

    def approve(self, name: str) -> None:
        """As a logged-in admin, approve ``name``'s sign-up at ``/hub/authorize/NAME``.

        Raises
        ------
        HubError
            If the hub refuses (not an admin, or the account could not be made).
        """
        self._request(f"/hub/authorize/{urllib.parse.quote(name)}")

    def make_admin(self, name: str) -> None:
        """As a logged-in admin, make ``name`` an admin of the hub through its REST API.

        Raises
        ------
        HubError
            If the hub refuses.
        """
        token = self._xsrf_token("/hub/home")
        request = urllib.request.Request(
            f"{self.url}/hub/api/users/{urllib.parse.quote(name)}",
            data=json.dumps({"admin": True}).encode(),
            method="PATCH",
            headers={"X-XSRFToken": token, "Content-Type": "application/json"},
        )
        self._open(request, f"/hub/api/users/{name}")

    def _xsrf_token(self, path: str) -> str:
        self._request(path)
        token = next((c.value for c in self._cookies if c.name == _XSRF_COOKIE), None)
        if token is None:
            raise HubError(f"the hub at {self.url} set no {_XSRF_COOKIE} cookie on {path}")
        return token

    def _post(self, path: str, fields: dict[str, str]) -> tuple[int, str]:
        token = self._xsrf_token(path)
        body = urllib.parse.urlencode({**fields, _XSRF_COOKIE: token}).encode()
        return self._request(path, body)

    def _request(self, path: str, body: bytes | None = None) -> tuple[int, str]:
        return self._open(urllib.request.Request(f"{self.url}{path}", data=body), path)

    def _open(self, request: urllib.request.Request, path: str) -> tuple[int, str]:
        try:
            with self._opener.open(request, timeout=_TIMEOUT_SECONDS) as response:
                return int(response.status), response.read().decode(errors="replace")
        except urllib.error.HTTPError as error:
            if error.code in (301, 302, 303):
                return error.code, ""
            raise HubError(f"the hub answered {path} with HTTP {error.code}; see its log") from None
        except urllib.error.URLError as error:
            raise HubError(f"cannot reach the hub at {self.url} ({error.reason})") from None
