"""docker-compose.yml is valid Compose and consistent with the code (no Docker engine here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from workflows.search_attributes import ALL_KEYS

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "tests/data/compose-spec.json").read_text())


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def test_matches_the_compose_specification() -> None:
    # The file names draft-07 by an address jsonschema does not know; validate as draft-07.
    jsonschema.Draft7Validator(SCHEMA).validate(compose())


def test_images_are_pinned_and_references_exist() -> None:
    data = compose()
    services = data["services"]
    for name, service in services.items():
        image = service["image"]
        assert ":" in image, f"{name}: pin {image}"
        assert not image.endswith(":latest"), f"{name}: pin {image}"
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown {dependency}"
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if not source.startswith((".", "/")):
                assert source in data.get("volumes", {}), f"{name}: undeclared volume {source}"


def test_dev_server_registers_every_search_attribute() -> None:
    command = compose()["services"]["temporal"]["command"]
    registered = {
        c.split("=", 1)[1].split("=")[0] for c in command if c.startswith("--search-attribute")
    }
    assert registered == {key.name for key in ALL_KEYS}


def test_host_ports_do_not_collide() -> None:
    ports = [p.split(":")[0] for s in compose()["services"].values() for p in s.get("ports", [])]
    assert len(ports) == len(set(ports))
