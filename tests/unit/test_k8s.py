"""deploy/k8s, checked offline: each kustomization renders with `kubectl kustomize`, every object
validates strictly against Kubernetes' own schemas (kubernetes-validate; operators' custom
resources have none there and are checked by the assertions below), and the rendered objects
keep the rules an operator relies on (README: Deploy on Kubernetes)."""

from __future__ import annotations

import base64
import importlib.util
import inspect
import ipaddress
import os
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from craftkit import internal_auth, renders, service

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "k8s"
APPS = ["overlays/dev", "overlays/production"]
ALL = [*APPS, "backing"]
# The cluster version the manifests are written for (native sleep preStop hooks need >= 1.30).
KUBERNETES_VERSION = "1.32"
# Operators' custom resources: no schema in kubernetes-validate.
CUSTOM_KINDS = {
    ("kafka.strimzi.io", "Kafka"), ("kafka.strimzi.io", "KafkaNodePool"),
    ("kafka.strimzi.io", "KafkaTopic"), ("kafka.strimzi.io", "KafkaUser"),
    ("postgresql.cnpg.io", "Cluster"), ("keda.sh", "ScaledObject"),
    ("keda.sh", "TriggerAuthentication"), ("cert-manager.io", "Certificate"),
    ("cert-manager.io", "Issuer"), ("cert-manager.io", "ClusterIssuer"),
}
WORKLOADS = {"Deployment", "StatefulSet", "Job", "CronJob"}
IMAGE = "ghcr.io/craftkit/craftkit"
SERVICES = ["gateway", "status", "enqueue", "render-worker", "webhooks"]
METRICS_PORT = 9090
"""Every service's /metrics (METRICS_LISTEN), a container port named `metrics`."""


def kustomize(directory: str) -> list[dict]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: the manifests cannot be rendered here "
                    "(kubectl >= 1.27 with its built-in kustomize is needed)")
    result = subprocess.run([kubectl, "kustomize", str(DEPLOY / directory)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"kubectl kustomize {directory} failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict]]:
    return {directory: kustomize(directory) for directory in ALL}


def of_kind(objects: list[dict], kind: str) -> list[dict]:
    return [o for o in objects if o["kind"] == kind]


def named(objects: list[dict], kind: str, name: str) -> dict:
    found = [o for o in of_kind(objects, kind) if o["metadata"]["name"] == name]
    assert found, f"no {kind} {name}"
    return found[0]


def pod_templates(objects: list[dict]) -> list[tuple[str, dict]]:
    """(kind/name, pod template) of every workload, a CronJob's Jobs' included."""
    return [(f"{o['kind']}/{o['metadata']['name']}",
             o["spec"]["jobTemplate"]["spec"]["template"] if o["kind"] == "CronJob"
             else o["spec"]["template"])
            for o in objects if o["kind"] in WORKLOADS]


def containers(pod: dict) -> list[dict]:
    return [*pod["spec"].get("initContainers", []), *pod["spec"]["containers"]]


def config(objects: list[dict]) -> dict[str, str]:
    maps = [o for o in of_kind(objects, "ConfigMap")
            if o["metadata"]["name"].startswith("craftkit-config")]
    assert len(maps) == 1
    return maps[0]["data"]


def environment(objects: list[dict], deployment: str) -> dict[str, str]:
    """What the Deployment's main container sees: the shared config plus its literal env
    (values from Secrets are stood in for by a placeholder)."""
    env = dict(config(objects))
    container = named(objects, "Deployment", deployment)["spec"]["template"]["spec"]["containers"][0]
    env.update({e["name"]: e.get("value", "from-a-secret") for e in container.get("env", [])})
    return env


def selects(selector: dict, labels: dict) -> bool:
    """Whether a label selector (matchLabels, matchExpressions In/Exists) selects these labels."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        value = labels.get(expression["key"])
        if expression["operator"] == "In" and value not in expression["values"]:
            return False
        if expression["operator"] == "Exists" and value is None:
            return False
        if expression["operator"] in ("NotIn", "DoesNotExist"):
            raise AssertionError(f"unexpected selector operator {expression['operator']}")
    return True


def replicas(objects: list[dict], deployment: dict) -> int:
    """The least number of pods: an HPA's or a KEDA ScaledObject's minimum, else replicas."""
    name = deployment["metadata"]["name"]
    for hpa in of_kind(objects, "HorizontalPodAutoscaler"):
        if hpa["spec"]["scaleTargetRef"]["name"] == name:
            return hpa["spec"].get("minReplicas", 1)
    for scaled in of_kind(objects, "ScaledObject"):
        if scaled["spec"]["scaleTargetRef"]["name"] == name:
            return scaled["spec"].get("minReplicaCount", 0)
    return deployment["spec"].get("replicas", 1)


def pre_stop_seconds(container: dict) -> int:
    return container.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)


# --- rendering and schemas ---------------------------------------------------------------------


@pytest.mark.parametrize("directory", ALL)
def test_renders_and_validates_strictly(rendered, directory):
    skipped = set()
    for obj in rendered[directory]:
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            skipped.add((obj["apiVersion"].split("/")[0], obj["kind"]))
        except jsonschema.ValidationError as exc:
            pytest.fail(f"{directory}: {obj['kind']}/{obj['metadata']['name']}: "
                        f"{'.'.join(map(str, exc.path))}: {exc.message}")
    # Only operators' kinds may go unchecked: a misspelt built-in kind must not slip through.
    assert skipped <= CUSTOM_KINDS, f"no schema for {skipped - CUSTOM_KINDS}"


@pytest.mark.parametrize("directory", ALL)
def test_everything_is_in_the_craftkit_namespace(rendered, directory):
    cluster_scoped = {"Namespace", "ClusterIssuer"}
    for obj in rendered[directory]:
        if obj["kind"] not in cluster_scoped:
            assert obj["metadata"].get("namespace") == "craftkit", obj["metadata"]["name"]


# --- pods ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("directory", ALL)
def test_every_container_runs_unprivileged_on_a_read_only_root(rendered, directory):
    for name, pod in pod_templates(rendered[directory]):
        security = pod["spec"]["securityContext"]
        assert security["runAsNonRoot"] is True and security["runAsUser"] != 0, name
        assert security["seccompProfile"]["type"] == "RuntimeDefault", name
        for container in containers(pod):
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, (name, container["name"])
            assert context["allowPrivilegeEscalation"] is False, (name, container["name"])
            assert context["capabilities"]["drop"] == ["ALL"], (name, container["name"])
            assert context.get("runAsUser", security["runAsUser"]) != 0


@pytest.mark.parametrize("directory", ALL)
def test_every_container_has_requests_and_a_memory_limit(rendered, directory):
    for name, pod in pod_templates(rendered[directory]):
        for container in containers(pod):
            resources = container.get("resources", {})
            assert {"cpu", "memory"} <= set(resources.get("requests", {})), (name, container["name"])
            assert "memory" in resources.get("limits", {}), (name, container["name"])


@pytest.mark.parametrize("directory", ALL)
def test_every_server_has_readiness_and_liveness_probes(rendered, directory):
    for obj in rendered[directory]:
        if obj["kind"] in ("Deployment", "StatefulSet"):
            for container in obj["spec"]["template"]["spec"]["containers"]:
                assert "readinessProbe" in container, obj["metadata"]["name"]
                assert "livenessProbe" in container, obj["metadata"]["name"]


@pytest.mark.parametrize("directory", ALL)
def test_every_image_is_pinned(rendered, directory):
    for name, pod in pod_templates(rendered[directory]):
        for container in containers(pod):
            image = container["image"]
            tag = image.rsplit("/", 1)[-1].partition(":")[2]
            assert "@sha256:" in image or (tag and tag != "latest"), (name, image)


@pytest.mark.parametrize("directory", APPS)
def test_one_release_everywhere_and_the_migration_job_named_after_it(rendered, directory):
    objects = rendered[directory]
    images = {c["image"] for _, pod in pod_templates(objects) for c in containers(pod)}
    assert len(images) == 1, images
    release = images.pop()
    assert release.startswith(IMAGE + ":")
    version = release.partition(":")[2]
    jobs = [o["metadata"]["name"] for o in of_kind(objects, "Job")]
    # A Job's template cannot change: a new release must be a new Job.
    assert jobs == [f"craftkit-migrate-{version.replace('.', '-')}"]


@pytest.mark.parametrize("directory", APPS)
def test_schema_is_migrated_before_any_database_service_starts(rendered, directory):
    objects = rendered[directory]
    migrate = of_kind(objects, "Job")[0]["spec"]["template"]["spec"]["containers"][0]["command"]
    assert migrate == ["python", "-m", "craftkit.db", "migrate"]
    for deployment in of_kind(objects, "Deployment"):
        env = deployment["spec"]["template"]["spec"]["containers"][0].get("env", [])
        if any(e["name"] == "DATABASE_URL" for e in env):
            init = deployment["spec"]["template"]["spec"].get("initContainers", [])
            assert [c["command"] for c in init] == [migrate], deployment["metadata"]["name"]


@pytest.mark.parametrize("directory", ALL)
def test_no_pod_gets_a_kubernetes_api_token(rendered, directory):
    objects = rendered[directory]
    for name, pod in pod_templates(objects):
        assert pod["spec"]["automountServiceAccountToken"] is False, name
    for account in of_kind(objects, "ServiceAccount"):
        assert account["automountServiceAccountToken"] is False


@pytest.mark.parametrize("directory", APPS)
def test_every_multi_replica_deployment_has_a_disruption_budget(rendered, directory):
    objects = rendered[directory]
    budgets = of_kind(objects, "PodDisruptionBudget")
    for deployment in of_kind(objects, "Deployment"):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        if replicas(objects, deployment) > 1 or directory.endswith("production"):
            assert any(selects(b["spec"]["selector"], labels) for b in budgets), \
                deployment["metadata"]["name"]
        spread = deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
        assert {c["topologyKey"] for c in spread} == {"kubernetes.io/hostname",
                                                       "topology.kubernetes.io/zone"}


def test_production_runs_every_service_on_several_pods(rendered):
    objects = rendered["overlays/production"]
    for deployment in of_kind(objects, "Deployment"):
        assert replicas(objects, deployment) >= 2, deployment["metadata"]["name"]


# --- network policies ---------------------------------------------------------------------------


@pytest.mark.parametrize("directory", APPS)
def test_every_pod_is_denied_by_default_and_opened_by_its_own_policy(rendered, directory):
    objects = rendered[directory]
    policies = of_kind(objects, "NetworkPolicy")
    deny = named(objects, "NetworkPolicy", "default-deny")["spec"]
    assert set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny and "egress" not in deny
    for name, pod in pod_templates(objects):
        labels = pod["metadata"]["labels"]
        assert selects(deny["podSelector"], labels), f"{name} is not under default-deny"
        own = [p for p in policies if p["metadata"]["name"] not in ("default-deny", "dns")
               and selects(p["spec"]["podSelector"], labels)]
        assert own, f"no NetworkPolicy opens a path for {name}"


def test_backing_pods_fall_under_the_default_deny_and_have_their_own_policy(rendered):
    deny = named(rendered["overlays/production"], "NetworkPolicy", "default-deny")["spec"]
    policies = of_kind(rendered["backing"], "NetworkPolicy")
    for name, pod in pod_templates(rendered["backing"]):
        labels = pod["metadata"]["labels"]
        assert selects(deny["podSelector"], labels), f"{name} is not under default-deny"
        assert any(selects(p["spec"]["podSelector"], labels) for p in policies), name


def test_only_the_gateway_is_reachable_from_outside_and_webhooks_never_reach_private_ranges(
        rendered):
    objects = rendered["overlays/production"]
    for policy in of_kind(objects, "NetworkPolicy"):
        for rule in policy["spec"].get("ingress", []):
            for peer in rule.get("from", []):
                if "namespaceSelector" in peer:
                    # The ingress controller to the gateway's API; Prometheus to metrics only.
                    assert policy["metadata"]["name"] in ("gateway", "metrics-scrape")
                    if policy["metadata"]["name"] == "metrics-scrape":
                        assert rule["ports"] == [{"protocol": "TCP", "port": METRICS_PORT}]
                        assert peer["podSelector"]  # Prometheus's pods, not the whole namespace
                assert "ipBlock" not in peer
    webhooks = named(objects, "NetworkPolicy", "webhooks")["spec"]
    blocks = [peer["ipBlock"] for rule in webhooks["egress"] for peer in rule["to"]]
    for address in ["10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "127.0.0.1",
                    "100.64.0.1", "fd00::1", "fe80::1", "::1"]:
        assert not any(allowed(address, block) for block in blocks), address
    assert any(allowed("93.184.216.34", block) for block in blocks)
    assert any(allowed("2606:2800:220:1::1", block) for block in blocks)
    # No other pod may reach an address outside the cluster.
    for policy in of_kind(objects, "NetworkPolicy"):
        if policy["metadata"]["name"] != "webhooks":
            for rule in policy["spec"].get("egress", []):
                assert all("ipBlock" not in peer for peer in rule.get("to", [])), policy


def allowed(address: str, block: dict) -> bool:
    ip = ipaddress.ip_address(address)
    network = ipaddress.ip_network(block["cidr"])
    if ip.version != network.version or ip not in network:
        return False
    return not any(ip in ipaddress.ip_network(e) for e in block.get("except", [])
                   if ipaddress.ip_network(e).version == ip.version)


@pytest.mark.parametrize("directory", APPS)
def test_policies_open_each_grpc_port_the_callers_use(rendered, directory):
    objects = rendered[directory]
    env = config(objects)
    callers = {"STATUS_ADDRESS": ["gateway", "render-worker", "admin-console"],
               "ENQUEUE_ADDRESS": ["gateway"],
               "WEBHOOKS_ADDRESS": ["gateway"]}
    for setting, apps in callers.items():
        server, port = re.fullmatch(r"dns:///([a-z-]+)\.craftkit\.svc\.cluster\.local:(\d+)",
                                    env[setting]).groups()
        server_policy = named(objects, "NetworkPolicy", server)["spec"]
        for app in apps:
            assert any(p["port"] == int(port) and any(selects(peer.get("podSelector", {}), {"app": app})
                                                      and "namespaceSelector" not in peer
                                                      for peer in rule["from"])
                       for rule in server_policy["ingress"] for p in rule["ports"]), (server, app)
            caller = named(objects, "NetworkPolicy", app)["spec"]
            assert any(p["port"] == int(port) and any(selects(peer.get("podSelector", {}),
                                                              {"app": server}) for peer in rule["to"])
                       for rule in caller["egress"] for p in rule["ports"]), (app, server)


DNS, PG, KAFKA = ("kube-system/k8s-app=kube-dns:53", "cnpg.io/cluster=craftkit-db:5432",
                  ["strimzi.io/cluster=craftkit:9092", "strimzi.io/cluster=craftkit:9093"])
# README "Network paths", as peer:port per pod (backing's MinIO and its setup Job included).
PROMETHEUS = "monitoring/app.kubernetes.io/name=prometheus:9090"
DOCUMENTED_INGRESS = {
    "gateway": ["ingress-nginx/*:8080", PROMETHEUS],
    "status": ["app=gateway:7051", "app=render-worker:7051", "app=admin-console:7051", PROMETHEUS],
    "enqueue": ["app=gateway:7052", PROMETHEUS],
    "webhooks": ["app=gateway:7054", PROMETHEUS],
    "render-worker": [PROMETHEUS], "admin-console": [], "craftkit-migrate": [], "s3-setup": [],
    "minio": ["app=render-worker:9000", "app=gateway:9000", "app=status:9000", "app=s3-setup:9000",
              "ingress-nginx/*:9000"],
}
DOCUMENTED_EGRESS = {
    "gateway": [DNS, "app=status:7051", "app=enqueue:7052", "app=webhooks:7054",
                "app=minio:9000"],
    "status": [DNS, PG, *KAFKA, "app=minio:9000"],
    "enqueue": [DNS, PG, *KAFKA],
    "webhooks": [DNS, PG, *KAFKA, "public addresses:any"],
    "render-worker": [DNS, *KAFKA, "app=status:7051", "app=minio:9000"],
    "admin-console": [DNS, "app=status:7051"],
    "craftkit-migrate": [DNS, PG],
    "s3-setup": [DNS, "app=minio:9000"],
    "minio": [DNS],
}


def peer_name(peer: dict) -> str:
    """namespace/labels of a policy peer ("*": every pod), or "public addresses" (an ipBlock:
    test_only_the_gateway_is_reachable_... checks what it excludes)."""
    if "ipBlock" in peer:
        return "public addresses"
    namespace = peer.get("namespaceSelector", {}).get("matchLabels", {}).get(
        "kubernetes.io/metadata.name")
    labels = ",".join(f"{k}={v}" for k, v in
                      sorted(peer.get("podSelector", {}).get("matchLabels", {}).items()))
    return (f"{namespace}/" if namespace else "") + (labels or "*")


def network_paths(objects: list[dict], direction: str) -> dict[str, list[str]]:
    """app -> every peer:port the NetworkPolicies selecting its pods open in `direction` (a rule
    without peers or ports shows as "*" or ":any", so an open rule cannot hide)."""
    rules, peers = ("egress", "to") if direction == "Egress" else ("ingress", "from")
    paths = {}
    for _, pod in pod_templates(objects):
        labels = pod["metadata"]["labels"]
        opened = set()
        for policy in of_kind(objects, "NetworkPolicy"):
            spec = policy["spec"]
            if direction in spec["policyTypes"] and selects(spec["podSelector"], labels):
                for rule in spec.get(rules, []):
                    opened |= {f"{peer_name(peer)}:{port['port']}"
                               for peer in rule.get(peers, [{}])
                               for port in rule.get("ports", [{"port": "any"}])}
        paths[labels["app"]] = sorted(opened)
    return paths


@pytest.mark.parametrize("directory", APPS)
def test_network_paths_are_exactly_the_documented_ones(rendered, directory):
    """Least privilege both ways: a policy that lets a pod reach (or be reached by) anything the
    README does not list fails here, not only one that forgets a path."""
    objects = rendered[directory] + rendered["backing"]
    assert network_paths(objects, "Ingress") == {
        app: sorted(peers) for app, peers in DOCUMENTED_INGRESS.items()}
    assert network_paths(objects, "Egress") == {
        app: sorted(peers) for app, peers in DOCUMENTED_EGRESS.items()}


# --- services, addresses, scaling ----------------------------------------------------------------


@pytest.mark.parametrize("directory", APPS)
def test_grpc_addresses_name_headless_services_for_client_balancing(rendered, directory):
    objects = rendered[directory]
    env = config(objects)
    for setting in ("STATUS_ADDRESS", "ENQUEUE_ADDRESS", "WEBHOOKS_ADDRESS"):
        name, port = re.fullmatch(r"dns:///([a-z-]+)\.craftkit\.svc\.cluster\.local:(\d+)",
                                  env[setting]).groups()
        svc = named(objects, "Service", name)["spec"]
        assert svc["clusterIP"] == "None", name
        assert [p["port"] for p in svc["ports"]] == [int(port)]
        listen = env[f"{name.upper()}_LISTEN"]
        assert listen == f"0.0.0.0:{port}"


@pytest.mark.parametrize("directory", APPS)
def test_gateway_is_served_over_tls_by_the_ingress(rendered, directory):
    ingress = named(rendered[directory], "Ingress", "gateway")
    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"]
    hosts = {rule["host"] for rule in ingress["spec"]["rules"]}
    assert hosts and hosts <= {h for tls in ingress["spec"]["tls"] for h in tls["hosts"]}
    assert config(rendered[directory])["PUBLIC_BASE_URL"] in {f"https://{h}" for h in hosts}


@pytest.mark.parametrize("directory", APPS)
def test_workers_scale_on_their_groups_lag_up_to_one_per_partition(rendered, directory, monkeypatch):
    from services.render_worker.settings import Settings as WorkerSettings

    objects = rendered[directory]
    for key, value in environment(objects, "render-worker").items():
        monkeypatch.setenv(key, value)
    worker = WorkerSettings.from_env()
    scaled = named(objects, "ScaledObject", "render-worker")["spec"]
    trigger = scaled["triggers"][0]
    assert trigger["type"] == "kafka"
    assert trigger["metadata"]["consumerGroup"] == worker.group
    assert trigger["metadata"]["topic"] == worker.kafka.jobs_topic
    assert trigger["metadata"]["bootstrapServers"] == worker.kafka.bootstrap_servers
    assert 1 <= scaled["minReplicaCount"] <= scaled["maxReplicaCount"] <= worker.kafka.partitions
    topic = named(rendered["backing"], "KafkaTopic", worker.kafka.jobs_topic)["spec"]
    assert scaled["maxReplicaCount"] <= topic["partitions"]
    assert "replicas" not in named(objects, "Deployment", "render-worker")["spec"]


def test_production_kafka_is_tls_and_scram_for_services_and_keda(rendered):
    objects = rendered["overlays/production"]
    env = config(objects)
    assert env["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert env["KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    kafka = named(rendered["backing"], "Kafka", "craftkit")["spec"]["kafka"]
    listener = next(li for li in kafka["listeners"]
                    if env["KAFKA_BOOTSTRAP_SERVERS"].endswith(f":{li['port']}"))
    assert listener["tls"] is True and listener["authentication"]["type"] == "scram-sha-512"
    user = named(rendered["backing"], "KafkaUser", env["KAFKA_SASL_USERNAME"])
    assert user["spec"]["authentication"]["type"] == "scram-sha-512"
    for deployment in ("status", "enqueue", "webhooks", "render-worker"):
        pod = named(objects, "Deployment", deployment)["spec"]["template"]["spec"]
        env_refs = {e["name"]: e.get("valueFrom", {}).get("secretKeyRef")
                    for e in pod["containers"][0]["env"]}
        assert env_refs["KAFKA_SASL_PASSWORD"] == {"name": user["metadata"]["name"],
                                                   "key": "password"}
        mounts = {m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
        assert str(Path(env["KAFKA_SSL_CA_FILE"]).parent) in mounts
    auth = named(objects, "TriggerAuthentication", "craftkit-kafka")["spec"]["secretTargetRef"]
    assert {ref["parameter"] for ref in auth} == {"sasl", "tls", "username", "password", "ca"}
    generated = {s["metadata"]["name"]: s for s in of_kind(objects, "Secret")}
    keda = next(s for n, s in generated.items() if n.startswith("craftkit-keda-kafka-"))
    assert keda["data"]  # sasl, tls and the user name; the password stays in Strimzi's Secret
    trigger = named(objects, "ScaledObject", "render-worker")["spec"]["triggers"][0]
    assert trigger["authenticationRef"]["name"] == "craftkit-kafka"


def test_kafka_topics_are_declared_as_the_services_create_them(rendered):
    env = config(rendered["overlays/production"])
    topics = {t["metadata"]["name"]: t["spec"] for t in of_kind(rendered["backing"], "KafkaTopic")}
    assert set(topics) == {"render.jobs", "render.events"}
    configs = dict(item.split("=") for item in env["KAFKA_TOPIC_CONFIGS"].split(","))
    for spec in topics.values():
        assert spec["partitions"] == int(env["KAFKA_PARTITIONS"])
        assert spec["replicas"] == int(env["KAFKA_REPLICATION_FACTOR"])
        assert str(spec["config"]["min.insync.replicas"]) == configs["min.insync.replicas"]
        assert spec["config"]["min.insync.replicas"] < spec["replicas"]


# --- metrics and traces ---------------------------------------------------------------------------


@pytest.mark.parametrize("directory", APPS)
def test_every_service_serves_metrics_on_its_metrics_port(rendered, directory):
    objects = rendered[directory]
    assert config(objects)["METRICS_LISTEN"] == f"0.0.0.0:{METRICS_PORT}"
    for name in SERVICES:
        [container] = named(objects, "Deployment", name)["spec"]["template"]["spec"]["containers"]
        assert {"name": "metrics", "containerPort": METRICS_PORT} in container["ports"], name
        assert environment(objects, name)["METRICS_LISTEN"] == f"0.0.0.0:{METRICS_PORT}", name


def service_target_ports(objects: list[dict], service_name: str, port_ref) -> set:
    """The container ports (name and number) a Service's port (by name or number) leads to."""
    service = named(objects, "Service", service_name)["spec"]
    ports = [p for p in service["ports"] if port_ref in (p.get("name"), p["port"])]
    assert ports, (service_name, port_ref)
    reached = set()
    for port in ports:
        target = port.get("targetPort", port["port"])
        for _, pod in pod_templates(objects):
            if selects({"matchLabels": service["selector"]}, pod["metadata"]["labels"]):
                for container in pod["spec"]["containers"]:
                    for declared in container.get("ports", []):
                        if target in (declared.get("name"), declared["containerPort"]):
                            reached |= {declared.get("name"), declared["containerPort"]}
    return reached


@pytest.mark.parametrize("directory", APPS)
def test_no_ingress_or_service_reaches_a_metrics_port(rendered, directory):
    """The gateway's /metrics (request counts by route and status, rate-limited projects) is
    for Prometheus only: no Service lists a metrics port, so no Ingress can route to one, and
    the ingress controller's policy opens only the API port."""
    objects = rendered[directory] + rendered["backing"]
    for service in of_kind(objects, "Service"):
        for port in service["spec"]["ports"]:
            assert port.get("targetPort") not in ("metrics", METRICS_PORT), service["metadata"]
            assert port["port"] != METRICS_PORT, service["metadata"]["name"]
    for ingress in of_kind(objects, "Ingress"):
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                port = backend["port"].get("name", backend["port"].get("number"))
                reached = service_target_ports(objects, backend["name"], port)
                assert reached and not reached & {"metrics", METRICS_PORT}, ingress["metadata"]
    paths = network_paths(objects, "Ingress")
    for name in SERVICES:
        from_ingress_controller = [p for p in paths[name] if p.startswith("ingress-nginx/")]
        assert from_ingress_controller == (["ingress-nginx/*:8080"] if name == "gateway" else [])
        assert PROMETHEUS in paths[name], name


def test_the_tracing_component_sets_the_collector_and_opens_egress_to_it_only(tmp_path):
    """Without the component no service exports spans (OTEL_EXPORTER_OTLP_ENDPOINT unset) and
    none may reach a collector; with it, the five services may reach the collector's OTLP port
    and nothing more."""
    production = kustomize("overlays/production")
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" not in config(production)
    root = Path(os.path.relpath(DEPLOY, tmp_path))
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "namespace": "craftkit", "resources": [str(root / "overlays/production")],
        "components": [str(root / "components/tracing")]}))
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: the manifests cannot be rendered here")
    result = subprocess.run([kubectl, "kustomize", str(tmp_path)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    traced = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    endpoint = config(traced)["OTEL_EXPORTER_OTLP_ENDPOINT"]
    assert re.fullmatch(r"http://otel-collector\.monitoring\.svc:4317", endpoint)
    collector = "monitoring/app.kubernetes.io/name=opentelemetry-collector:4317"
    before, after = network_paths(production, "Egress"), network_paths(traced, "Egress")
    for app in after:
        expected = sorted({*before[app], collector}) if app in SERVICES else before[app]
        assert after[app] == expected, app
    for obj in traced:
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            pass


# --- shutdown -----------------------------------------------------------------------------------


@pytest.mark.parametrize("directory", APPS)
def test_grace_periods_cover_the_longest_waits_in_the_code(rendered, directory, monkeypatch):
    from services.gateway.settings import Settings as GatewaySettings
    from services.render_worker.settings import Settings as WorkerSettings

    objects = rendered[directory]
    stop_grace = inspect.signature(service.run_until_terminated).parameters["grace"].default

    def pod(name):
        spec = named(objects, "Deployment", name)["spec"]["template"]["spec"]
        return spec, spec["containers"][0]

    for key, value in environment(objects, "gateway").items():
        monkeypatch.setenv(key, value)
    spec, container = pod("gateway")
    gateway = GatewaySettings.from_env()
    # Requests in progress at SIGTERM get GATEWAY_DRAIN_SECONDS, which must cover a sync wait.
    assert gateway.drain_seconds >= gateway.sync_timeout_seconds
    assert spec["terminationGracePeriodSeconds"] >= pre_stop_seconds(container) + gateway.drain_seconds

    for key, value in environment(objects, "render-worker").items():
        monkeypatch.setenv(key, value)
    worker = WorkerSettings.from_env()
    spec, container = pod("render-worker")
    # A render at its time limit finishes and is recorded within the worker's shutdown grace,
    # and the pod is not killed before that grace is over.
    assert worker.shutdown_grace_seconds >= worker.limits.seconds + 10
    assert spec["terminationGracePeriodSeconds"] >= (
        pre_stop_seconds(container) + stop_grace + worker.shutdown_grace_seconds)

    for name in ("status", "enqueue", "webhooks"):
        spec, container = pod(name)
        assert spec["terminationGracePeriodSeconds"] >= pre_stop_seconds(container) + stop_grace + 5


# --- secrets and credentials --------------------------------------------------------------------


def test_production_applies_no_secret_over_a_real_one(rendered):
    """Production expects its Secrets to exist; the one it generates is named by a hash of its
    content, so an apply can never replace a Secret someone made."""
    objects = rendered["overlays/production"]
    secrets = [s["metadata"]["name"] for s in of_kind(objects, "Secret")]
    assert all(re.fullmatch(r"craftkit-keda-kafka-[a-z0-9]{10}", n) for n in secrets), secrets


def test_dev_secrets_are_generated_with_hashed_names(rendered):
    secrets = [s["metadata"]["name"] for s in of_kind(rendered["overlays/dev"], "Secret")]
    assert len(secrets) == 4
    assert all(re.fullmatch(r"craftkit-[a-z0-9-]+-[a-z0-9]{10}", n) for n in secrets), secrets


TOKENS, DIGESTS = "craftkit-internal-tokens", "craftkit-internal-token-digests"
CALLERS = {"gateway": internal_auth.GATEWAY, "render-worker": internal_auth.RENDER_WORKER,
           "admin-console": internal_auth.ADMIN}
"""The pods that call gRPC servers, and the identity each calls as."""


def callers_of(server: str) -> set[str]:
    """The identities ALLOWED to call any method of the services `server` hosts (as its
    services/<server>/server.py registers them)."""
    source = (ROOT / "services" / server / "server.py").read_text()
    hosted = set(re.findall(r"add_(\w+)Servicer_to_server", source))
    return {identity for method, identities in internal_auth.ALLOWED.items()
            if method.split("/")[1].removeprefix("craftkit.v1.") in hosted
            for identity in identities}


def secret_volume(spec: dict, prefix: str) -> tuple[dict, dict] | None:
    """The volume of a Secret whose (generated) name starts with `prefix`, and its mount."""
    volumes = [v for v in spec["volumes"] if re.fullmatch(
        rf"{prefix}(-[a-z0-9]{{10}})?", v.get("secret", {}).get("secretName", ""))]
    if not volumes:
        return None
    mount = next(m for m in spec["containers"][0]["volumeMounts"]
                 if m["name"] == volumes[0]["name"])
    assert "subPath" not in mount  # a rotated Secret must reach the pod
    return volumes[0]["secret"], mount


@pytest.mark.parametrize("directory", APPS)
def test_internal_tokens_are_mounted_as_the_contract_says(rendered, directory):
    """Servers hold only the digests of the callers ALLOWED to call them, never a token (a
    leaked server file hands out no caller's identity); each caller only its own token."""
    objects = rendered[directory]
    for name in ("status", "enqueue", "webhooks"):
        spec = named(objects, "Deployment", name)["spec"]["template"]["spec"]
        env = {e["name"]: e.get("value") for e in spec["containers"][0]["env"]}
        assert secret_volume(spec, TOKENS) is None, f"{name} holds callers' raw tokens"
        digests, mount = secret_volume(spec, DIGESTS)
        assert sorted(item["key"] for item in digests["items"]) == sorted(callers_of(name)), name
        assert all(item["path"] == item["key"] for item in digests["items"])
        assert mount["mountPath"] == env["INTERNAL_TOKENS_DIR"] == \
            "/var/run/secrets/craftkit/internal-tokens"
    for app, identity in CALLERS.items():
        spec = pod_spec(objects, app)
        env = {e["name"]: e.get("value") for e in spec["containers"][0]["env"]}
        assert secret_volume(spec, DIGESTS) is None
        token, mount = secret_volume(spec, TOKENS)
        # Only its own identity's token: a caller cannot act as another one.
        assert token["items"] == [{"key": identity, "path": "token"}]
        assert f"{mount['mountPath']}/token" == env["INTERNAL_TOKEN_FILE"] == \
            "/var/run/secrets/craftkit/internal-token/token"


def pod_spec(objects: list[dict], app: str) -> dict:
    found = [pod["spec"] for _, pod in pod_templates(objects)
             if pod["metadata"]["labels"]["app"] == app]
    assert len(found) == 1, app
    return found[0]


def test_dev_digests_are_the_digests_of_the_dev_tokens(rendered):
    """What the servers accept is what the callers send: every digest line well-formed (a
    server would refuse to start otherwise) and the digest of the same key's token."""
    secrets = {re.sub(r"-[a-z0-9]{10}$", "", s["metadata"]["name"]): s["data"]
               for s in of_kind(rendered["overlays/dev"], "Secret")}
    tokens, digests = secrets[TOKENS], secrets[DIGESTS]
    assert set(tokens) == set(digests) == set(internal_auth.IDENTITIES)
    for identity, encoded in digests.items():
        lines = base64.b64decode(encoded).decode().splitlines()
        assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", line) for line in lines), identity
        assert lines == [internal_auth.digest_line(base64.b64decode(tokens[identity]).decode())]


# Which pod may read which Secret (key, or "*" for all of it), production with its backing
# services; dev is the same less Kafka's and gRPC TLS's. "Only its own key" is the point for the
# internal tokens: the gateway and the workers cannot act as another caller, and no pod but the
# admin console (run by hand, README) holds the admin token; servers hold digests only.
SECRETS = {
    "gateway": ["craftkit-grpc-tls:ca.crt", "craftkit-internal-tokens:gateway"],
    "render-worker": ["craftkit-cluster-ca-cert:ca.crt", "craftkit-grpc-tls:ca.crt",
                      "craftkit-internal-tokens:render-worker", "craftkit-s3:*",
                      "craftkit-services:password"],
    "admin-console": ["craftkit-grpc-tls:ca.crt", "craftkit-internal-tokens:admin"],
    **{server: sorted(["craftkit-cluster-ca-cert:ca.crt", "craftkit-db-app:uri",
                       "craftkit-grpc-tls:*", "craftkit-services:password", *extra,
                       *[f"craftkit-internal-token-digests:{key}" for key in keys]])
       for server, keys, extra in (
           ("status", ["admin", "gateway", "render-worker"], ["craftkit-s3:*"]),  # presigning
           ("enqueue", ["admin", "gateway"], []),
           ("webhooks", ["admin", "gateway"], ["craftkit-s3:*"]))},
    "craftkit-migrate": ["craftkit-db-app:uri"],
    "minio": ["craftkit-minio-root:*"],
    "s3-setup": ["craftkit-minio-root:*", "craftkit-s3:*"],
}
PRODUCTION_ONLY = ("craftkit-cluster-ca-cert", "craftkit-grpc-tls", "craftkit-services")


def secrets_read(pod: dict) -> list[str]:
    """secret:key (or secret:*) of every way the pod reads a Secret: volumes (also projected),
    envFrom and env. Generated names lose their hash suffix."""
    spec, read = pod["spec"], set()
    for volume in spec.get("volumes", []):
        for source in [volume, *volume.get("projected", {}).get("sources", [])]:
            if "secret" in source:
                secret = source["secret"]
                keys = sorted(item["key"] for item in secret.get("items", [])) or ["*"]
                read |= {f"{secret.get('secretName') or secret['name']}:{key}" for key in keys}
    for container in containers(pod):
        read |= {f"{e['secretRef']['name']}:*" for e in container.get("envFrom", [])
                 if "secretRef" in e}
        read |= {f"{ref['name']}:{ref['key']}" for e in container.get("env", [])
                 if (ref := e.get("valueFrom", {}).get("secretKeyRef"))}
    return sorted(re.sub(r"-[a-z0-9]{10}:", ":", entry) for entry in read)


@pytest.mark.parametrize("directory", APPS)
def test_every_pod_reads_only_the_secrets_it_needs(rendered, directory):
    objects = rendered[directory] + rendered["backing"]
    expected = {app: [s for s in read if directory.endswith("production")
                      or not s.startswith(PRODUCTION_ONLY)] for app, read in SECRETS.items()}
    assert {pod["metadata"]["labels"]["app"]: secrets_read(pod)
            for _, pod in pod_templates(objects)} == expected


def test_production_grpc_is_tls_with_plaintext_health_only_for_probes(rendered):
    objects = rendered["overlays/production"]
    env = config(objects)
    certificate = named(objects, "Certificate", "craftkit-grpc-tls")["spec"]
    assert certificate["secretName"] == "craftkit-grpc-tls"
    for setting in ("STATUS_ADDRESS", "ENQUEUE_ADDRESS", "WEBHOOKS_ADDRESS"):
        host = env[setting].removeprefix("dns:///").rpartition(":")[0]
        assert host in certificate["dnsNames"]
    for name in ("status", "enqueue", "webhooks"):
        container = named(objects, "Deployment", name)["spec"]["template"]["spec"]["containers"][0]
        values = {e["name"]: e.get("value") for e in container["env"]}
        health_port = int(values["GRPC_HEALTH_LISTEN"].rpartition(":")[2])
        assert values["GRPC_TLS_CERT_FILE"].startswith("/var/run/secrets/craftkit/grpc-tls/")
        assert container["readinessProbe"]["grpc"]["port"] == health_port
        assert container["livenessProbe"]["grpc"] == {"port": health_port, "service": "liveness"}
    for name in ("gateway", "render-worker"):
        spec = named(objects, "Deployment", name)["spec"]["template"]["spec"]
        ca = next(v for v in spec["volumes"]
                  if v.get("secret", {}).get("secretName") == "craftkit-grpc-tls")
        assert ca["secret"]["items"] == [{"key": "ca.crt", "path": "ca.crt"}]  # never the key


# --- S3 ---------------------------------------------------------------------------------------------


def load_s3_setup():
    spec = importlib.util.spec_from_file_location("s3_setup", DEPLOY / "backing" / "s3_setup.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_public_bucket_policy_covers_exactly_where_workers_store_pdfs():
    s3_setup = load_s3_setup()
    key = renders.object_key("0190c0de-0000-7000-8000-000000000000", "invoice.pdf")
    assert key.startswith(s3_setup.PUBLIC_PREFIX)
    [statement] = s3_setup.public_read_policy("craftkit-renders")["Statement"]
    assert statement["Action"] == ["s3:GetObject"]  # no listing, no writing
    assert statement["Resource"] == ["arn:aws:s3:::craftkit-renders/renders/*"]
    rules = s3_setup.lifecycle().rules
    assert [r.expiration for r in rules] == [None]  # downloadUrl is permanent
    assert rules[0].abort_incomplete_multipart_upload.days_after_initiation == 1


def test_public_reads_reach_only_the_public_prefix(rendered):
    ingress = named(rendered["backing"], "Ingress", "minio-public")["spec"]
    paths = [p["path"] for rule in ingress["rules"] for p in rule["http"]["paths"]]
    env = config(rendered["overlays/production"])
    assert paths == [f"/{env['S3_BUCKET']}/renders/"]
    assert env["S3_PUBLIC_BASE_URL"] == f"https://{ingress['rules'][0]['host']}/{env['S3_BUCKET']}"


@pytest.mark.parametrize("directory", APPS)
def test_status_and_webhooks_make_the_same_download_urls(rendered, directory, monkeypatch):
    """downloadUrl in GET /v1/renders/{id} (status) and in webhooks (webhooks) comes from the
    same settings, and both pods hold the S3 credentials presigned mode signs with."""
    from craftkit.config import Downloads
    objects = rendered[directory]
    settings = []
    for name in ("status", "webhooks"):
        for key in ("DOWNLOAD_URL_MODE", "DOWNLOAD_URL_TTL_SECONDS", "DOWNLOAD_URL_ENDPOINT",
                    "S3_PUBLIC_BASE_URL", "S3_ENDPOINT"):
            monkeypatch.delenv(key, raising=False)
        for key, value in environment(objects, name).items():
            monkeypatch.setenv(key, value)
        settings.append(Downloads.from_env())
        [container] = named(objects, "Deployment", name)["spec"]["template"]["spec"]["containers"]
        refs = [re.sub(r"-[a-z0-9]{10}$", "", e["secretRef"]["name"])
                for e in container["envFrom"] if "secretRef" in e]
        assert "craftkit-s3" in refs
    assert settings[0] == settings[1] and settings[0].mode == "public"
