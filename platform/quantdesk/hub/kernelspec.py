"""The "Python 3 (quantdesk)" kernel, installed where every person's server finds it.

Every server runs this environment's Python, so the kernel goes into its
``share/jupyter/kernels`` (``sys.prefix``), which Jupyter searches for every
account. The kernel starts this Python (``jupyter_client`` replaces the
spec's ``python`` with the server's own interpreter), where ``quantdesk`` is
installed, and inherits the server's environment: the person's own database
URL and data directory (:mod:`quantdesk.hub.provisioning`).
"""

from __future__ import annotations

import sys
from pathlib import Path

from jupyter_client.kernelspec import KernelSpecManager

from quantdesk.errors import HubError
from quantdesk.hub.files import KERNEL_NAME, KERNELS_DIRECTORY


def install_kernel(prefix: str | None = None) -> Path:
    """Install (or refresh) the quantdesk kernel spec under ``prefix``; a no-op when current.

    Parameters
    ----------
    prefix
        The environment to install into; this Python's ``sys.prefix`` when None.

    Returns
    -------
    pathlib.Path
        The installed kernel directory.

    Raises
    ------
    HubError
        If the repository's ``kernels/quantdesk`` is missing, or the kernel is
        not installed yet and this account cannot write there.
    """
    source = KERNELS_DIRECTORY / KERNEL_NAME
    if not (source / "kernel.json").is_file():
        raise HubError(
            f"the kernel spec {source / 'kernel.json'} is missing: run the hub from a clone of "
            "the quantdesk repository"
        )
    target = Path(prefix or sys.prefix) / "share" / "jupyter" / "kernels" / KERNEL_NAME
    if _same_files(source, target):
        return target
    try:
        installed = KernelSpecManager().install_kernel_spec(
            str(source), KERNEL_NAME, prefix=prefix or sys.prefix
        )
    except PermissionError:
        raise HubError(
            f"cannot install the quantdesk kernel into {target}: start the hub once as the "
            "account that owns this environment (it installs the kernel for everyone)"
        ) from None
    return Path(installed)


def _same_files(source: Path, target: Path) -> bool:
    """Whether ``target`` holds exactly the files of ``source``, with the same contents."""
    if not target.is_dir():
        return False
    names = sorted(path.name for path in source.iterdir() if path.is_file())
    if sorted(path.name for path in target.iterdir() if path.is_file()) != names:
        return False
    return all((source / name).read_bytes() == (target / name).read_bytes() for name in names)
