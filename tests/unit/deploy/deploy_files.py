"""Reads the container files the way Docker and compose read them, for the keys the tests use.

The compose files are merged as compose merges them for those keys
(mappings key by key, anything else replaced); the Dockerfile is read as a
list of (INSTRUCTION, arguments) with continuation lines joined.
"""

import re
import shlex
from pathlib import Path
from typing import Any

import yaml

Services = dict[str, dict[str, Any]]

ROOT = Path(__file__).resolve().parents[3]
#: The one-broker stack, and the three-broker stack layered over it.
VARIANTS = {
    "single": ["docker-compose.yml"],
    "cluster": ["docker-compose.yml", "docker-compose.cluster.yml"],
}


def merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        return {**base, **{k: merge(base[k], v) if k in base else v for k, v in over.items()}}
    return over


def load(variant: str) -> Services:
    project: dict[str, Any] = {}
    for name in VARIANTS[variant]:
        project = merge(project, yaml.safe_load((ROOT / name).read_text()))
    return project["services"]


def dockerfile_text() -> str:
    return (ROOT / "Dockerfile").read_text()


def dockerfile() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", dockerfile_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split()[0].upper(), line.partition(" ")[2].strip())
        for line in lines
        if line and line[0] != "#"
    ]


def instructions(name: str) -> list[str]:
    return [args for instruction, args in dockerfile() if instruction == name]


def dockerfile_env() -> dict[str, str]:
    return dict(item.split("=", 1) for args in instructions("ENV") for item in shlex.split(args))


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def published(service: dict[str, Any]) -> dict[int, int]:
    """container port -> host port, from "[ip:]host:container" entries."""
    entries = (str(entry).rsplit(":", 2)[-2:] for entry in service.get("ports", []))
    return {int(container): int(host) for host, container in entries}
