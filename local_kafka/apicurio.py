"""Fetch Apicurio Registry's self-contained distribution from Maven Central.

``io.apicurio:apicurio-registry-app:<version>:tar.gz:all`` is a Quarkus
application (a launcher jar plus its ``lib/``); it is unpacked into
``<repo>/.cache/apicurio/<version>/dist`` with the same lock, staging directory
and ``complete`` marker as the Kafka jars (see :func:`local_kafka.fetch.ensure_cached`).

Why 3.0.9 and not the newer 3.3.x: 3.3.2 and 3.3.3 are compiled for Java 21
(class file version 65) and fail on the Java 17 this project requires with
``UnsupportedClassVersionError``; 3.0.9 runs on Java 17.
"""

from __future__ import annotations

import logging
import tarfile
import time
from pathlib import Path

from local_kafka.fetch import REPO_ROOT, FetchError, ensure_cached, run_maven

logger = logging.getLogger(__name__)

APICURIO_VERSION = "3.0.9"
CACHE_ROOT = REPO_ROOT / ".cache" / "apicurio"

_ARTIFACT = f"io.apicurio:apicurio-registry-app:{APICURIO_VERSION}:tar.gz:all"
# maven-dependency-plugin 3.x reads the artifact's POM, whose parent
# (io.apicurio:apicurio-registry) is not served everywhere the tarball is, and then
# fails; 2.8 copies the file alone. Pinned so Maven's default version cannot change it.
_COPY_GOAL = "org.apache.maven.plugins:maven-dependency-plugin:2.8:copy"
# 3.0.x ships a "legacy-jar" (<name>-runner.jar next to lib/); 3.1+ a "fast-jar"
# (quarkus-run.jar next to app/, lib/, quarkus/), older images nest it in quarkus-app/.
_LAUNCHERS = ("quarkus-run.jar", "quarkus-app/quarkus-run.jar", "*-runner.jar")


def ensure_registry() -> Path:
    """Return the unpacked distribution, downloading it first if the cache is incomplete.

    Safe to call from several processes at once, like :func:`local_kafka.ensure_libs`.
    """
    return ensure_cached(CACHE_ROOT / APICURIO_VERSION / "dist", _ARTIFACT, _download_and_unpack)


def launcher_jar(dist: Path) -> Path:
    """The jar that ``java -jar`` runs, whichever Quarkus packaging ``dist`` has."""
    for pattern in _LAUNCHERS:
        found = sorted(dist.glob(pattern))
        if found:
            return found[0]
    raise FetchError(f"{dist} holds none of {', '.join(_LAUNCHERS)}")


def _download_and_unpack(staging: Path) -> None:
    logger.info("Fetching Apicurio Registry %s with Maven", APICURIO_VERSION)
    started = time.monotonic()
    run_maven(
        [_COPY_GOAL, f"-Dartifact={_ARTIFACT}", f"-DoutputDirectory={staging}"],
        "Apicurio Registry",
    )
    archive = staging / f"apicurio-registry-app-{APICURIO_VERSION}-all.tar.gz"
    # Python, not Maven, unpacks: the old plexus-archiver in plugin 2.8 does not read
    # pax headers and truncates long jar names, which breaks the launcher's classpath.
    # The "data" filter refuses absolute paths, links out of the tree and device files.
    with tarfile.open(archive) as tar:
        tar.extractall(staging, filter="data")
    size = archive.stat().st_size
    archive.unlink()
    # A distribution without a launcher would only fail at start: fail the fetch instead.
    launcher_jar(staging)
    logger.info("Fetched and unpacked %.0f MB in %.1fs", size / 1e6, time.monotonic() - started)
