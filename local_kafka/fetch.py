"""Fetch the Kafka broker jars from Maven Central into a per-version cache.

The cache lives in ``<repo>/.cache/kafka/<version>/libs``. A ``complete`` marker
holding the SHA-256 of ``pom.xml`` is written only after the jars are in place,
so an interrupted fetch is simply redone and editing the pom (say, bumping the
log4j version) refreshes the cache without manual cleanup.

:func:`ensure_cached` and :func:`run_maven` are the reusable parts (the schema
registry's distribution is cached the same way, see ``apicurio.py``).
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

logger = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
POM_PATH = PACKAGE_DIR / "pom.xml"
REPO_ROOT = PACKAGE_DIR.parent
CACHE_ROOT = REPO_ROOT / ".cache" / "kafka"

_POM_NS = {"m": "http://maven.apache.org/POM/4.0.0"}
_STAGING_SUFFIX = ".partial-"


class FetchError(RuntimeError):
    """Maven is missing or could not resolve the broker's dependencies."""


def kafka_version() -> str:
    """Return the ``kafka.version`` property of ``pom.xml`` (the source of truth)."""
    node = ET.parse(POM_PATH).find("m:properties/m:kafka.version", _POM_NS)
    if node is None or not (node.text or "").strip():
        raise FetchError(f"{POM_PATH} has no <kafka.version> property")
    return (node.text or "").strip()


def ensure_libs() -> Path:
    """Return the jar directory, downloading the jars first if the cache is incomplete.

    Safe to call from several processes at once (pytest workers, ``make run``):
    a file lock serialises them and only the first one downloads.
    """
    return ensure_cached(CACHE_ROOT / kafka_version() / "libs", _pom_digest(), _copy_kafka_jars)


def ensure_cached(content: Path, fingerprint: str, fill: Callable[[Path], None]) -> Path:
    """Return the directory ``content``, first filling it unless already done for ``fingerprint``.

    ``fill`` gets an empty staging directory next to ``content``, which replaces
    ``content`` only once ``fill`` returns. ``content.parent`` holds a ``.lock`` that
    serialises processes and a ``complete`` marker with ``fingerprint``, written last,
    so an interrupted fetch is redone and a new fingerprint refreshes the cache.
    """
    version_dir = content.parent
    marker = version_dir / "complete"
    if _marker_matches(marker, fingerprint):
        return content

    version_dir.mkdir(parents=True, exist_ok=True)
    with _exclusive_lock(version_dir / ".lock"):
        # Another process may have finished the fetch while we waited for the lock.
        if _marker_matches(marker, fingerprint):
            return content
        marker.unlink(missing_ok=True)
        staging_prefix = f"{content.name}{_STAGING_SUFFIX}"
        # Leftovers of a fetch that was killed mid-way; we hold the lock, so none is live.
        for stale in version_dir.glob(f"{staging_prefix}*"):
            shutil.rmtree(stale, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(prefix=staging_prefix, dir=version_dir))
        try:
            fill(staging)
            shutil.rmtree(content, ignore_errors=True)
            staging.rename(content)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        _write_atomically(marker, fingerprint)
    return content


def run_maven(args: Sequence[str], what: str) -> None:
    """Run ``mvn -q -B args``; raise :class:`FetchError` with Maven's output if it fails."""
    mvn = shutil.which("mvn")
    if mvn is None:
        raise FetchError(f"Maven ('mvn') is not on PATH; it is needed to fetch {what}")
    command = [mvn, "-q", "-B", *args]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()
        raise FetchError(f"{' '.join(command)} failed ({result.returncode}):\n{output}")


def _copy_kafka_jars(staging: Path) -> None:
    """Copy the pom's runtime dependencies into ``staging``."""
    logger.info("Fetching Kafka %s jars with Maven", kafka_version())
    started = time.monotonic()
    run_maven(
        ["-f", str(POM_PATH), "dependency:copy-dependencies", f"-DoutputDirectory={staging}"],
        "the Kafka jars",
    )
    if not any(staging.glob("kafka_2.13-*.jar")):
        raise FetchError(f"Maven succeeded but {staging} holds no kafka_2.13 jar")
    logger.info(
        "Fetched %d jars in %.1fs",
        sum(1 for _ in staging.glob("*.jar")),
        time.monotonic() - started,
    )


def _pom_digest() -> str:
    return hashlib.sha256(POM_PATH.read_bytes()).hexdigest()


def _marker_matches(marker: Path, wanted: str) -> bool:
    try:
        return marker.read_text().strip() == wanted
    except FileNotFoundError:
        return False


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text + "\n")
    tmp.replace(path)


@contextmanager
def _exclusive_lock(path: Path) -> Iterator[None]:
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
