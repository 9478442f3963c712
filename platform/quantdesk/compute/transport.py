"""Mutual TLS for the clusters quantdesk starts, so only their owner can reach them.

A Dask scheduler runs whatever a connected client sends it, so a scheduler
on 127.0.0.1 without authentication is a shell for every account on the host.
Each cluster quantdesk starts gets its own self-signed certificate and key
(:class:`ClusterCredentials`), written to a file only its owner can read
(mode 0600, in a 0700 directory); the scheduler and workers require TLS with
a certificate signed by it, so a process that cannot read that file cannot
connect, whatever account it runs as.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quantdesk.errors import ComputeError
from quantdesk.store.private_file import write_private_text

__all__ = ["CREDENTIALS_FILE", "ClusterCredentials"]

CREDENTIALS_FILE = "tls.json"
"""The credentials' file name, beside the cluster's state file."""


@dataclass(frozen=True)
class ClusterCredentials:
    """One cluster's TLS certificate (also its authority) and private key, in PEM.

    Attributes
    ----------
    certificate
        The self-signed certificate every member and client presents and trusts.
    key
        Its private key; never shown in a repr.
    """

    certificate: str
    key: str = field(repr=False)

    @classmethod
    def new(cls) -> ClusterCredentials:
        """A new certificate and key, made in memory by Dask's own generator."""
        from distributed.security import Security

        made = Security.temporary()  # type: ignore[no-untyped-call]
        return cls(certificate=str(made.tls_client_cert), key=str(made.tls_client_key))

    def write(self, path: Path) -> None:
        """Store them in ``path``, readable by this account only (mode 0600)."""
        write_private_text(path, json.dumps({"certificate": self.certificate, "key": self.key}))

    @classmethod
    def read(cls, path: Path) -> ClusterCredentials:
        """The credentials stored in ``path``.

        Raises
        ------
        ComputeError
            If the file cannot be read (another account's cluster, or gone).
        """
        try:
            values = json.loads(path.read_text())
            return cls(certificate=str(values["certificate"]), key=str(values["key"]))
        except (OSError, ValueError, KeyError, TypeError) as error:
            reason = error.strerror if isinstance(error, OSError) else "it is not valid"
            raise ComputeError(
                f"cannot read the cluster's credentials {path} ({reason}); "
                "run 'quantdesk cluster down' then 'quantdesk cluster up'"
            ) from None

    def security(self) -> Any:
        """A ``distributed.Security`` requiring TLS with this certificate, for every role."""
        from distributed.security import Security

        pair = {"cert": self.certificate, "key": self.key}
        roles = {
            f"tls_{role}_{part}": value
            for role in ("client", "scheduler", "worker")
            for part, value in pair.items()
        }
        return Security(  # type: ignore[no-untyped-call]
            require_encryption=True, tls_ca_file=self.certificate, **roles
        )
