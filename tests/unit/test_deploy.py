"""deploy/ checked offline: the Kubernetes manifests against the Kubernetes JSON schemas (kubernetes-validate,
strict) and KEDA's CRD schemas (vendored in tests/unit/schemas/keda), the compose file against the Compose
Specification schema (vendored by check-jsonschema), and the facts that tie them to the code: commands,
settings names, ports, the worker drain, the worker group and its partitions, the dashboard's metrics.

What only a real cluster shows (see docs/operations.md): that the image builds and the pods pull it, that KEDA
reads the lag and scales, that probes pass within their delays, that Kafka and Elasticsearch are reachable
at the configured addresses with the configured credentials.
"""

from __future__ import annotations

import json
import re
import tomllib
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from conveyor.api.settings import ServerSettings
from conveyor.cli.configdoc import SETTINGS
from conveyor.cli.main import _parser
from conveyor.common import metrics
from conveyor.common.kafka.topics import WORKER_JOBS
from conveyor.common.servers import ELASTICSEARCH_VERSION, KAFKA_VERSION
from conveyor.worker.service import ABANDON_GRACE

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
SCHEMAS = Path(__file__).parent / "schemas"
KUBERNETES_VERSION = "1.30"
SERVICES = ("executor", "scheduler", "worker", "indexer", "server")
METRICS_PORT = 9400


# ---- loading
@cache
def manifests() -> tuple[dict[str, Any], ...]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    docs = []
    for name in kustomization["resources"]:
        docs += [d for d in yaml.safe_load_all((K8S / name).read_text()) if d]
    return tuple(docs)


def resource(kind: str, name: str) -> dict[str, Any]:
    found = [d for d in manifests() if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


def config() -> dict[str, str]:
    return dict(resource("ConfigMap", "conveyor-config")["data"])


def env_of(deployment: dict[str, Any]) -> dict[str, str]:
    """The container's environment as the pod sees it: the ConfigMap, then the explicit `env`."""
    out = dict(config())
    out.update({e["name"]: e.get("value", "<from field>") for e in container(deployment).get("env", [])})
    return out


@cache
def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((DEPLOY / "compose.yaml").read_text()))


def known_env_names() -> set[str]:
    names = {"CONVEYOR_LOG_LEVEL", "CONVEYOR_HOME"}
    for cls in SETTINGS:  # every settings class, as the configuration page lists them
        prefix = cls.model_config["env_prefix"]
        names |= {f"{prefix}{field}".upper() for field in cls.model_fields}
    return names


def strict(schema: Any) -> Any:
    """An OpenAPI schema of a CRD that rejects unknown fields, as the API server's strict decoding does."""
    if isinstance(schema, dict):
        out = {k: strict(v) for k, v in schema.items()}
        open_ended = "additionalProperties" in out or out.get("x-kubernetes-preserve-unknown-fields")
        if "properties" in out and not open_ended:
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [strict(v) for v in schema]
    return schema


def crd_schema(name: str) -> dict[str, Any]:
    crd = yaml.safe_load((SCHEMAS / "keda" / f"{name}.yaml").read_text())
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1")
    return dict(strict(version["schema"]["openAPIV3Schema"]))


# ---- Kubernetes
@pytest.mark.parametrize(
    "doc",
    [d for d in manifests() if d["apiVersion"] != "keda.sh/v1alpha1"],
    ids=lambda d: f"{d['kind']}/{d['metadata']['name']}",
)
def test_manifest_matches_the_kubernetes_schema(doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize(
    "kind,crd", [("ScaledObject", "scaledobjects"), ("TriggerAuthentication", "triggerauthentications")]
)
def test_keda_resources_match_the_crd_schema(kind: str, crd: str) -> None:
    docs = [d for d in manifests() if d["kind"] == kind]
    assert docs
    for doc in docs:
        jsonschema.validate(doc, crd_schema(crd))


def test_the_strict_kubernetes_schema_rejects_a_misspelt_field() -> None:
    doc = json.loads(json.dumps(resource("Deployment", "conveyor-worker")))
    spec = doc["spec"]["template"]["spec"]
    spec["terminationGracePeriod"] = spec.pop("terminationGracePeriodSeconds")
    with pytest.raises(kubernetes_validate.ValidationError, match="terminationGracePeriod"):
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_strict_crd_schema_rejects_a_misspelt_field() -> None:
    doc = json.loads(json.dumps(resource("ScaledObject", "conveyor-worker")))
    doc["spec"]["maxReplicas"] = doc["spec"].pop("maxReplicaCount")
    with pytest.raises(jsonschema.ValidationError, match="maxReplicas"):
        jsonschema.validate(doc, crd_schema("scaledobjects"))


def test_the_kafka_trigger_uses_only_keys_the_kafka_scaler_reads() -> None:
    scaler = json.loads((SCHEMAS / "keda" / "kafka-scaler.json").read_text())
    (trigger,) = resource("ScaledObject", "conveyor-worker")["spec"]["triggers"]
    meta = trigger["metadata"]
    assert trigger["type"] == "kafka"
    assert set(meta) <= set(scaler["metadata"]), set(meta) - set(scaler["metadata"])
    assert set(scaler["required"]) <= set(meta)
    for key, allowed in scaler["enums"].items():
        if key in meta:
            assert meta[key] in allowed, key
    for key in scaler["integers"]:
        if key in meta:
            assert re.fullmatch(r"\d+", meta[key]), key
    for key in scaler["booleans"]:
        if key in meta:
            assert meta[key] in ("true", "false"), key
    auth = resource("TriggerAuthentication", trigger["authenticationRef"]["name"])
    params = {ref["parameter"] for ref in auth["spec"]["secretTargetRef"]}
    assert params <= set(scaler["authParams"])
    secret = resource("Secret", "conveyor-secrets")["stringData"]
    assert all(ref["name"] == "conveyor-secrets" and ref["key"] in secret for ref in auth["spec"]["secretTargetRef"])


def test_keda_scales_the_worker_deployment_on_the_worker_group_lag_up_to_the_partitions() -> None:
    spec = resource("ScaledObject", "conveyor-worker")["spec"]
    meta = spec["triggers"][0]["metadata"]
    worker = resource("Deployment", spec["scaleTargetRef"]["name"])
    env = env_of(worker)
    prefix = env["CONVEYOR_KAFKA_TOPIC_PREFIX"]

    assert container(worker)["args"] == ["worker"]
    assert "replicas" not in worker["spec"], "KEDA owns the worker count"
    assert meta["consumerGroup"] == f"{prefix}worker"  # the group `Worker` joins
    assert meta["topic"] == f"{prefix}{WORKER_JOBS}"
    assert meta["bootstrapServers"] == env["CONVEYOR_KAFKA_BOOTSTRAP"]
    assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"] <= int(env["CONVEYOR_KAFKA_PARTITIONS"])
    assert meta["allowIdleConsumers"] == "false"
    assert meta["offsetResetPolicy"] == "earliest"  # as the worker's consumer: a new group reads from the start
    assert int(meta["lagThreshold"]) == int(env["CONVEYOR_WORKER_CONCURRENCY"])


def test_worker_termination_grace_covers_its_drain() -> None:
    worker = resource("Deployment", "conveyor-worker")
    drain = float(env_of(worker)["CONVEYOR_WORKER_DRAIN_SECONDS"])
    grace = worker["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert drain + ABANDON_GRACE < grace <= drain + ABANDON_GRACE + 30


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_deployment_has_resources_probes_and_a_real_command(service: str) -> None:
    deployment = resource("Deployment", f"conveyor-{service}")
    c = container(deployment)
    _parser().parse_args(c["args"])  # a command `conveyor` accepts
    assert c["args"][0] == service
    assert {"cpu", "memory"} <= set(c["resources"]["requests"])
    assert "memory" in c["resources"]["limits"]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    env = env_of(deployment)
    assert ports["metrics"] == int(env["CONVEYOR_METRICS_PORT"]) == METRICS_PORT
    assert env["CONVEYOR_METRICS_HOST"] == "0.0.0.0"
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    readiness = c["readinessProbe"]["httpGet"]
    if service == "server":
        assert readiness == {"path": "/api/v1/health", "port": "http"}
        assert ports["http"] == ServerSettings().port
    else:
        assert readiness == {"path": "/readyz", "port": "metrics"}
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(METRICS_PORT)
    assert {"configMapRef": {"name": "conveyor-config"}} in c["envFrom"]
    assert {"secretRef": {"name": "conveyor-secrets"}} in c["envFrom"]
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True


def test_every_service_has_a_disruption_budget_selecting_its_pods() -> None:
    budgets = [d for d in manifests() if d["kind"] == "PodDisruptionBudget"]
    selected = set()
    for budget in budgets:
        labels = budget["spec"]["selector"]["matchLabels"]
        matching = [
            d
            for d in manifests()
            if d["kind"] == "Deployment" and labels.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert len(matching) == 1, budget["metadata"]["name"]
        selected.add(matching[0]["metadata"]["name"])
    assert selected == {f"conveyor-{s}" for s in SERVICES}


def test_the_topics_job_creates_the_topics() -> None:
    job = resource("Job", "conveyor-topics")
    c = job["spec"]["template"]["spec"]["containers"][0]
    assert c["args"] == ["topics", "create"]
    _parser().parse_args(c["args"])


def test_secrets_are_in_the_secret_not_the_configmap() -> None:
    secret_fields = {
        "CONVEYOR_KAFKA_SASL_PASSWORD",
        "CONVEYOR_ELASTICSEARCH_PASSWORD",
        "CONVEYOR_ELASTICSEARCH_API_KEY",
    }
    assert not secret_fields & set(config())
    assert secret_fields <= set(resource("Secret", "conveyor-secrets")["stringData"])


def test_every_conveyor_variable_in_deploy_is_a_real_setting() -> None:
    known = known_env_names()
    names = set(config()) | set(resource("Secret", "conveyor-secrets")["stringData"])
    for doc in manifests():
        if doc["kind"] in ("Deployment", "Job"):
            names |= {e["name"] for e in doc["spec"]["template"]["spec"]["containers"][0].get("env", [])}
    for service in compose()["services"].values():
        names |= set(service.get("environment") or {})
    names |= set(re.findall(r"CONVEYOR_[A-Z_]+", (DEPLOY / "Dockerfile").read_text()))
    commented = re.findall(r"#\s*(CONVEYOR_[A-Z_]+):", (K8S / "configmap.yaml").read_text())
    unknown = {n for n in names | set(commented) if n.startswith("CONVEYOR_")} - known
    assert not unknown


# ---- Compose
def test_compose_file_matches_the_compose_specification() -> None:
    schema = json.loads(files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json").read_text())
    jsonschema.validate(compose(), schema)


def test_compose_runs_the_four_services_after_the_topics_and_the_servers() -> None:
    services = compose()["services"]
    assert services["kafka"]["image"] == f"apache/kafka:{KAFKA_VERSION}"
    assert services["elasticsearch"]["image"].endswith(f"elasticsearch:{ELASTICSEARCH_VERSION}")
    assert services["kibana"]["image"].endswith(f"kibana:{ELASTICSEARCH_VERSION}")
    assert services["elasticsearch"]["environment"]["xpack.security.enabled"] == "false"
    for name in ("kafka", "elasticsearch"):
        assert services[name]["healthcheck"]["test"]
    assert services["topics"]["command"] == ["topics", "create"]
    assert services["topics"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    for name in SERVICES:
        service = services[name]
        _parser().parse_args(service["command"])
        assert service["command"] == [name]
        assert service["depends_on"]["topics"]["condition"] == "service_completed_successfully"
        assert str(METRICS_PORT) in " ".join(service["healthcheck"]["test"])
        assert service["environment"]["CONVEYOR_KAFKA_BOOTSTRAP"] == "kafka:9092"
    for name in ("indexer", "server", "kibana"):
        assert services[name]["depends_on"]["elasticsearch"]["condition"] == "service_healthy"
    assert services["worker"]["deploy"]["replicas"] >= 2


def test_compose_gives_workers_time_to_drain() -> None:
    worker = compose()["services"]["worker"]
    drain = float(worker["environment"]["CONVEYOR_WORKER_DRAIN_SECONDS"])
    assert _seconds(worker["stop_grace_period"]) > drain + ABANDON_GRACE


def _seconds(duration: str) -> float:
    match = re.fullmatch(r"(\d+)s", duration)
    assert match, duration
    return float(match.group(1))


def test_prometheus_in_compose_scrapes_the_metrics_port_of_every_service() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    (sd,) = config["scrape_configs"][0]["dns_sd_configs"]
    assert sd["port"] == METRICS_PORT
    assert set(sd["names"]) == set(SERVICES)


# ---- the image
def test_dockerfile_installs_every_package_folder_and_runs_conveyor_as_a_user() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    froms = re.findall(r"^FROM (\S+)", dockerfile, re.M)
    assert froms and all(f.startswith("python:3.11-slim") for f in froms)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    folders = pyproject["tool"]["setuptools"]["package-dir"].values()
    # the build stage copies the whole context; .dockerignore must keep what building the wheel reads
    assert re.search(r"^COPY \. \.$", dockerfile, re.M)
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    ignored = {line.strip() for line in lines if line.strip() and not line.startswith("#")}
    needed = {*folders, "pyproject.toml", "README.md", *pyproject["project"]["license-files"]}
    needed |= set(pyproject["build-system"]["backend-path"])
    assert not needed & ignored, needed & ignored
    user = re.findall(r"^USER (\S+)", dockerfile, re.M)
    assert user and not user[-1].startswith(("root", "0"))
    assert 'ENTRYPOINT ["conveyor"]' in dockerfile
    assert f"CONVEYOR_METRICS_PORT={METRICS_PORT}" in dockerfile


# ---- the dashboard
def test_the_dashboard_charts_only_metrics_the_services_export() -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "conveyor-dashboard.json").read_text())
    exported = set()
    for family in metrics.REGISTRY.collect():
        exported |= {sample.name for sample in family.samples} | {family.name}
    exported |= {f"{m.name}_total" for m in metrics.REGISTRY.collect() if m.type == "counter"}
    exported |= {
        f"{m.name}_{s}" for m in metrics.REGISTRY.collect() if m.type == "histogram" for s in ("bucket", "sum", "count")
    }
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = {name for expr in exprs for name in re.findall(r"\b((?:conveyor|process)_[a-z_]+)\b", expr)}
    assert used and used <= exported, used - exported
    assert {"conveyor_messages_consumed_total", "conveyor_consumer_lag", "conveyor_processing_seconds_bucket"} <= used
    assert {"conveyor_bulk_documents_bucket", "conveyor_bulk_failures_total", "conveyor_attempts_running"} <= used
