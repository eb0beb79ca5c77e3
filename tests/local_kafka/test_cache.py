"""Unit tests of the download cache that the Kafka jars and Apicurio share (no network)."""

from __future__ import annotations

from pathlib import Path

import pytest

from local_kafka.fetch import FetchError, ensure_cached


class Filler:
    """A fake download: writes one file, or fails, and counts its calls."""

    def __init__(self, text: str = "jar", *, fail: bool = False) -> None:
        self.text = text
        self.fail = fail
        self.calls = 0

    def __call__(self, staging: Path) -> None:
        self.calls += 1
        (staging / "lib.jar").write_text(self.text)
        if self.fail:
            raise FetchError("network down")


def test_fills_once_then_reuses(tmp_path: Path) -> None:
    content = tmp_path / "1.0" / "dist"
    fill = Filler()

    assert ensure_cached(content, "v1", fill) == content
    assert ensure_cached(content, "v1", fill) == content

    assert fill.calls == 1
    assert (content / "lib.jar").read_text() == "jar"
    assert sorted(p.name for p in content.parent.iterdir()) == [".lock", "complete", "dist"]


def test_a_new_fingerprint_replaces_the_content(tmp_path: Path) -> None:
    content = tmp_path / "1.0" / "libs"
    ensure_cached(content, "pom-a", Filler("old"))

    ensure_cached(content, "pom-b", Filler("new"))

    assert (content / "lib.jar").read_text() == "new"


def test_a_failed_fill_leaves_no_marker_and_is_redone(tmp_path: Path) -> None:
    content = tmp_path / "1.0" / "dist"
    with pytest.raises(FetchError, match="network down"):
        ensure_cached(content, "v1", Filler(fail=True))
    assert not content.exists()
    assert not (content.parent / "complete").exists()

    fill = Filler()
    ensure_cached(content, "v1", fill)
    assert fill.calls == 1


def test_leftovers_of_a_killed_fetch_are_removed(tmp_path: Path) -> None:
    content = tmp_path / "1.0" / "dist"
    stale = content.parent / "dist.partial-killed"
    stale.mkdir(parents=True)

    ensure_cached(content, "v1", Filler())

    assert not stale.exists()
    assert content.is_dir()
