"""Ports the servers of `shop serve` and `shop demo` listen on."""

from __future__ import annotations

import socket

from shopcore.errors import ShopError


def ensure_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the servers bind: connections of a server stopped a moment ago (TIME_WAIT) don't count.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ShopError(
                f"Cannot listen on {host}:{port} ({exc.strerror}). Stop what uses it or choose another port with --port."
            ) from exc


def check_ports_free(host: str, ports: dict[str, int]) -> None:
    """Fail, naming the demo flag, when something already listens on one of the ports."""
    for flag, port in ports.items():
        try:
            ensure_port_free(host, port)
        except ShopError as exc:
            raise ShopError(f"{exc} (demo flag {flag})") from None
