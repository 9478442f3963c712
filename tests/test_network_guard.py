"""The autouse guard must stop any connection that leaves this machine."""

from __future__ import annotations

import socket

import pytest

from tests.conftest import NetworkAccessError


def test_connection_to_a_public_address_is_refused() -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as connection,
        pytest.raises(NetworkAccessError, match="offline"),
    ):
        connection.connect(("93.184.216.34", 80))


def test_name_resolution_of_a_public_host_is_refused() -> None:
    with pytest.raises(NetworkAccessError, match="resolve"):
        socket.getaddrinfo("example.com", 443)


def test_loopback_connections_are_allowed() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=2) as client:
            accepted, _ = server.accept()
            accepted.close()
            assert client.fileno() >= 0
