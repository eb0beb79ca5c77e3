"""KRaft storage formatting: a log directory must be formatted once before first start."""

from __future__ import annotations

import base64
import logging
import uuid
from collections.abc import Sequence
from pathlib import Path

from local_kafka.jvm import run_tool

logger = logging.getLogger(__name__)

# Written by `kafka-storage format`; holds the cluster id that every later start reuses.
_META_PROPERTIES = "meta.properties"


def cluster_id(log_dir: Path) -> str | None:
    """The cluster id ``log_dir`` was formatted with, or None if it is not formatted."""
    try:
        text = (log_dir / _META_PROPERTIES).read_text()
    except FileNotFoundError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "cluster.id":
            return value.strip()
    return None


def format_once(
    log_dir: Path, config: Path, wanted_id: str | None = None, scram_users: Sequence[str] = ()
) -> str:
    """Format ``log_dir`` (the log.dirs of ``config``) unless done; return its cluster id.

    Only a first start formats, with ``wanted_id`` (the id the other nodes of a
    cluster share) or a new one: meta.properties then keeps the cluster id, so
    data survives restarts. ``scram_users`` are SCRAM credentials the cluster starts
    with (``SCRAM-SHA-256=[name=…,password=…]``, as ``kafka-storage format --add-scram``
    takes them). Raises ``subprocess.CalledProcessError`` (output
    captured) if Kafka's storage tool fails.
    """
    existing = cluster_id(log_dir)
    if existing is not None:
        return existing
    new_id = wanted_id or random_cluster_id()
    result = run_tool(
        "kafka.tools.StorageTool",
        [
            "format",
            "--cluster-id",
            new_id,
            "--config",
            str(config),
            *(arg for user in scram_users for arg in ("--add-scram", user)),
        ],
        capture_output=True,
    )
    logger.debug("%s", result.stdout.strip())
    return new_id


def random_cluster_id() -> str:
    """A Kafka textual UUID: URL-safe base64 of 16 random bytes without padding.

    Like Kafka's own generator, skip ids starting with "-", which parse as CLI flags.
    """
    while True:
        candidate = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not candidate.startswith("-"):
            return candidate
