"""Local stand-ins for the upstream images that cannot be pulled here.

Each image the checked services use is taken, in this order, from the engine's
image store, from its registry (``docker pull``), or built here under the same
name and tag from docker/standins/ (Debian packages and Maven Central only). A
machine that can pull never builds one. Stand-ins carry the label
``order-events.standin`` so that a later run (and the report) tells them apart.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from stackcheck.engine import ROOT, docker
from stackcheck.report import CheckFailed

STANDINS = ROOT / "docker" / "standins"
LABEL = "order-events.standin"
#: The two images the stand-ins are built on; not upstream images, hence their prefix.
DEBIAN_BASE = "order-events-standin/debian:bookworm"
JAVA_BASE = "order-events-standin/java:17-bookworm"
DEBIAN_MIRROR = os.environ.get("DEBIAN_MIRROR", "http://deb.debian.org/debian")


def _kafka_context(context: Path) -> None:
    from local_kafka.fetch import ensure_libs  # the jars `make fetch` put in .cache

    shutil.copytree(ensure_libs(), context / "libs", ignore=shutil.ignore_patterns("complete"))


def _apicurio_context(context: Path) -> None:
    from local_kafka.apicurio import ensure_registry

    shutil.copytree(ensure_registry(), context / "dist", ignore=shutil.ignore_patterns("meta"))


#: upstream image -> (its folder in docker/standins, the base it needs, extra context)
UPSTREAM = {
    "python:3.11.17-slim-bookworm": ("python", DEBIAN_BASE, None),
    "apache/kafka:4.1.2": ("kafka", JAVA_BASE, _kafka_context),
    "apicurio/apicurio-registry:3.0.9": ("apicurio", JAVA_BASE, _apicurio_context),
}


def label_of(image: str) -> str | None:
    """None if ``image`` is not in the image store, else its stand-in label ("" if real)."""
    result = docker(
        "image",
        "inspect",
        "--format",
        f'{{{{index .Config.Labels "{LABEL}"}}}}',
        image,
        check=False,
    )
    if result.returncode != 0:
        return None
    return result.stdout.strip().replace("<no value>", "")


def provide(images: list[str]) -> dict[str, str]:
    """Make every image in ``images`` available; returns image -> where it came from."""
    origin = {}
    for image in images:
        label = label_of(image)
        if label == "":
            origin[image] = "in the image store"
        elif label is not None and label == _identity(image):
            origin[image] = "stand-in, built before"
        elif label is not None:  # a stand-in from other definitions: build it anew
            _build(image)
            origin[image] = "stand-in, rebuilt (its definition changed)"
        elif docker("pull", "--quiet", image, check=False, timeout=600).returncode == 0:
            origin[image] = "pulled"
        elif image in UPSTREAM:
            _build(image)
            origin[image] = "stand-in, built now"
        else:
            raise CheckFailed(f"{image} cannot be pulled and has no stand-in")
    return origin


def _build(image: str) -> None:
    folder, base, fill_context = UPSTREAM[image]
    _ensure_base(base)
    with tempfile.TemporaryDirectory(prefix="standin-") as tmp:
        context = Path(tmp)
        shutil.copytree(STANDINS / folder, context, dirs_exist_ok=True)
        if fill_context:
            fill_context(context)
        _docker_build(image, context, folder)


def _identity(image: str) -> str | None:
    """The label a stand-in built from today's definitions carries: its folder and a
    digest of the folder's files, so that a changed definition is noticed."""
    if image not in UPSTREAM:
        return None
    folder = UPSTREAM[image][0]
    digest = hashlib.sha256()
    for path in sorted((STANDINS / folder).rglob("*")):
        if path.is_file():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return f"docker/standins/{folder}@{digest.hexdigest()[:12]}"


def _docker_build(image: str, context: Path, folder: str) -> None:
    docker(
        "build",
        "--quiet",
        "--label",
        f"{LABEL}={_identity(image) or 'docker/standins/' + folder}",
        "--tag",
        image,
        str(context),
        timeout=1200,
    )


def _ensure_base(base: str) -> None:
    if label_of(base) is not None:
        return
    if base == JAVA_BASE:
        _ensure_base(DEBIAN_BASE)
        _docker_build(base, STANDINS / "java", "java")
    else:
        _import_debian_root(base)


def _import_debian_root(base: str) -> None:
    """A minimal Debian bookworm root file system (debootstrap), imported as ``base``."""
    if shutil.which("debootstrap") is None:
        raise CheckFailed(
            "a stand-in image is needed, and so debootstrap: install Debian's debootstrap "
            "(`bash docker/with-engine.sh make docker-test` does, as root)"
        )
    if os.geteuid() != 0:
        raise CheckFailed("a stand-in image is needed, and debootstrap needs root")
    with tempfile.TemporaryDirectory(prefix="standin-rootfs-") as tmp:
        root = Path(tmp) / "bookworm"
        subprocess.run(
            ["debootstrap", "--variant=minbase", "bookworm", str(root), DEBIAN_MIRROR],
            check=True,
            capture_output=True,
            timeout=900,
        )
        sources = "\n".join(
            [
                f"deb {DEBIAN_MIRROR} bookworm main",
                f"deb {DEBIAN_MIRROR} bookworm-updates main",
                f"deb {DEBIAN_MIRROR}-security bookworm-security main",
            ]
        )
        (root / "etc/apt/sources.list").write_text(sources + "\n")
        for package in (root / "var/cache/apt/archives").glob("*.deb"):
            package.unlink()
        tar = subprocess.Popen(
            ["tar", "-C", str(root), "--numeric-owner", "-c", "."], stdout=subprocess.PIPE
        )
        subprocess.run(
            [
                "docker",
                "import",
                "--change",
                "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "--change",
                f"LABEL {LABEL}=debootstrap",
                "--change",
                'CMD ["bash"]',
                "-",
                base,
            ],
            stdin=tar.stdout,
            check=True,
            capture_output=True,
            timeout=600,
        )
        if tar.wait() != 0:
            raise CheckFailed("tar of the debootstrap root failed")
