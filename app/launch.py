"""How the dashboard is served: the `streamlit run` command for app/streamlit_app.py.

`shop serve dashboard`, the live demo, the browser tests and the screenshot script all start it so.
"""

from __future__ import annotations

import sys
from pathlib import Path

APP_ENTRYPOINT = Path(__file__).resolve().parent / "streamlit_app.py"
DEFAULT_PORT = 8501


def streamlit_command(port: int, host: str = "127.0.0.1") -> list[str]:
    """The command that serves the dashboard on `host`:`port`."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP_ENTRYPOINT),
        "--server.port",
        str(port),
        "--server.address",
        host,
        "--server.headless",
        "true",
        # No reload-on-save watcher: a served dashboard does not change under it (and it costs CPU).
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
        # A viewer's dashboard: no "Deploy" button or developer menu entries.
        "--client.toolbarMode",
        "viewer",
    ]
