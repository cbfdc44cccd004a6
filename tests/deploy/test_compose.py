"""docker-compose.yml is valid Compose and consistent with the code (no Docker engine here).

The schema checks the shape; the tests below check what it cannot: that services, volumes and
ports fit together, that both stacks (the default one and the `dev` profile) start on their own,
that the Temporal setup registers exactly the search attributes the workflows publish, and that
every variable an operator may set is documented with its default.
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from escalations.dev import server_command
from workflows.search_attributes import ALL_KEYS, type_name

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "tests/data/compose-spec.json").read_text())
NAMESPACE_SCRIPT = ROOT / "deploy/temporal/setup-namespace.sh"
SCHEMA_SCRIPT = ROOT / "deploy/temporal/setup-schema.sh"
PROMETHEUS_CONFIG = ROOT / "deploy/prometheus/prometheus.yml"
DEPLOYMENT_DOC = ROOT / "docs/deployment.md"

# `${NAME}`, `${NAME:-default}`, `${NAME-default}` or `${NAME:?error}`, but not the `$${...}`
# escape.
VARIABLE = re.compile(
    r"(?<!\$)\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?])?(?P<default>[^}]*)\}"
)
# Exact versions: 1.32.0, v3.5.0, 3.11.16-slim-trixie. PostgreSQL's are major.minor (16.15).
EXACT_VERSION = re.compile(r"^v?\d+\.\d+\.\d+([.-][A-Za-z0-9.-]+)?$")
TWO_PART_VERSION_IMAGES = {"postgres": re.compile(r"^\d+\.\d+$")}
# Long-running services that nothing depends on may go without a healthcheck, with a reason.
UNPROBED = {"temporal-ui": "its image documents no probe tool, and nothing depends on it"}
EXPECTED_ATTRIBUTES = {key.name: type_name(key) for key in ALL_KEYS}


@functools.cache
def compose() -> dict[str, Any]:
    # Parsed once: the tests only read it.
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def services() -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = compose()["services"]
    return result


def interpolate(value: str) -> str:
    """What Compose makes of ``value`` with no optional variable set: every default, `$$` as
    `$`, and a required variable as the value an operator must set."""

    def value_of(m: re.Match[str]) -> str:
        if m["op"] == ":?":
            return f"<{m['name']}>"
        return m["default"] if m["op"] else ""

    return VARIABLE.sub(value_of, value).replace("$$", "$")


def depends_on(service: dict[str, Any]) -> dict[str, Any]:
    dependencies = service.get("depends_on", {})
    assert isinstance(dependencies, dict), "use the long depends_on syntax, with a condition"
    return dependencies


def has_probe(service: dict[str, Any]) -> bool:
    """A healthcheck that runs a command (not disabled, not left to the image)."""
    check = service.get("healthcheck", {})
    test = check.get("test")
    return bool(test) and test != ["NONE"] and not check.get("disable", False)


def is_one_shot(service: dict[str, Any]) -> bool:
    return service.get("restart") == "no"


def stack(targets: set[str]) -> set[str]:
    """``targets`` and everything they depend on: what `docker compose up TARGETS` starts."""
    every = services()
    started: set[str] = set()
    pending = list(targets)
    while pending:
        name = pending.pop()
        if name not in started:
            started.add(name)
            pending.extend(depends_on(every[name]))
    return started


def default_stack() -> set[str]:
    return {name for name, service in services().items() if "profiles" not in service}


def profile_stack(profile: str) -> set[str]:
    return stack({n for n, s in services().items() if profile in s.get("profiles", [])})


def host_ports(service: dict[str, Any]) -> list[int]:
    """The host ports a service publishes (short syntax `[ip:]host:container[/proto]`)."""
    ports = []
    for entry in service.get("ports", []):
        if isinstance(entry, dict):
            if "published" in entry:
                ports.append(int(interpolate(str(entry["published"]))))
            continue
        parts = interpolate(str(entry)).split("/")[0].split(":")
        if len(parts) >= 2:
            ports.append(int(parts[-2]))
    return ports


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    assert isinstance(env, dict), "use the mapping form of environment"
    return {key: interpolate(str(value)) for key, value in env.items()}


def script_attributes() -> dict[str, str]:
    """The Name:Type lines of setup-namespace.sh's SEARCH_ATTRIBUTES."""
    block = re.search(r'^SEARCH_ATTRIBUTES="(.*?)"$', NAMESPACE_SCRIPT.read_text(), re.S | re.M)
    assert block, f"{NAMESPACE_SCRIPT.name} has no SEARCH_ATTRIBUTES block"
    pairs = [line.split(":") for line in block[1].split()]
    assert all(len(pair) == 2 for pair in pairs), pairs
    assert len(pairs) == len({name for name, _ in pairs}), "an attribute is listed twice"
    return {name: type_ for name, type_ in pairs}


def flag_values(command: list[str], flag: str) -> list[str]:
    return [command[i + 1] for i, arg in enumerate(command[:-1]) if arg == flag]


def test_matches_the_compose_specification() -> None:
    # The file names draft-07 by an address jsonschema does not know; validate as draft-07.
    jsonschema.Draft7Validator(SCHEMA).validate(compose())


def test_dependencies_exist_and_wait_for_the_right_condition() -> None:
    every = services()
    for name, service in every.items():
        for dependency, spec in depends_on(service).items():
            assert dependency in every, f"{name} depends on unknown {dependency}"
            target = every[dependency]
            expected = (
                "service_completed_successfully" if is_one_shot(target) else "service_healthy"
            )
            assert spec.get("condition") == expected, (
                f"{name} must wait for {dependency} with condition {expected}"
            )
            if expected == "service_healthy":
                assert has_probe(target), f"{name} waits for {dependency}'s healthcheck"


def test_every_service_is_a_job_or_long_running_with_a_healthcheck() -> None:
    every = services()
    dependents = {d for service in every.values() for d in depends_on(service)}
    for name, service in every.items():
        assert service.get("restart") in {"no", "unless-stopped", "always"}, (
            f"{name}: say whether it is a one-shot job (restart: 'no') or long-running"
        )
        if is_one_shot(service):
            assert "healthcheck" not in service, f"{name} is a job: it has nothing to probe"
        elif name in UNPROBED:
            assert name not in dependents, f"{name} has dependents: give it a healthcheck"
        else:
            assert has_probe(service), f"{name} runs for good: give it a healthcheck"


def test_named_volumes_and_networks_are_declared_and_used() -> None:
    data = compose()
    declared_volumes = set(data.get("volumes") or {})
    declared_networks = set(data.get("networks") or {}) | {"default"}
    used_volumes = set()
    for name, service in data["services"].items():
        for volume in service.get("volumes", []):
            source = volume["source"] if isinstance(volume, dict) else volume.split(":", 1)[0]
            if not source.startswith((".", "/", "~")):
                assert source in declared_volumes, f"{name}: undeclared volume {source}"
                used_volumes.add(source)
            else:
                assert (ROOT / source).exists(), f"{name} mounts {source}, which does not exist"
        for network in service.get("networks", []):
            assert network in declared_networks, f"{name}: undeclared network {network}"
    assert used_volumes == declared_volumes, "a declared volume is not used by any service"


def test_images_are_pinned_to_exact_versions() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    for name, service in services().items():
        image = service["image"]
        repository, _, tag = image.rpartition(":")
        assert repository, f"{name}: {image} has no tag"
        assert "/" not in tag, f"{name}: {image} has no tag"
        if "build" in service:
            assert image == f"helpdesk-escalations:{version}", (
                f"{name}: tag the built image with the project's version ({version})"
            )
            continue
        pattern = TWO_PART_VERSION_IMAGES.get(repository, EXACT_VERSION)
        assert pattern.match(tag), f"{name}: {image} is not pinned to an exact version"


def test_each_stack_starts_on_its_own_without_port_clashes() -> None:
    every = services()
    production, dev = default_stack(), profile_stack("dev")
    assert {"temporal", "worker", "prometheus"} <= production
    assert {"temporal-dev", "worker-dev"} <= dev
    # A stack that needs a service of the other one would not start on its own.
    assert stack(production) == production, "a default service depends on a profiled one"
    assert dev.isdisjoint(production), "the dev stack pulls in production services"
    for name, members in (("default", production), ("dev", dev)):
        ports = [port for member in sorted(members) for port in host_ports(every[member])]
        clashes = {port for port in ports if ports.count(port) > 1}
        assert not clashes, f"{name} stack publishes host port(s) {clashes} twice"


def test_workers_can_be_scaled() -> None:
    every = services()
    for name, service in every.items():
        # A fixed name allows one container per name: no scaling, no second project.
        assert "container_name" not in service, f"{name}: drop container_name"
    for name in ("worker", "worker-dev"):
        assert not every[name].get("ports"), f"{name}: a host port allows only one replica"
        assert "build" in every[name]


def test_namespace_job_registers_exactly_the_workflows_search_attributes() -> None:
    assert script_attributes() == EXPECTED_ATTRIBUTES
    job = services()["temporal-namespace"]
    mounted = {v.split(":")[0]: v.split(":")[1] for v in job["volumes"]}
    script = mounted[f"./{NAMESPACE_SCRIPT.relative_to(ROOT)}"]
    assert job["entrypoint"] == ["sh", script]
    env = environment(job)
    assert env["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert env["TEMPORAL_NAMESPACE"] == environment(services()["worker"])["TEMPORAL_NAMESPACE"]
    # The script's own defaults are the compose file's.
    text = NAMESPACE_SCRIPT.read_text()
    assert f'"${{TEMPORAL_NAMESPACE_RETENTION:-{env["TEMPORAL_NAMESPACE_RETENTION"]}}}"' in text


def test_dev_server_is_set_up_like_escalations_dev() -> None:
    command = [interpolate(str(arg)) for arg in services()["temporal-dev"]["command"]]
    expected = server_command("temporal", 7233, 8233, Path("/data"), in_memory=False)
    for flag in ("--search-attribute", "--dynamic-config-value", "--sqlite-pragma"):
        assert sorted(flag_values(command, flag)) == sorted(flag_values(expected, flag)), flag
    attributes = dict(value.split("=") for value in flag_values(command, "--search-attribute"))
    assert attributes == EXPECTED_ATTRIBUTES
    assert flag_values(command, "--ip") == ["0.0.0.0"], "other containers must reach it"
    database = flag_values(command, "--db-filename")
    volume = services()["temporal-dev"]["volumes"][0].split(":")[1]
    assert len(database) == 1
    assert database[0].startswith(f"{volume}/"), "keep the database on the volume"


def test_schema_job_sets_up_both_databases_the_server_uses() -> None:
    every = services()
    job, server = environment(every["temporal-schema"]), environment(every["temporal"])
    assert job == {key: server[key] for key in job}, "the job and the server disagree"
    assert job["DB"] == "postgres12"
    assert job["POSTGRES_SEEDS"] in every
    text = SCHEMA_SCRIPT.read_text()
    assert 'setup "${DBNAME:-temporal}" "$SCHEMA_DIR/temporal/versioned"' in text
    assert 'setup "${VISIBILITY_DBNAME:-temporal_visibility}" ' in text
    assert '"$SCHEMA_DIR/visibility/versioned"' in text
    assert "SCHEMA_DIR=/etc/temporal/schema/postgresql/v12\n" in text
    mounted = {v.split(":")[0]: v.split(":")[1] for v in every["temporal-schema"]["volumes"]}
    assert every["temporal-schema"]["entrypoint"] == [
        "sh",
        mounted[f"./{SCHEMA_SCRIPT.relative_to(ROOT)}"],
    ]
    # The admin tools must match the server, or the schema is not the one it expects.
    jobs = ("temporal", "temporal-schema", "temporal-namespace")
    tags = {every[name]["image"].rpartition(":")[2] for name in jobs}
    assert len(tags) == 1, "keep temporalio/admin-tools and temporalio/server on one version"


def test_server_dynamic_config_is_mounted() -> None:
    server = services()["temporal"]
    path = environment(server)["DYNAMIC_CONFIG_FILE_PATH"]
    source, target = server["volumes"][0].split(":")[:2]
    assert path.startswith(f"{target}/")
    local = ROOT / source / path.removeprefix(f"{target}/")
    config = yaml.safe_load(local.read_text())
    for key, constraints in config.items():
        assert isinstance(constraints, list), f"{key}: a list of {{value, constraints}}"
        assert all("value" in constraint for constraint in constraints), key
    assert config["system.enableActivityEagerExecution"] == [{"value": True}]


def test_prometheus_scrapes_every_worker_replica_and_the_server() -> None:
    every = services()
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    metrics_address = environment(every["worker"])["ESCALATIONS_METRICS_ADDRESS"]
    host, _, port = metrics_address.rpartition(":")
    assert host == "0.0.0.0", "the worker must listen beyond its own loopback"
    # DNS service discovery: one target per replica, whatever --scale says.
    [discovery] = jobs["escalations-worker"]["dns_sd_configs"]
    assert (discovery["names"], discovery["type"], discovery["port"]) == (
        ["worker"],
        "A",
        int(port),
    )
    assert port in " ".join(every["worker"]["healthcheck"]["test"])
    server_metrics = environment(every["temporal"])["PROMETHEUS_ENDPOINT"].rpartition(":")[2]
    assert jobs["temporal-server"]["static_configs"] == [
        {"targets": [f"temporal:{server_metrics}"]}
    ]
    mounted = {v.split(":")[0]: v.split(":")[1] for v in every["prometheus"]["volumes"]}
    config_file = mounted[f"./{PROMETHEUS_CONFIG.relative_to(ROOT)}"]
    assert f"--config.file={config_file}" in every["prometheus"]["command"]


REQUIRED = {"POSTGRES_PASSWORD"}
"""Secrets the stack must never default: Compose refuses to start without them."""


def test_every_variable_has_a_default_documented_in_docs_deployment() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    doc_lines = DEPLOYMENT_DOC.read_text().splitlines()
    found = {m["name"]: m for m in VARIABLE.finditer(text)}
    assert found
    assert {name for name, match in found.items() if match["op"] == ":?"} == REQUIRED
    for name, match in found.items():
        assert match["op"] in (":-", ":?"), (
            f"${{{name}}}: give it a default with ${{{name}:-...}}, or require it with :?"
        )
        defaults = {m["default"] for m in VARIABLE.finditer(text) if m["name"] == name}
        assert len(defaults) == 1, f"{name} has different defaults: {defaults}"
        rows = [line for line in doc_lines if line.startswith(f"| `{name}` |")]
        assert rows, f"{name} is not in the variables table of {DEPLOYMENT_DOC.name}"
        default = match["default"]
        documented = "required" if name in REQUIRED else f"`{default}`" if default else "empty"
        assert documented in rows[0].split("|")[2], (
            f"{DEPLOYMENT_DOC.name} must give {name}'s default as {documented}"
        )


@pytest.mark.parametrize("script", [NAMESPACE_SCRIPT, SCHEMA_SCRIPT], ids=lambda p: p.name)
def test_setup_scripts_are_valid_posix_shell(script: Path) -> None:
    # The admin-tools image runs them with BusyBox sh: no bash.
    assert script.read_text().startswith("#!/bin/sh\n")
    subprocess.run(["sh", "-n", str(script)], check=True)
