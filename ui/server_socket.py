"""Turn Nagle's algorithm off on the app server's TCP connections (``TCP_NODELAY``).

Why: Streamlit 1.67 binds its listening socket itself (``socket.socket(family)``, protocol 0)
and hands it to uvicorn. asyncio sets ``TCP_NODELAY`` on an accepted connection only when the
socket's protocol is ``IPPROTO_TCP``, so every connection of the app keeps Nagle's algorithm.
On a kept-alive connection, a response written in two parts (headers, then body) then waits
for the browser's delayed acknowledgement: about 40 ms per file (``curl`` on a reused
connection: 42 ms for a 2 kB script, 1.6 ms once the option is set). A first visit fetches about
100 files over 6 connections: in interleaved A/B runs of ``benchmarks/bench_app.py``'s first visit
the map message arrives 0.11–0.13 s sooner and the drawn map 0.01–0.18 s sooner (on 2 cores the
browser's own work then takes most of the freed time).

What: the operating system copies ``TCP_NODELAY`` from a listening socket to the connections it
accepts (checked on Linux by ``tests/test_server_socket.py``), so :func:`disable_nagle` sets it
on the process's listening TCP sockets, and on the connections already open to them. psutil
gives the file descriptors; the option is set through a duplicate descriptor (socket options
belong to the socket, not to the descriptor). It runs once per server process, from the app's
entry point; on a platform where psutil gives no descriptors it does nothing.
"""

from __future__ import annotations

import functools
import socket

import psutil


def set_nodelay_on_server_sockets() -> int:
    """Set ``TCP_NODELAY`` on this process's listening TCP sockets and on its open connections
    to them; returns how many sockets were changed."""
    try:
        conns = psutil.Process().net_connections(kind="tcp")
    except (psutil.Error, OSError):
        return 0
    ports = {c.laddr.port for c in conns if c.status == psutil.CONN_LISTEN and c.laddr}
    changed = 0
    for c in conns:
        if c.fd < 0 or not c.laddr or c.laddr.port not in ports:
            continue  # not ours to tune (outgoing connections) or no descriptor on this platform
        try:
            with socket.fromfd(c.fd, c.family, c.type) as dup:
                if not dup.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY):
                    dup.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    changed += 1
        except OSError:
            continue  # closed meanwhile
    return changed


@functools.cache
def disable_nagle() -> int:
    """:func:`set_nodelay_on_server_sockets` once per process (the app's entry point calls it on
    every run; later connections inherit the option from the listening socket)."""
    return set_nodelay_on_server_sockets()
