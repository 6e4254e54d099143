"""Checks for where a server will listen, made before anything slow runs (training, model loading)."""

from __future__ import annotations

import argparse
import errno
import socket

from golive.errors import UserError


def port_number(value: str) -> int:
    """argparse type for a TCP port a server listens on: 1 to 65535."""
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number; use 1 to 65535, e.g. 8000") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number; use 1 to 65535, e.g. 8000")
    return port


def require_free_port(host: str, port: int, setting: str = "--port") -> None:
    """Bind and release (host, port) now, so a taken port or an unknown host is one clear message up front.

    SO_REUSEADDR matches uvicorn's socket: a port left in TIME_WAIT by a server that just stopped is free.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UserError(
            f"cannot listen on host {host!r}: {exc}; use an address of this machine, e.g. 127.0.0.1 or 0.0.0.0"
        ) from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise UserError(
                    f"port {port} on {host} is already in use (another `golive serve`?); stop that "
                    f"server or choose another port with {setting}"
                ) from None
            if exc.errno == errno.EACCES:
                raise UserError(
                    f"not allowed to listen on port {port} (ports below 1024 need root); choose a port "
                    f"from 1024 up with {setting}"
                ) from None
            raise UserError(
                f"cannot listen on {host}:{port}: {exc.strerror}; use an address of this machine, e.g. 127.0.0.1"
            ) from None
