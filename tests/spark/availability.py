"""Whether this machine can run the Spark tests: Java 17+ and the `spark` extra (dbt-spark, pyspark)."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path

MIN_JAVA = 17


def java_version() -> int | None:
    """Major version of the `java` Spark would start (JAVA_HOME first, then PATH); None if absent."""
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).exists():
        return None
    try:
        shown = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.search(r'version "(\d+)(?:\.(\d+))?', shown.stderr + shown.stdout)
    if not found:
        return None
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major  # "1.8.0" is Java 8


def spark_missing_reason() -> str | None:
    for module in ("pyspark", "dbt.adapters.spark"):
        try:
            present = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            present = False
        if not present:
            return f"{module} is not installed: pip install -e '.[dev,spark]' (make test does)"
    version = java_version()
    if version is None:
        return f"no Java found (Spark needs Java {MIN_JAVA}+): install e.g. Debian's openjdk-{MIN_JAVA}-jre-headless"
    if version < MIN_JAVA:
        return f"Java {version} found, Spark 4 needs Java {MIN_JAVA}+"
    return None
