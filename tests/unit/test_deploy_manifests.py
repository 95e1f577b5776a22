"""The deploy files (app.json, deploy/, the Dockerfile) agree with the Procfile, with the
settings and with the schemas of the tools that read them. All offline: Kubernetes schemas
come with kubernetes-validate, KEDA's from tests/unit/schemas, `systemd-analyze verify`
runs on a copy of the units pointed at this virtualenv, and `docker compose config` runs
only where the compose plugin exists.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from fnmatch import fnmatchcase
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from config.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DOCKER = DEPLOY / "docker"
SYSTEMD = DEPLOY / "systemd"
KUBERNETES = DEPLOY / "kubernetes"
KEDA_SCHEMAS = yaml.safe_load(
    (Path(__file__).parent / "schemas" / "keda-v1alpha1.yaml").read_text()
)

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
    stages = re.findall(r"^FROM (\S+)", DOCKERFILE, re.M)
    assert len(stages) >= 2 and all(stage.startswith("${PYTHON_IMAGE}") for stage in stages)
    users = re.findall(r"^USER (\S+)", DOCKERFILE, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert re.search(r"pip install -c constraints\.txt \.(\s|$)", DOCKERFILE)
    assert not re.search(r"pip install[^\n]*(\s-e\s|--editable|\[dev\])", DOCKERFILE)


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
OVERLAYS = {KUBERNETES: ("redis", "listName"), KUBERNETES / "rabbitmq": ("rabbitmq", "queueName")}
KEDA_KINDS = {"ScaledObject", "TriggerAuthentication"}
#: The label naming the Procfile process a Deployment (or the Job) runs.
COMPONENT = "app.kubernetes.io/component"


def kustomize(directory: Path) -> list[dict]:
    """The documents a kustomization's resources hold, following directories."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    documents = []
    for resource in kustomization["resources"]:
        path = (directory / resource).resolve()
        if path.is_dir():
            documents += kustomize(path)
        else:
            documents += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return documents


def of_kind(documents: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in documents if d["kind"] == kind}


def pod(document: dict) -> dict:
    return document["spec"]["template"]["spec"]


ALL_MANIFESTS = [
    (path, document)
    for path in sorted(KUBERNETES.rglob("*.yaml"))
    if path.name != "kustomization.yaml"
    for document in yaml.safe_load_all(path.read_text())
    if document
]
APP = kustomize(KUBERNETES / "app")
DEPLOYMENTS = of_kind(APP, "Deployment")
WORKERS = {
    name: d for name, d in DEPLOYMENTS.items() if "worker" in pod(d)["containers"][0]["command"][:4]
}


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_kubernetes_manifests_match_the_kubernetes_schemas(version):
    checked = 0
    for path, document in ALL_MANIFESTS:
        if document["kind"] in KEDA_KINDS:
            continue
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(
                f"{path.name} {document['kind']}/{document['metadata']['name']}: {error.message}"
            )
        checked += 1
    assert checked >= 10


def test_keda_resources_match_the_crd_schemas():
    checked = 0
    for path, document in ALL_MANIFESTS:
        if document["kind"] in KEDA_KINDS:
            schema = KEDA_SCHEMAS[document["kind"]]
            jsonschema.Draft202012Validator.check_schema(schema)
            errors = [
                e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(document)
            ]
            assert not errors, f"{path.name} {document['metadata']['name']}: {errors}"
            checked += 1
    assert checked >= 6


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


def test_kubernetes_runs_every_procfile_process():
    jobs = of_kind(APP, "Job")
    for process, (argv, assigned) in PROCESSES.items():
        kind = "Job" if process == "release" else "Deployment"
        candidates = (jobs if kind == "Job" else DEPLOYMENTS).values()
        matching = [d for d in candidates if d["metadata"]["labels"][COMPONENT] == process]
        assert len(matching) == 1, f"{process}: {len(matching)} {kind}s"
        container = pod(matching[0])["containers"][0]
        assert same_command(argv, container["command"]), f"{process}: {container['command']}"
        environment = {e["name"]: e.get("value") for e in container.get("env", [])}
        for key, value in assigned.items():
            assert environment.get(key) == value, f"{process} needs {key}={value}"


def test_kubernetes_workers_outlast_their_soft_shutdown_and_probe_their_heartbeat():
    config = of_kind(APP, "ConfigMap")["taskplatform"]["data"]
    assert WORKERS
    for name, deployment in WORKERS.items():
        spec = pod(deployment)
        assert spec["terminationGracePeriodSeconds"] >= soft_shutdown(config) + REQUEUE_MARGIN, name
        container = spec["containers"][0]
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            command = container[probe]["exec"]["command"]
            assert command[:3] == ALIVE_PROBE, f"{name} {probe}"
        environment = {e["name"]: e.get("value") for e in container["env"]}
        assert environment.get("WORKER_ALIVE_FILE"), f"{name}: no heartbeat file is written"
        # KEDA (or the HPA) owns the replica count.
        assert "replicas" not in deployment["spec"], name


def test_kubernetes_references_resolve():
    config_maps = of_kind(APP, "ConfigMap")
    known = known_variables()
    for document in APP:
        if document["kind"] not in ("Deployment", "Job"):
            continue
        name = document["metadata"]["name"]
        spec = pod(document)
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
            assert mounts <= {v["name"] for v in spec.get("volumes", [])}, name
    for config in config_maps.values():
        assert set(config["data"]) <= known, set(config["data"]) - known
    assert set(SECRETS["taskplatform"]) <= known, set(SECRETS["taskplatform"]) - known


def test_kubernetes_pods_run_unprivileged():
    for document in APP:
        if document["kind"] not in ("Deployment", "Job"):
            continue
        name, spec = document["metadata"]["name"], pod(document)
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["automountServiceAccountToken"] is False, name
        for container in spec["containers"] + spec.get("initContainers", []):
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            assert container["resources"]["requests"] and container["resources"]["limits"], name


def pod_labels(deployment: dict) -> dict[str, str]:
    return deployment["spec"]["template"]["metadata"]["labels"]


def test_kubernetes_selectors_find_their_pods():
    for document in APP:
        kind, name, spec = document["kind"], document["metadata"]["name"], document.get("spec")
        if kind == "Deployment":
            assert spec["selector"]["matchLabels"].items() <= pod_labels(document).items(), name
        elif kind in ("Service", "PodDisruptionBudget"):
            selector = spec["selector"] if kind == "Service" else spec["selector"]["matchLabels"]
            matched = [d for d in DEPLOYMENTS.values() if selector.items() <= pod_labels(d).items()]
            assert matched, f"{kind}/{name} selects no pods"
            if kind == "Service":
                container = pod(matched[0])["containers"][0]
                ports = {port["name"] for port in container.get("ports", [])}
                assert all(p["targetPort"] in ports for p in spec["ports"]), name


@pytest.mark.parametrize("overlay", list(OVERLAYS), ids=lambda p: str(p.relative_to(DEPLOY)))
def test_keda_scales_each_worker_on_the_queues_it_consumes(overlay):
    trigger_type, queue_key = OVERLAYS[overlay]
    documents = kustomize(overlay)
    deployments = of_kind(documents, "Deployment")
    authentications = of_kind(documents, "TriggerAuthentication")
    scaled = of_kind(documents, "ScaledObject")
    targets = []
    for name, scaled_object in scaled.items():
        spec = scaled_object["spec"]
        target = spec["scaleTargetRef"]
        assert target.get("kind", "Deployment") == "Deployment", name
        assert target["name"] in deployments, f"{name} scales a Deployment that does not exist"
        targets.append(target["name"])
        consumed = queues_of(pod(deployments[target["name"]])["containers"][0]["command"])
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
        # Beat's housekeeping must always find a worker.
        if "maintenance" in consumed:
            assert spec["minReplicaCount"] >= 1, name
        # One pool over several queues scales on their sum: every queue is in the formula.
        if len(triggers) > 1:
            formula = spec["advanced"]["scalingModifiers"]["formula"]
            assert set(re.findall(r"[A-Za-z_]\w*", formula)) == {t["name"] for t in triggers}, name
    assert sorted(targets) == sorted(WORKERS), "every worker Deployment is scaled, once"
    for name, authentication in authentications.items():
        for ref in authentication["spec"]["secretTargetRef"]:
            assert ref["key"] in SECRETS.get(ref["name"], {}), f"{name}: {ref}"
