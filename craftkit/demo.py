"""The demo project `make run` seeds: one API key and the sample templates, all through gRPC
(on a channel calling as admin: see Stack.channel)."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import grpc

from craftkit.v1 import projects_pb2, projects_pb2_grpc, templates_pb2, templates_pb2_grpc


def sample(name: str) -> dict:
    """A sample template: slug, name, defaultFilename, manifest, layout, example, and `assets`
    (asset name -> file under craftkit/samples/, uploaded before the version is added)."""
    return json.loads(resources.files("craftkit.samples").joinpath(f"{name}.json").read_text())


def sample_assets(name: str) -> dict[str, bytes]:
    """The images a sample's layout shows, by asset name (what render_pdf takes as `assets`)."""
    files = resources.files("craftkit.samples")
    return {asset: files.joinpath(path).read_bytes()
            for asset, path in sample(name).get("assets", {}).items()}


SAMPLES = ("invoice", "receipt", "certificate", "shipping-label", "report", "letter",
           "international")
INVOICE_EXAMPLE = {"customer": {"name": "Acme Corp"},
                   "items": [{"name": "Widget", "qty": 5, "price": 9.99}], "total": 49.95}
"""The seeds' (and the README's) example body, which the demo invoice must keep taking as it is:
short enough for the curl line `make run` prints. The sample's own `example` shows every field."""


def install_template(channel: grpc.Channel, project_id: str, spec: dict,
                     assets: dict[str, bytes] | None = None) -> None:
    """Creates the template, uploads its `assets` (the layout's images: lint wants them before
    the version) and publishes its first version, unless the template exists already."""
    stub = templates_pb2_grpc.TemplateServiceStub(channel)
    try:
        stub.CreateTemplate(templates_pb2.CreateTemplateRequest(
            project_id=project_id, slug=spec["slug"], name=spec["name"],
            default_filename=spec["defaultFilename"]), timeout=10)
    except grpc.RpcError as exc:
        if exc.code() != grpc.StatusCode.ALREADY_EXISTS:
            raise
        return
    for name, data in (assets or {}).items():
        stub.PutAsset(templates_pb2.PutAssetRequest(
            project_id=project_id, slug=spec["slug"], name=name, data=data), timeout=10)
    version = stub.AddVersion(templates_pb2.AddVersionRequest(
        project_id=project_id, slug=spec["slug"], manifest_json=json.dumps(spec["manifest"]),
        layout_json=json.dumps(spec["layout"])), timeout=10)
    stub.PublishVersion(templates_pb2.PublishVersionRequest(
        project_id=project_id, slug=spec["slug"], number=version.number), timeout=10)


def create_project(channel: grpc.Channel, name: str) -> tuple[str, str]:
    """(project id, API key) of a new project with every sample template published."""
    created = projects_pb2_grpc.ProjectServiceStub(channel).CreateProject(
        projects_pb2.CreateProjectRequest(name=name), timeout=10)
    for sample_name in SAMPLES:
        install_template(channel, created.project.id, sample(sample_name),
                         sample_assets(sample_name))
    return created.project.id, created.api_key


def ensure_demo(channel: grpc.Channel, env_file: Path) -> str:
    """The demo project's key: the one in env_file if it still works, else a new project's."""
    import hashlib

    if env_file.exists():
        values = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
        key = values.get("CRAFTKIT_API_KEY", "")
        try:
            project = projects_pb2_grpc.ProjectServiceStub(channel).Authenticate(
                projects_pb2.AuthenticateRequest(
                    key_sha256=hashlib.sha256(key.encode()).hexdigest()), timeout=10)
        except grpc.RpcError:
            pass
        else:
            for name in SAMPLES:
                install_template(channel, project.id, sample(name), sample_assets(name))
            return key
    return create_project(channel, "Demo")[1]
