"""`shop serve dashboard`'s pieces: the Streamlit command it runs, and a port that is taken."""

from __future__ import annotations

import socket

import pytest

from app import launch
from shop import ports
from shopcore.errors import ShopError


def test_the_command_serves_the_entrypoint_headless_on_the_port():
    command = launch.streamlit_command(8599, "0.0.0.0")
    assert command[1:4] == ["-m", "streamlit", "run"]
    assert command[4] == str(launch.APP_ENTRYPOINT) and launch.APP_ENTRYPOINT.is_file()
    options = dict(zip(command[5::2], command[6::2], strict=True))
    assert options["--server.port"] == "8599" and options["--server.address"] == "0.0.0.0"
    assert options["--server.headless"] == "true"


def test_a_port_in_use_is_refused_with_what_to_do():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ShopError, match="--port"):
            ports.ensure_port_free("127.0.0.1", port)
