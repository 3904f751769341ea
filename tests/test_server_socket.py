"""ui.server_socket: Nagle's algorithm off on the server's sockets, as Streamlit binds them."""

from __future__ import annotations

import socket
import sys

import pytest

from ui.server_socket import set_nodelay_on_server_sockets

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="descriptors from psutil: checked on Linux")


def nodelay(sock: socket.socket) -> bool:
    return bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))


def test_listening_socket_and_its_connections_get_tcp_nodelay():
    # bound like Streamlit 1.67 does (protocol 0): asyncio then leaves Nagle on for each connection
    server = socket.socket(family=socket.AF_INET)
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    before, _ = server.accept()
    try:
        assert server.proto == 0 and not nodelay(server) and not nodelay(before)
        assert set_nodelay_on_server_sockets() >= 2
        assert nodelay(server) and nodelay(before)  # the connection already open too
        assert not nodelay(client)  # an outgoing connection is left as it is
        later_client = socket.create_connection(("127.0.0.1", port))
        later, _ = server.accept()
        assert nodelay(later)  # inherited from the listening socket
        assert set_nodelay_on_server_sockets() == 0  # nothing left to change
        for s in (later, later_client):
            s.close()
    finally:
        for s in (before, client, server):
            s.close()
