"""Build and run ``java`` command lines on the classpath of the cached Kafka jars."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from local_kafka.fetch import PACKAGE_DIR, ensure_libs

logger = logging.getLogger(__name__)

TOOLS_LOG_CONFIG = PACKAGE_DIR / "tools-log4j2.xml"

# CLI tools live for seconds: a small heap, the serial GC and the C1 compiler only
# start noticeably faster than the server defaults, which is all that matters here.
_TOOL_JVM_OPTIONS = ("-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")


class JavaNotFoundError(RuntimeError):
    """Neither $JAVA_HOME/bin/java nor ``java`` on PATH exists."""


def java_executable() -> str:
    """Prefer $JAVA_HOME (what Kafka's own scripts do), then ``java`` on PATH."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = Path(java_home) / "bin" / "java"
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("java")
    if found is None:
        raise JavaNotFoundError("No Java runtime: install Java 17+ or set JAVA_HOME")
    return found


def java_command(
    main_class: str,
    args: Sequence[str],
    *,
    log_config: Path,
    jvm_options: Sequence[str] = (),
) -> list[str]:
    """Command line that runs ``main_class`` with the Kafka jars (fetched if needed)."""
    return [
        java_executable(),
        *jvm_options,
        f"-Dlog4j2.configurationFile={log_config}",
        "-cp",
        str(ensure_libs() / "*"),
        main_class,
        *args,
    ]


def run_tool(
    main_class: str,
    args: Sequence[str],
    *,
    capture_output: bool = False,
    check: bool = True,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a Kafka CLI tool class, e.g. ``org.apache.kafka.tools.TopicCommand``.

    The tool inherits stdin/stdout/stderr unless ``capture_output`` is set, so
    interactive tools (console consumer/producer) behave as in Kafka's ``bin/``.
    """
    command = java_command(
        main_class, args, log_config=TOOLS_LOG_CONFIG, jvm_options=_TOOL_JVM_OPTIONS
    )
    logger.debug("Running %s", " ".join(command))
    return subprocess.run(
        command, capture_output=capture_output, text=True, check=check, timeout=timeout
    )
