"""The compose files: a three-node Qdrant cluster pinned >= 1.18, and the API spread over it."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML is not installed (pip install -e '.[dev]')")

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = ROOT / "docker-compose.cluster.yml"
MIN_QDRANT = (1, 18)


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


def pinned_version(image: str) -> tuple[int, ...]:
    m = re.fullmatch(r"qdrant/qdrant:v(\d+)\.(\d+)\.(\d+)", image)
    assert m, f"{image} is not pinned to a release"
    return tuple(int(g) for g in m.groups())


def test_the_cluster_file_starts_three_qdrant_nodes_pinned_and_clustered() -> None:
    services = load(CLUSTER)["services"]
    nodes = {name: s for name, s in services.items() if str(s.get("image", "")).startswith("qdrant/qdrant")}
    assert len(nodes) == 3
    for name, node in nodes.items():
        assert pinned_version(node["image"]) >= MIN_QDRANT, name
        assert str(node["environment"]["QDRANT__CLUSTER__ENABLED"]).lower() == "true", name
        assert "healthcheck" in node
    commands = {name: node["command"] for name, node in nodes.items()}
    first = [n for n, c in commands.items() if "--bootstrap" not in c]
    assert len(first) == 1, "exactly one node starts the cluster, the others join it"
    uri = commands[first[0]][commands[first[0]].index("--uri") + 1]
    assert uri == f"http://{first[0]}:6335"
    for name, c in commands.items():
        if name != first[0]:
            assert c[c.index("--bootstrap") + 1] == uri and c[c.index("--uri") + 1] == f"http://{name}:6335"


def test_the_api_shards_over_three_nodes_with_two_copies() -> None:
    services = load(CLUSTER)["services"]
    api = services["api"]
    env = api["environment"]
    assert env["MULTIVEC_COLLECTION__SHARD_NUMBER"] == "3"
    assert env["MULTIVEC_COLLECTION__REPLICATION_FACTOR"] == "2"
    assert int(env["MULTIVEC_COLLECTION__WRITE_CONSISTENCY_FACTOR"]) <= 2
    assert env["MULTIVEC_STORE__URL"].split("//")[1].split(":")[0] in services
    assert set(api["depends_on"]) == {n for n in services if n != "api"}
    assert env["MULTIVEC_API_KEY"].startswith("${") and env["MULTIVEC_STORE__API_KEY"].startswith("${")
    # and the settings read them as the service would
    from app.settings import CollectionSettings

    c = CollectionSettings(shard_number=env["MULTIVEC_COLLECTION__SHARD_NUMBER"],
                           replication_factor=env["MULTIVEC_COLLECTION__REPLICATION_FACTOR"],
                           write_consistency_factor=env["MULTIVEC_COLLECTION__WRITE_CONSISTENCY_FACTOR"])
    assert (c.shard_number, c.replication_factor) == (3, 2)


def test_the_single_node_file_stays_pinned() -> None:
    qdrant = load(ROOT / "docker-compose.yml")["services"]["qdrant"]
    assert pinned_version(qdrant["image"]) >= MIN_QDRANT


def _compose() -> list[str] | None:
    """`docker compose` (the plugin) or `docker-compose`, when a daemon answers."""
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "info"], capture_output=True, timeout=30).returncode == 0:
        if subprocess.run([docker, "compose", "version"], capture_output=True, timeout=30).returncode == 0:
            return [docker, "compose"]
        if shutil.which("docker-compose"):
            return ["docker-compose"]
    return None


@pytest.mark.parametrize("name", ["docker-compose.yml", "docker-compose.cluster.yml"])
def test_docker_compose_config_accepts_the_file(name: str) -> None:
    compose = _compose()
    if compose is None:
        pytest.skip("no Docker daemon with compose here (docker info / docker compose version fail): "
                    "the YAML checks above stand in")
    out = subprocess.run([*compose, "-f", str(ROOT / name), "config", "--quiet"], capture_output=True, text=True,
                         timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
