"""The deploy files (app.json, deploy/, the Dockerfile) agree with the Procfile, with the
settings and with the schemas of the tools that read them. All offline: Kubernetes schemas
come with kubernetes-validate, KEDA's from tests/unit/schemas, `systemd-analyze verify`
runs on a copy of the units pointed at this virtualenv, and `docker compose config` runs
only where the compose plugin exists.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import shutil
import subprocess
import sys
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate
import pytest
import yaml
from kombu.transport import pyamqp as kombu_amqp
from kombu.transport import redis as kombu_redis

from config import smtp
from config.settings import Settings
from tests.harness import in_ci

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DOCKER = DEPLOY / "docker"
SYSTEMD = DEPLOY / "systemd"
KUBERNETES = DEPLOY / "kubernetes"
SCHEMAS = Path(__file__).parent / "schemas"
KEDA_SCHEMAS = yaml.safe_load((SCHEMAS / "keda-v1alpha1.yaml").read_text())
MONITORING_SCHEMAS = yaml.safe_load((SCHEMAS / "monitoring-v1.yaml").read_text())

#: After the soft shutdown, a stopping worker still puts back what it holds and closes its
#: connections: every grace period must leave it at least this long on top.
REQUEUE_MARGIN = 10
#: Heroku stops a dyno with SIGTERM and kills it 30 s later; nobody can change that.
HEROKU_GRACE = 30
#: The oldest Kubernetes the manifests are meant for, and the newest schema bundled.
KUBERNETES_VERSIONS = ["1.30", kubernetes_validate.latest_version()]
#: Worker groups by Procfile process: the names systemd instances and env files use.
WORKER_GROUPS = {"worker_quote": "quote", "worker": "main"}
#: Read outside the settings: by the systemd worker template.
READ_ELSEWHERE = {"WORKER_QUEUES"}
#: The probe of a worker's heartbeat, which the worker writes only when WORKER_ALIVE_FILE is set.
ALIVE_PROBE = ["python", "-m", "housekeeping.alive"]

ASSIGNMENT = re.compile(r"^[A-Z_][A-Z0-9_]*=")
#: ${VAR}, ${VAR:-default}, $(VAR) (Kubernetes) and $VAR: a value known only at run time.
VARIABLE = re.compile(r"\$\{[^}]*\}|\$\([^)]*\)|\$\w+")


# -- the Procfile and the settings -------------------------------------------------------------


def procfile() -> dict[str, tuple[list[str], dict[str, str]]]:
    """Each process: its argv, and the variables its line assigns before the command."""
    processes = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, sep, command = line.partition(":")
        if not sep or not name.strip() or name.startswith("#"):
            continue
        words = shlex.split(command)
        assigned = {}
        while words and ASSIGNMENT.match(words[0]):
            key, _, value = words.pop(0).partition("=")
            assigned[key] = value
        processes[name.strip()] = (words, assigned)
    return processes


PROCESSES = procfile()
RUNNING = sorted(set(PROCESSES) - {"release"})


def queues_of(argv: list[str]) -> list[str]:
    return argv[argv.index("-Q") + 1].split(",") if "-Q" in argv else []


def known_variables() -> set[str]:
    """Every variable the platform reads: the settings' and those of the Procfile's lines."""
    names = set(READ_ELSEWHERE)
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        names.add(alias.upper() if isinstance(alias, str) else name.upper())
    names |= set(re.findall(r"\$\{(\w+)", (ROOT / "Procfile").read_text()))
    for _, assigned in PROCESSES.values():
        names |= set(assigned)
    return names


def soft_shutdown(environment: dict[str, str]) -> float:
    """WORKER_SOFT_SHUTDOWN_TIMEOUT as the app reads it, given a target's environment."""
    value = environment.get("WORKER_SOFT_SHUTDOWN_TIMEOUT")
    overrides = {"worker_soft_shutdown_timeout": value} if value else {}
    return Settings(**overrides).worker_soft_shutdown_timeout


def same_command(expected: list[str], actual: list[str]) -> bool:
    """Whether a deploy file runs the Procfile's command: word by word, the program by its
    name, a variable on either side standing for any value."""

    def agree(a: str, b: str) -> bool:
        a, b = VARIABLE.sub("*", a), VARIABLE.sub("*", b)
        return a == b or fnmatchcase(a, b) or fnmatchcase(b, a)

    actual = [Path(actual[0]).name, *actual[1:]]
    return len(expected) == len(actual) and all(map(agree, expected, actual))


def env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def seconds(duration: str | int) -> float:
    """45, "45", "45s", "1min", "1m30s" -> seconds."""
    text = str(duration).strip()
    if text.isdigit():
        return float(text)
    units = {"h": 3600, "min": 60, "m": 60, "s": 1, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|min|h|m|s)", text)
    assert parts and "".join(n + u for n, u in parts) == text, f"unreadable duration {text!r}"
    return sum(float(n) * units[u] for n, u in parts)


def test_the_procfile_is_what_these_tests_expect():
    assert "release" in PROCESSES
    assert set(WORKER_GROUPS) == {name for name, (argv, _) in PROCESSES.items() if "-Q" in argv}


# -- every file parses ---------------------------------------------------------------------------

DEPLOY_FILES = sorted(
    [*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml"), *DEPLOY.rglob("*.json"), ROOT / "app.json"]
)


@pytest.mark.parametrize("path", DEPLOY_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_deploy_file_parses(path):
    text = path.read_text()
    documents = [json.loads(text)] if path.suffix == ".json" else list(yaml.safe_load_all(text))
    assert any(document is not None for document in documents), f"{path} is empty"


# -- Heroku: app.json ----------------------------------------------------------------------------

APP_JSON = json.loads((ROOT / "app.json").read_text())


def test_app_json_formation_is_the_procfile_processes():
    formation = APP_JSON["formation"]
    assert sorted(formation) == RUNNING, "formation keys must be the Procfile's processes"
    for name, dyno in formation.items():
        assert isinstance(dyno["quantity"], int) and dyno["quantity"] >= 0, name
        assert dyno["size"], name


def test_app_json_addons_provide_the_urls_the_settings_read():
    attached = {addon["plan"].split(":")[0]: addon.get("as") for addon in APP_JSON["addons"]}
    assert attached == {"heroku-redis": "REDIS", "heroku-postgresql": "DATABASE"}
    assert {"REDIS_URL", "DATABASE_URL"} <= known_variables()


def test_app_json_sets_only_variables_the_platform_reads():
    unknown = set(APP_JSON["env"]) - known_variables()
    assert not unknown, f"app.json sets variables nothing reads: {sorted(unknown)}"


@pytest.mark.parametrize("name", ["FLOWER_BASIC_AUTH", "DEADLETTER_ENCRYPTION_KEY"])
def test_app_json_asks_for_secrets_and_ships_none(name):
    # Heroku's generator makes a hex string: neither a user:password nor a Fernet key.
    entry = APP_JSON["env"][name]
    assert entry.get("required") is True
    assert "value" not in entry and "generator" not in entry


def test_a_dyno_restart_leaves_the_workers_their_soft_shutdown():
    values = {k: v["value"] for k, v in APP_JSON["env"].items() if "value" in v}
    assert soft_shutdown(values) + REQUEUE_MARGIN <= HEROKU_GRACE


# -- Docker: the image and compose -------------------------------------------------------------

DOCKERFILE = (DOCKER / "Dockerfile").read_text()
COMPOSE = yaml.safe_load((DOCKER / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]
#: Compose service names: the Procfile's, with `release` as the one-shot `migrate`.
COMPOSE_SERVICE = {name: ("migrate" if name == "release" else name) for name in PROCESSES}
#: The service keys compose.yaml may use (a subset of the Compose Specification's): a
#: misspelt key fails here, where no compose is installed to refuse it.
COMPOSE_KEYS = {
    "build", "command", "depends_on", "entrypoint", "environment", "env_file", "healthcheck",
    "image", "init", "labels", "ports", "profiles", "read_only", "restart", "stop_grace_period",
    "stop_signal", "tmpfs", "user", "volumes",
}  # fmt: skip


def test_the_image_is_slim_unprivileged_and_pinned():
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)", DOCKERFILE, re.M)
    assert base and base.group(1).startswith("python:3.11-slim")
    # By digest: a tag moves with every rebuild (deploy/docker/pin-base-image.sh renews it).
    assert re.fullmatch(r"python:[\w.-]+@sha256:[0-9a-f]{64}", base.group(1)), base.group(1)
    stages = re.findall(r"^FROM (\S+)", DOCKERFILE, re.M)
    assert len(stages) >= 2 and all(stage.startswith("${PYTHON_IMAGE}") for stage in stages)
    users = re.findall(r"^USER (\S+)", DOCKERFILE, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert re.search(r"pip install -c constraints\.txt \.(\s|$)", DOCKERFILE)
    assert not re.search(r"pip install[^\n]*(\s-e\s|--editable|\[dev\])", DOCKERFILE)


def test_the_image_runs_its_process_under_tini():
    # Debian's tini as PID 1: signals passed on, orphans reaped, in Kubernetes too (no init).
    runtime = DOCKERFILE.split("\nFROM ")[-1]
    assert re.search(r"apt-get install -y --no-install-recommends tini\b", runtime)
    entrypoint = re.findall(r"^ENTRYPOINT (.+)$", runtime, re.M)
    assert [json.loads(e) for e in entrypoint] == [["/usr/bin/tini", "--"]]
    # A second init in front of it would only hide it: compose relies on the image's.
    assert not any(service.get("init") for service in SERVICES.values())


def test_compose_stops_on_every_missing_secret():
    used = {name for s in strings(COMPOSE) for name in re.findall(r"(?<!\$)\$\{(\w+)", s)}
    secrets = {name for name in used if name.endswith("PASSWORD") or name == "FLOWER_BASIC_AUTH"}
    guarded = {name for s in strings(COMPOSE) for name in re.findall(r"(?<!\$)\$\{(\w+):\?", s)}
    assert secrets >= {"REDIS_PASSWORD", "POSTGRES_PASSWORD", "RABBITMQ_PASSWORD"}
    assert secrets <= guarded, f"no ${{X:?...}} guard: {sorted(secrets - guarded)}"
    # A default would hide a missing one: no secret is ever `${X:-...}`.
    defaulted = {name for s in strings(COMPOSE) for name in re.findall(r"(?<!\$)\$\{(\w+):-", s)}
    assert not secrets & defaulted, sorted(secrets & defaulted)


def test_the_build_context_keeps_what_the_image_needs():
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert not any(p.startswith("!") for p in patterns), "negations: extend this check first"

    def ignored(path: str) -> bool:
        parts = Path(path).parts
        candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        return any(
            fnmatchcase(c, p) or fnmatchcase(c, p.removeprefix("**/")) or Path(c).name == p
            for p in patterns
            for c in candidates
        )

    copied = [
        source
        for line in re.findall(r"^COPY (?!--from)(.+)$", DOCKERFILE, re.M)
        for source in line.split()[:-1]
        if source != "."
    ]
    pyproject = (ROOT / "pyproject.toml").read_text()
    find = pyproject.split("[tool.setuptools.packages.find]")[1].split("\n[")[0]
    packages = re.findall(r'"(\w+)\*"', find)
    roots = re.findall(r'"([\w.]+)"', find.split("where = [")[1].split("]")[0])
    # devstack starts local servers for `make run`: left out of the image on purpose.
    sources = [
        next((f"{root}/{p}" for root in roots if (ROOT / root / p).is_dir()), p)
        for p in packages
        if p != "devstack"
    ]
    needed = [*copied, "README.md", "beat_schedule.py", *sources]
    assert copied and packages
    for path in needed:
        assert (ROOT / path).exists(), path
        assert not ignored(path), f".dockerignore leaves {path} out of the build"
    assert ignored(".env") and ignored("deploy/docker/.env")


def test_compose_runs_every_procfile_process():
    for process, (argv, assigned) in PROCESSES.items():
        service = SERVICES[COMPOSE_SERVICE[process]]
        assert same_command(argv, service["command"]), f"{process}: {service['command']}"
        for key, value in assigned.items():
            assert service["environment"].get(key) == value, f"{process} needs {key}={value}"


def test_compose_services_are_well_formed():
    for name, service in SERVICES.items():
        assert set(service) <= COMPOSE_KEYS, f"{name}: {set(service) - COMPOSE_KEYS}"
        for dependency, rule in (service.get("depends_on") or {}).items():
            assert dependency in SERVICES, f"{name} depends on unknown {dependency}"
            condition = rule["condition"]
            assert condition in (
                "service_started",
                "service_healthy",
                "service_completed_successfully",
            )
    for process in RUNNING:
        depends = SERVICES[process]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", process
    unknown = set(SERVICES["worker"]["environment"]) - known_variables()
    assert not unknown, f"compose sets variables nothing reads: {sorted(unknown)}"


def test_compose_redis_keeps_and_never_evicts_jobs():
    command = " ".join(SERVICES["redis"]["command"])
    for setting in ("--appendonly yes", "--appendfsync everysec", "--maxmemory-policy noeviction"):
        assert setting in command


def test_compose_rabbitmq_is_optional():
    rabbitmq = SERVICES["rabbitmq"]
    assert rabbitmq["profiles"] == ["rabbitmq"]
    assert rabbitmq["image"] == "rabbitmq:4-management"
    for process in RUNNING:
        assert SERVICES[process]["depends_on"]["rabbitmq"]["required"] is False, process


def test_every_rabbitmq_target_gives_its_management_api():
    # Flower's Broker page, the metrics' jobs in flight and the doctor's alarms read it
    api = SERVICES["flower"]["environment"]["FLOWER_BROKER_API"]
    assert api.endswith("@rabbitmq:15672/api/}"), api
    secrets = next(yaml.safe_load_all((KUBERNETES / "secret.example.yaml").read_text()))
    assert "FLOWER_BROKER_API" in secrets["stringData"]
    systemd = (SYSTEMD / "taskplatform.env.example").read_text()
    assert "\n# FLOWER_BROKER_API=https://" in systemd


def test_compose_workers_outlast_their_soft_shutdown_and_check_their_heartbeat():
    for process in WORKER_GROUPS:
        service = SERVICES[process]
        budget = soft_shutdown(service["environment"]) + REQUEUE_MARGIN
        assert seconds(service["stop_grace_period"]) >= budget, process
        assert service["healthcheck"]["test"][1:4] == ALIVE_PROBE, process
        assert service["environment"].get("WORKER_ALIVE_FILE"), process


def strings(node) -> list[str]:
    if isinstance(node, dict):
        return [s for key, value in node.items() for s in strings(key) + strings(value)]
    if isinstance(node, list):
        return [s for item in node for s in strings(item)]
    return [node] if isinstance(node, str) else []


def test_every_compose_variable_is_in_the_env_example():
    used = {name for s in strings(COMPOSE) for name in re.findall(r"(?<!\$)\$\{(\w+)", s)}
    documented = set(env_file(DOCKER / ".env.example"))
    assert used <= documented, f"missing from .env.example: {sorted(used - documented)}"


def test_docker_compose_accepts_the_file(tmp_path):
    docker = shutil.which("docker")
    if (
        docker is None
        or subprocess.run([docker, "compose", "version"], capture_output=True).returncode
    ):
        pytest.skip("no `docker compose` here")
    filled = {
        key: value or "placeholder" for key, value in env_file(DOCKER / ".env.example").items()
    }
    (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in filled.items()))
    compose = [docker, "compose", "-f", str(DOCKER / "compose.yaml")]
    options = ["--env-file", str(tmp_path / ".env"), "--profile", "rabbitmq"]
    completed = subprocess.run(
        [*compose, *options, "config", "--quiet"], capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == 0, completed.stderr


# -- systemd -------------------------------------------------------------------------------------

#: The unit running each Procfile process, and its instance for the template.
UNITS = {
    "release": ("taskplatform-migrate.service", None),
    "beat": ("taskplatform-beat.service", None),
    "flower": ("taskplatform-flower.service", None),
    "deadletters": ("taskplatform-deadletters.service", None),
    "metrics": ("taskplatform-metrics.service", None),
    **{
        process: ("taskplatform-worker@.service", group) for process, group in WORKER_GROUPS.items()
    },
}
VENV = "/opt/taskplatform/venv"
#: What every unit turns on, at least.
HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
}


def unit(name: str) -> dict[str, list[tuple[str, str]]]:
    """A unit file as sections of (key, value) pairs: keys repeat (Environment=, ...)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    for line in (SYSTEMD / name).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), [])
            continue
        key, _, value = line.partition("=")
        current.append((key.strip(), value.strip()))
    return sections


def values(name: str, section: str, key: str) -> list[str]:
    return [v for k, v in unit(name).get(section, []) if k == key]


def unit_environment(name: str, instance: str | None) -> dict[str, str]:
    """Environment= of the unit, then the example files its EnvironmentFile= lines name."""
    environment = dict(v.partition("=")[::2] for v in values(name, "Service", "Environment"))
    for path in values(name, "Service", "EnvironmentFile"):
        example = SYSTEMD / (Path(path.lstrip("-")).name.replace("%i", instance or "") + ".example")
        if example.exists():
            environment.update(env_file(example))
    return environment


def test_systemd_has_a_unit_for_every_procfile_process():
    assert set(UNITS) == set(PROCESSES)
    for process, (name, instance) in UNITS.items():
        argv, assigned = PROCESSES[process]
        (exec_start,) = values(name, "Service", "ExecStart")
        words = shlex.split(exec_start.replace("%i", instance or "").replace("%%", "%"))
        assert words[0].startswith(VENV + "/bin/"), exec_start
        assert same_command(argv, words), f"{process}: {exec_start}"
        environment = unit_environment(name, instance)
        for key, value in assigned.items():
            assert environment.get(key) == value, f"{name} needs {key}={value}"


def test_systemd_worker_env_files_name_the_procfile_queues():
    for process, group in WORKER_GROUPS.items():
        queues = env_file(SYSTEMD / f"worker-{group}.env.example")["WORKER_QUEUES"]
        assert queues.split(",") == queues_of(PROCESSES[process][0]), process


def test_systemd_units_are_hardened_and_ordered_after_the_migrations():
    for name in {name for name, _ in UNITS.values()}:
        service = dict(unit(name)["Service"])
        assert service["User"] == "taskplatform", name
        assert "/etc/taskplatform/taskplatform.env" in values(name, "Service", "EnvironmentFile")
        for key, value in HARDENING.items():
            assert service.get(key) == value, f"{name}: {key}={value}"
        assert values(name, "Unit", "PartOf") == ["taskplatform.target"], name
        if name == "taskplatform-migrate.service":
            assert service["Type"] == "oneshot"
            continue
        assert service["Restart"] in ("always", "on-failure"), name
        assert "taskplatform-migrate.service" in " ".join(values(name, "Unit", "Requires")), name
        assert "taskplatform-migrate.service" in " ".join(values(name, "Unit", "After")), name


def test_systemd_env_examples_set_only_variables_the_platform_reads():
    for example in SYSTEMD.glob("*.env.example"):
        unknown = set(env_file(example)) - known_variables()
        assert not unknown, f"{example.name} sets variables nothing reads: {sorted(unknown)}"


def test_systemd_stops_a_worker_after_its_soft_shutdown():
    name = "taskplatform-worker@.service"
    for group in WORKER_GROUPS.values():
        environment = unit_environment(name, group)
        environment.update(env_file(SYSTEMD / "taskplatform.env.example"))
        (timeout,) = values(name, "Service", "TimeoutStopSec")
        assert seconds(timeout) >= soft_shutdown(environment) + REQUEUE_MARGIN
    # Only the main process gets SIGTERM (REMAP_SIGTERM=SIGQUIT): it stops its pool itself.
    assert values(name, "Service", "KillMode") == ["mixed"]
    assert values(name, "Service", "KillSignal") == ["SIGTERM"]


def test_systemd_analyze_verifies_the_units(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("no systemd-analyze here")
    # verify checks that each ExecStart program exists: point the units at this virtualenv.
    for path in [*SYSTEMD.glob("*.service"), *SYSTEMD.glob("*.target")]:
        (tmp_path / path.name).write_text(path.read_text().replace(VENV, sys.prefix))
    units = sorted(str(p) for p in tmp_path.iterdir())
    instances = [
        str(tmp_path / f"taskplatform-worker@{group}.service") for group in WORKER_GROUPS.values()
    ]
    completed = subprocess.run(
        [analyze, "verify", "--man=no", *units, *instances],
        capture_output=True,
        text=True,
        timeout=120,
    )
    ours = [
        line
        for line in (completed.stdout + completed.stderr).splitlines()
        if "taskplatform" in line
    ]
    assert completed.returncode == 0 and not ours, completed.stdout + completed.stderr


# -- Kubernetes ----------------------------------------------------------------------------------

SECRETS = {
    document["metadata"]["name"]: document["stringData"]
    for document in yaml.safe_load_all((KUBERNETES / "secret.example.yaml").read_text())
}
#: The two ways to run it with KEDA: on Redis, and on RabbitMQ. And the queue key of each.
OVERLAYS = {
    KUBERNETES / "redis": ("redis", "listName"),
    KUBERNETES / "rabbitmq": ("rabbitmq", "queueName"),
}
#: Every kustomization (what `kubectl apply -k` may be given), and the per-environment ones.
KUSTOMIZATIONS = sorted(path.parent for path in KUBERNETES.rglob("kustomization.yaml"))
ENVIRONMENTS = sorted((KUBERNETES / "overlays").iterdir())
#: Custom resources, checked against their CRDs' schemas (trimmed, in tests/unit/schemas).
CRD_SCHEMAS = {**KEDA_SCHEMAS, **MONITORING_SCHEMAS}
WORKLOAD_KINDS = ("Deployment", "StatefulSet")
#: The label naming the Procfile process a workload (or the Job) runs.
COMPONENT = "app.kubernetes.io/component"


def kustomize(directory: Path) -> list[dict]:
    """The documents a kustomization's resources hold, following directories (no patches:
    `built` applies them, where kubectl is installed)."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    documents = []
    for resource in kustomization["resources"]:
        path = (directory / resource).resolve()
        if path.is_dir():
            documents += kustomize(path)
        else:
            documents += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return documents


@cache
def _kustomize_build(directory: Path) -> str:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        if in_ci():
            pytest.fail("no kubectl: `kubectl kustomize` checks the kustomizations")
        pytest.skip("no kubectl here")
    completed = subprocess.run(
        [kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == 0, f"kubectl kustomize {directory}: {completed.stderr}"
    return completed.stdout


def built(directory: Path) -> list[dict]:
    """What `kubectl kustomize` makes of a kustomization: patches, namespace and images applied."""
    return [d for d in yaml.safe_load_all(_kustomize_build(directory)) if d]


def of_kind(documents: list[dict], *kinds: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in documents if d["kind"] in kinds}


def pod(document: dict) -> dict:
    return document["spec"]["template"]["spec"]


def argv(container: dict) -> list[str]:
    """A container's command line. Only `args`: a `command` would replace the image's
    ENTRYPOINT, and with it tini as PID 1."""
    assert "command" not in container, f"{container['name']}: `command` replaces tini"
    return container["args"]


def schema_errors(document: dict, version: str) -> list[str]:
    """What the Kubernetes schema of `version`, or the resource's CRD schema, refuses."""
    if document["kind"] in CRD_SCHEMAS:
        schema = CRD_SCHEMAS[document["kind"]]
        jsonschema.Draft202012Validator.check_schema(schema)
        return [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(document)]
    try:
        kubernetes_validate.validate(document, version, strict=True)
    except kubernetes_validate.ValidationError as error:
        return [error.message]
    return []


ALL_MANIFESTS = [
    (path, document)
    for path in sorted(KUBERNETES.rglob("*.yaml"))
    if path.name != "kustomization.yaml"
    for document in yaml.safe_load_all(path.read_text())
    if document
]
APP = kustomize(KUBERNETES / "app")
WORKLOADS = of_kind(APP, *WORKLOAD_KINDS)
WORKERS = {
    name: d for name, d in WORKLOADS.items() if "worker" in argv(pod(d)["containers"][0])[:4]
}


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_kubernetes_manifests_match_the_kubernetes_schemas(version):
    checked = 0
    for path, document in ALL_MANIFESTS:
        if document["kind"] in CRD_SCHEMAS:
            continue
        errors = schema_errors(document, version)
        assert not errors, (
            f"{path.name} {document['kind']}/{document['metadata']['name']}: {errors}"
        )
        checked += 1
    assert checked >= 20


def test_custom_resources_match_their_crd_schemas():
    checked = 0
    for path, document in ALL_MANIFESTS:
        if document["kind"] in CRD_SCHEMAS:
            errors = schema_errors(document, KUBERNETES_VERSIONS[0])
            assert not errors, f"{path.name} {document['metadata']['name']}: {errors}"
            checked += 1
    assert checked >= 8


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_kustomization_builds_into_valid_manifests(directory):
    documents = built(directory)
    assert documents
    names = [(d["kind"], d["metadata"]["name"]) for d in documents]
    assert len(names) == len(set(names)), "a resource twice"
    for version in KUBERNETES_VERSIONS:
        for document in documents:
            errors = schema_errors(document, version)
            assert not errors, (
                f"{version} {document['kind']}/{document['metadata']['name']}: {errors}"
            )


def test_each_kustomization_lists_its_files():
    for kustomization in KUBERNETES.rglob("kustomization.yaml"):
        directory = kustomization.parent
        listed = set(yaml.safe_load(kustomization.read_text())["resources"])
        for resource in listed:
            target = directory / resource
            assert target.is_file() or (target / "kustomization.yaml").is_file(), resource
        # Example Secrets are applied by hand, on purpose: never over real credentials.
        manifests = {p.name for p in directory.glob("*.yaml")} - {"kustomization.yaml"}
        unlisted = {m for m in manifests - listed if not m.endswith(".example.yaml")}
        assert not unlisted, f"{directory.name}: not in its kustomization: {unlisted}"


def test_each_environment_has_its_own_namespace_hosts_and_release():
    base = built(KUBERNETES / "redis")
    base_hosts = {r["host"] for i in of_kind(base, "Ingress").values() for r in i["spec"]["rules"]}
    seen = {}
    for environment in ENVIRONMENTS:
        documents = built(environment)
        namespaces = {d["metadata"].get("namespace") for d in documents}
        assert len(namespaces) == 1 and None not in namespaces, environment.name
        ingresses = of_kind(documents, "Ingress")
        hosts = {r["host"] for i in ingresses.values() for r in i["spec"]["rules"]}
        assert hosts and not hosts & base_hosts, f"{environment.name}: placeholder hosts"
        # The page links jobs to the Flower people open: the published one.
        flower_url = of_kind(documents, "ConfigMap")["taskplatform"]["data"]["FLOWER_URL"]
        flower_host = ingresses["taskplatform-flower"]["spec"]["rules"][0]["host"]
        assert flower_url == f"https://{flower_host}/", environment.name
        kinds = {d["kind"] for d in documents}
        assert {"ServiceMonitor", "PrometheusRule", "ScaledObject"} <= kinds, environment.name
        images = {
            c["image"] for d in of_kind(documents, *WORKLOAD_KINDS, "Job").values()
            for c in pod(d)["containers"]
        }  # fmt: skip
        assert len(images) == 1 and "taskplatform" not in images, environment.name
        seen[environment.name] = (namespaces.pop(), frozenset(hosts))
    assert {"staging", "production"} <= set(seen)
    assert len(set(seen.values())) == len(seen), "two environments share a namespace or hosts"


def test_kubernetes_runs_every_procfile_process():
    jobs = of_kind(APP, "Job")
    for process, (command, assigned) in PROCESSES.items():
        candidates = (jobs if process == "release" else WORKLOADS).values()
        matching = [d for d in candidates if d["metadata"]["labels"][COMPONENT] == process]
        assert len(matching) == 1, f"{process}: {len(matching)} workloads"
        container = pod(matching[0])["containers"][0]
        assert same_command(command, argv(container)), f"{process}: {argv(container)}"
        environment = {e["name"]: e.get("value") for e in container.get("env", [])}
        for key, value in assigned.items():
            assert environment.get(key) == value, f"{process} needs {key}={value}"


def test_kubernetes_workers_outlast_their_soft_shutdown_and_probe_their_heartbeat():
    config = of_kind(APP, "ConfigMap")["taskplatform"]["data"]
    assert WORKERS
    for name, worker in WORKERS.items():
        spec = pod(worker)
        assert spec["terminationGracePeriodSeconds"] >= soft_shutdown(config) + REQUEUE_MARGIN, name
        container = spec["containers"][0]
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            command = container[probe]["exec"]["command"]
            assert command[:3] == ALIVE_PROBE, f"{name} {probe}"
        environment = {e["name"]: e.get("value") for e in container["env"]}
        assert environment.get("WORKER_ALIVE_FILE"), f"{name}: no heartbeat file is written"


@pytest.mark.parametrize("overlay", list(OVERLAYS), ids=lambda p: str(p.relative_to(DEPLOY)))
def test_keda_alone_sets_the_worker_counts(overlay):
    # app/ alone runs two of each; where KEDA scales them, an apply must not reset its count.
    for name in WORKERS:
        assert WORKLOADS[name]["spec"]["replicas"] >= 2, name
    workloads = of_kind(built(overlay), *WORKLOAD_KINDS)
    for name in WORKERS:
        assert "replicas" not in workloads[name]["spec"], f"{overlay.name}: {name}"


def test_kubernetes_references_resolve():
    config_maps = of_kind(APP, "ConfigMap")
    known = known_variables()
    for document in APP:
        if document["kind"] not in (*WORKLOAD_KINDS, "Job"):
            continue
        name = document["metadata"]["name"]
        spec = pod(document)
        claims = [t["metadata"]["name"] for t in document["spec"].get("volumeClaimTemplates", [])]
        for container in spec["containers"] + spec.get("initContainers", []):
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    assert source["configMapRef"]["name"] in config_maps, name
                else:
                    assert source["secretRef"]["name"] in SECRETS, name
            for variable in container.get("env", []):
                assert variable["name"] in known, f"{name}: {variable['name']} is read by nothing"
                ref = variable.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["key"] in SECRETS[ref["name"]], f"{name}: {ref}"
            mounts = {m["name"] for m in container.get("volumeMounts", [])}
            assert mounts <= {v["name"] for v in spec.get("volumes", [])} | set(claims), name
    for config in config_maps.values():
        assert set(config["data"]) <= known, set(config["data"]) - known
    assert set(SECRETS["taskplatform"]) <= known, set(SECRETS["taskplatform"]) - known


def test_kubernetes_pods_run_unprivileged():
    for document in APP:
        if document["kind"] not in (*WORKLOAD_KINDS, "Job"):
            continue
        name, spec = document["metadata"]["name"], pod(document)
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["automountServiceAccountToken"] is False, name
        for container in spec["containers"] + spec.get("initContainers", []):
            argv(container)  # the image's ENTRYPOINT (tini) stays PID 1
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            assert container["resources"]["requests"] and container["resources"]["limits"], name


def pod_labels(workload: dict) -> dict[str, str]:
    return workload["spec"]["template"]["metadata"]["labels"]


def selected(selector: dict[str, str], workloads: dict[str, dict] = WORKLOADS) -> list[str]:
    return [name for name, w in workloads.items() if selector.items() <= pod_labels(w).items()]


def container_ports(workload: dict) -> dict[str, int]:
    """Named ports of a workload's containers: name -> number."""
    return {
        port.get("name", str(port["containerPort"])): port["containerPort"]
        for container in pod(workload)["containers"]
        for port in container.get("ports", [])
    }


def test_kubernetes_selectors_find_their_pods():
    for document in APP:
        kind, name, spec = document["kind"], document["metadata"]["name"], document.get("spec")
        if kind in WORKLOAD_KINDS:
            assert spec["selector"]["matchLabels"].items() <= pod_labels(document).items(), name
        elif kind in ("Service", "PodDisruptionBudget"):
            selector = spec["selector"] if kind == "Service" else spec["selector"]["matchLabels"]
            matched = selected(selector)
            assert matched, f"{kind}/{name} selects no pods"
            if kind == "Service":
                ports = container_ports(WORKLOADS[matched[0]])
                assert all(p["targetPort"] in ports for p in spec.get("ports", [])), name
        if kind == "StatefulSet":
            governing = of_kind(APP, "Service")[spec["serviceName"]]
            assert governing["spec"]["clusterIP"] == "None", name
            assert selected(governing["spec"]["selector"]) == [name], name


# -- Kubernetes: disruptions, placement, state --------------------------------------------------

#: What may be down for a while without anyone waiting: the exporter (a gap in the graphs).
MAY_PAUSE = {"metrics"}


def fewest_replicas(documents: list[dict]) -> dict[str, int]:
    """Each workload's smallest replica count: KEDA's minimum where it scales the workload."""
    workloads = of_kind(documents, *WORKLOAD_KINDS)
    fewest = {name: w["spec"].get("replicas", 1) for name, w in workloads.items()}
    for scaled in of_kind(documents, "ScaledObject").values():
        fewest[scaled["spec"]["scaleTargetRef"]["name"]] = scaled["spec"]["minReplicaCount"]
    return fewest


@pytest.mark.parametrize(
    "directory",
    [KUBERNETES / "app", *OVERLAYS, *ENVIRONMENTS],
    ids=lambda p: str(p.relative_to(DEPLOY)),
)
def test_no_drain_takes_the_last_replica(directory):
    documents = built(directory)
    workloads = of_kind(documents, *WORKLOAD_KINDS)
    fewest = fewest_replicas(documents)
    covered = set()
    for name, budget in of_kind(documents, "PodDisruptionBudget").items():
        spec = budget["spec"]
        (target,) = selected(spec["selector"]["matchLabels"], workloads)
        covered.add(target)
        # The disruption controller with every pod healthy, at the fewest replicas: it allows
        # evicting healthy - desiredHealthy pods.
        limit = spec.get("maxUnavailable", spec.get("minAvailable"))
        assert isinstance(limit, int), f"{name}: percentages round; use a count"
        desired_healthy = fewest[target] - limit if "maxUnavailable" in spec else limit
        allowed = fewest[target] - desired_healthy
        assert allowed >= 1, f"{name}: a drain could never move {target}"
        assert fewest[target] - allowed >= 1, f"{name}: a drain may evict {target}'s last pod"
        # A pod that is not ready serves nothing: it never holds a node upgrade.
        assert spec["unhealthyPodEvictionPolicy"] == "AlwaysAllow", name
    must_stay = {n for n, w in workloads.items() if pod_labels(w)[COMPONENT] not in MAY_PAUSE}
    assert covered == must_stay, f"without a budget: {sorted(must_stay - covered)}"


def test_replicas_spread_over_nodes_and_zones():
    for name, workload in WORKLOADS.items():
        if pod_labels(workload)[COMPONENT] in MAY_PAUSE:
            continue
        constraints = pod(workload)["topologySpreadConstraints"]
        keys = {c["topologyKey"] for c in constraints}
        assert keys == {"kubernetes.io/hostname", "topology.kubernetes.io/zone"}, name
        for constraint in constraints:
            assert selected(constraint["labelSelector"]["matchLabels"]) == [name], name
            # A preference: a full node or a lost zone never leaves a replica unscheduled.
            assert constraint["whenUnsatisfiable"] == "ScheduleAnyway", name


def test_beat_runs_a_leader_and_a_hot_standby():
    (beat,) = [w for w in WORKLOADS.values() if pod_labels(w)[COMPONENT] == "beat"]
    assert beat["spec"]["replicas"] == 2
    # A new standby starts before an old pod stops: a rollout never leaves no beat.
    assert beat["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    # tests/integration/test_beat_failover.py measures the takeover with the settings' lock
    # numbers: no target may run other ones without that measurement following.
    lock = {"BEAT_LOCK_TIMEOUT", "BEAT_MAX_INTERVAL"}
    configured = [
        set(of_kind(APP, "ConfigMap")["taskplatform"]["data"]),
        *(set(service.get("environment") or {}) for service in SERVICES.values()),
        *(set(env_file(example)) for example in SYSTEMD.glob("*.env.example")),
        set(APP_JSON["env"]),
    ]
    for names in configured:
        assert not names & lock, names & lock


def test_the_worker_spool_outlives_its_pod():
    # DEADLETTER_SPOOL_FILE: where a worker files a dead letter with Postgres and Redis away.
    spool = Path(of_kind(APP, "ConfigMap")["taskplatform"]["data"]["DEADLETTER_SPOOL_FILE"])
    assert WORKERS
    for name, worker in WORKERS.items():
        assert worker["kind"] == "StatefulSet", name
        claims = {t["metadata"]["name"] for t in worker["spec"]["volumeClaimTemplates"]}
        mounts = pod(worker)["containers"][0]["volumeMounts"]
        (holding,) = [m for m in mounts if Path(m["mountPath"]) in spool.parents]
        assert holding["name"] in claims, f"{name}: the spool is not on the pod's own volume"
        assert holding["name"] not in {v["name"] for v in pod(worker).get("volumes", [])}, name
        # Kept when KEDA scales the pod away: the next pod of that ordinal drains it.
        retention = worker["spec"]["persistentVolumeClaimRetentionPolicy"]
        assert retention == {"whenScaled": "Retain", "whenDeleted": "Retain"}, name


# -- Kubernetes: network policies and the Ingress ------------------------------------------------

NETWORK_POLICIES = of_kind(APP, "NetworkPolicy")
#: The schemes of the URLs the platform connects to, and their ports when a URL names none:
#: kombu's for the brokers (REDIS_URL, BROKER_URL), libpq's, the web's (SENTRY_DSN, the CRM).
SCHEME_PORTS = {
    "redis": kombu_redis.Transport.default_port,
    "rediss": kombu_redis.Transport.default_port,
    "sentinel": kombu_redis.SentinelTransport.default_port,
    "amqp": kombu_amqp.Transport.default_port,
    "amqps": kombu_amqp.Transport.default_ssl_port,
    "postgresql": 5432,
    "http": 80,
    "https": 443,
}
#: RabbitMQ's management API over TLS (FLOWER_BROKER_API=https://...): its own port.
MANAGEMENT_TLS_PORT = 15671


def ports_of(url: str) -> int:
    parts = urlsplit(url)
    return parts.port or SCHEME_PORTS[parts.scheme]


def services_every_process_reaches() -> set[tuple[str, int]]:
    """DNS, and the services of the settings' URLs: every scheme REDIS_URL and BROKER_URL
    take, the example Secret's URLs, RabbitMQ's management API, Sentry (https)."""
    compose_api = SERVICES["flower"]["environment"]["FLOWER_BROKER_API"]
    management = VARIABLE.sub("secret", compose_api.partition(":-")[2].removesuffix("}"))
    urls = [SECRETS["taskplatform"]["REDIS_URL"], SECRETS["taskplatform"]["DATABASE_URL"],
            SECRETS["taskplatform-keda"]["rabbitmq-host"], management]  # fmt: skip
    ports = {ports_of(url) for url in urls}
    ports |= {SCHEME_PORTS[s] for s in ("redis", "sentinel", "amqp", "amqps", "https")}
    ports.add(MANAGEMENT_TLS_PORT)
    return {("UDP", 53), ("TCP", 53)} | {("TCP", port) for port in ports}


def opened_ports(workload: dict) -> set[int]:
    """The ports a workload's process listens on, read from its command line and settings."""
    container = pod(workload)["containers"][0]
    args = argv(container)
    environment = {e["name"]: e.get("value") for e in container.get("env", [])}
    ports = {int(m.group(1)) for word in args if (m := re.fullmatch(r"--port=(\d+)", word))}
    if "--bind" in args:
        ports.add(int(args[args.index("--bind") + 1].rpartition(":")[2]))
    if args[:3] == ["python", "-m", "housekeeping.exporter"]:
        ports.add(int(environment.get("METRICS_PORT") or Settings().metrics_port))
    return ports


def policies_of(workload: dict) -> list[dict]:
    return [
        policy
        for policy in NETWORK_POLICIES.values()
        if policy["spec"]["podSelector"]["matchLabels"].items() <= pod_labels(workload).items()
    ]


def admitted(workload: dict, direction: str) -> set[tuple[str, int]]:
    """(protocol, port) pairs the policies selecting a workload admit, in or out."""
    named = container_ports(workload)
    found = set()
    for policy in policies_of(workload):
        for rule in policy["spec"].get(direction, []):
            assert rule.get("ports"), f"{policy['metadata']['name']}: a rule for every port"
            for port in rule["ports"]:
                number = port["port"]
                if isinstance(number, str):  # a named port: the selected pods' own
                    assert direction == "ingress", f"{policy['metadata']['name']}: {number}"
                    number = named[number]
                found.add((port.get("protocol", "TCP"), number))
    return found


def test_every_platform_pod_starts_closed_both_ways():
    for name, workload in {**WORKLOADS, **of_kind(APP, "Job")}.items():
        closed = [
            p for p in policies_of(workload)
            if set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
            and "ingress" not in p["spec"] and "egress" not in p["spec"]
        ]  # fmt: skip
        assert closed, f"{name}: no default-deny policy selects it"


def test_network_policies_admit_exactly_the_ports_each_process_opens():
    assert opened_ports(WORKLOADS["taskplatform-flower"]) == {5555}  # read as meant
    for name, workload in {**WORKLOADS, **of_kind(APP, "Job")}.items():
        opened = opened_ports(workload) if workload["kind"] != "Job" else set()
        declared = set(container_ports(workload).values())
        assert declared == opened, f"{name}: containerPorts {declared}, listens on {opened}"
        assert admitted(workload, "ingress") == {("TCP", port) for port in opened}, name


def test_network_policies_admit_exactly_the_services_each_process_reaches():
    flower_port = opened_ports(WORKLOADS["taskplatform-flower"]).pop()
    every = services_every_process_reaches() | {("TCP", flower_port)}  # the doctor's check
    # The main group mails (SMTP_URL) and calls the CRM (CRM_WEBHOOK_URL, http or https).
    mail_and_crm = {("TCP", p) for p in [*smtp.DEFAULT_PORTS.values(), 80, 443]}
    for name, workload in {**WORKLOADS, **of_kind(APP, "Job")}.items():
        expected = every | (mail_and_crm if pod_labels(workload)[COMPONENT] == "worker" else set())
        assert admitted(workload, "egress") == expected, name
    # Flower's port, and only to Flower's pods.
    for policy in NETWORK_POLICIES.values():
        for rule in policy["spec"].get("egress", []):
            if ("TCP", flower_port) in {
                (p.get("protocol", "TCP"), p["port"]) for p in rule["ports"]
            }:
                (to,) = rule["to"]
                assert selected(to["podSelector"]["matchLabels"]) == ["taskplatform-flower"]


def test_the_web_uis_are_published_over_tls_only():
    services = of_kind(APP, "Service")
    published = set()
    for name, ingress in of_kind(APP, "Ingress").items():
        spec = ingress["spec"]
        assert (
            ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/force-ssl-redirect"]
            == "true"
        )
        secured = {host for tls in spec["tls"] for host in tls["hosts"]}
        for rule in spec["rules"]:
            assert rule["host"] in secured, f"{name}: {rule['host']} without TLS"
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                service = services[backend["name"]]
                (port,) = [
                    p for p in service["spec"]["ports"] if p["name"] == backend["port"]["name"]
                ]
                (target,) = selected(service["spec"]["selector"])
                number = container_ports(WORKLOADS[target])[port["targetPort"]]
                # The ingress controller may reach that port (its namespace is admitted).
                sources = [
                    source for policy in policies_of(WORKLOADS[target])
                    for rule_in in policy["spec"].get("ingress", [])
                    if number in {container_ports(WORKLOADS[target]).get(p["port"], p["port"])
                                  for p in rule_in["ports"]}
                    for source in rule_in["from"]
                ]  # fmt: skip
                namespace = spec["ingressClassName"] == "nginx" and "ingress-nginx"
                assert any(
                    s.get("namespaceSelector", {}).get("matchLabels", {})
                    .get("kubernetes.io/metadata.name") == namespace
                    for s in sources
                ), f"{name}: the ingress controller cannot reach {target}:{number}"  # fmt: skip
                published.add(pod_labels(WORKLOADS[target])[COMPONENT])
    # Flower and the Procfile's `deadletters` (webapp:create_app()).
    assert published == {"flower", "deadletters"}
    assert "webapp:create_app()" in PROCESSES["deadletters"][0]


# -- Kubernetes: monitoring ----------------------------------------------------------------------

MONITORING = kustomize(KUBERNETES / "monitoring")


def test_the_prometheus_rule_is_the_rules_file():
    spec = importlib.util.spec_from_file_location(
        "rule", DEPLOY / "prometheus" / "prometheusrule.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rules = (DEPLOY / "prometheus" / "alerts.yml").read_text()
    generated = (KUBERNETES / "monitoring" / "prometheusrule.yaml").read_text()
    assert generated == module.render(rules), "run: python deploy/prometheus/prometheusrule.py"
    (rule,) = of_kind(MONITORING, "PrometheusRule").values()
    assert rule["spec"]["groups"] == yaml.safe_load(rules)["groups"]


def test_the_service_monitor_scrapes_the_exporter():
    (monitor,) = of_kind(MONITORING, "ServiceMonitor").values()
    services = {
        name: service for name, service in of_kind(APP, "Service").items()
        if monitor["spec"]["selector"]["matchLabels"].items()
        <= service["metadata"]["labels"].items()
    }  # fmt: skip
    assert list(services) == ["taskplatform-metrics"]
    names = {port["name"] for port in services["taskplatform-metrics"]["spec"]["ports"]}
    assert {endpoint["port"] for endpoint in monitor["spec"]["endpoints"]} <= names
    assert all(seconds(e["interval"]) >= 15 for e in monitor["spec"]["endpoints"])


@pytest.mark.parametrize("overlay", list(OVERLAYS), ids=lambda p: str(p.relative_to(DEPLOY)))
def test_keda_scales_each_worker_on_the_queues_it_consumes(overlay):
    trigger_type, queue_key = OVERLAYS[overlay]
    documents = kustomize(overlay)
    workloads = of_kind(documents, *WORKLOAD_KINDS)
    authentications = of_kind(documents, "TriggerAuthentication")
    scaled = of_kind(documents, "ScaledObject")
    targets = []
    for name, scaled_object in scaled.items():
        spec = scaled_object["spec"]
        target = spec["scaleTargetRef"]
        assert target["name"] in workloads, f"{name} scales a workload that does not exist"
        assert target["kind"] == workloads[target["name"]]["kind"], name
        targets.append(target["name"])
        consumed = queues_of(argv(pod(workloads[target["name"]])["containers"][0]))
        triggers = spec["triggers"]
        assert all(t["type"] == trigger_type for t in triggers), name
        watched = [t["metadata"][queue_key] for t in triggers]
        assert sorted(watched) == sorted(consumed), (
            f"{name}: triggers {watched}, consumes {consumed}"
        )
        for trigger in triggers:
            assert trigger["authenticationRef"]["name"] in authentications, name
            if trigger_type == "rabbitmq":
                assert trigger["metadata"]["mode"] == "QueueLength", name
        # Two at least: a drain may take one (app/pdb.yaml), and beat's housekeeping and the
        # users' quotes always find a worker.
        assert spec["minReplicaCount"] >= 2, name
        # One pool over several queues scales on their sum: every queue is in the formula.
        if len(triggers) > 1:
            formula = spec["advanced"]["scalingModifiers"]["formula"]
            assert set(re.findall(r"[A-Za-z_]\w*", formula)) == {t["name"] for t in triggers}, name
    assert sorted(targets) == sorted(WORKERS), "every worker is scaled, once"
    for name, authentication in authentications.items():
        for ref in authentication["spec"]["secretTargetRef"]:
            assert ref["key"] in SECRETS.get(ref["name"], {}), f"{name}: {ref}"
