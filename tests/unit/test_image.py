"""The container image, checked without Docker: the locks agree with pyproject.toml (drift), the
Dockerfile installs only hash-checked files and caches its dependencies' layer, runs as a non-root
user from a pinned base, and .dockerignore keeps the context to what the Dockerfile copies."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from importlib import metadata, util
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SOURCE = ("pyproject.toml", "craftkit", "services", ".")
"""What a COPY of the project's source names: it must come after the dependencies' layer."""


# --- the locks ------------------------------------------------------------------------------

@dataclass
class Locked:
    version: str
    requirement: Requirement
    hashes: list[str] = field(default_factory=list)
    via: list[str] = field(default_factory=list)


def read_lock(name: str) -> dict[str, Locked]:
    """A `uv pip compile --generate-hashes` file: name -> pin, hashes and `# via` annotations."""
    entries: dict[str, Locked] = {}
    current = None
    in_via = False
    for line in (ROOT / name).read_text().splitlines():
        text = line.strip()
        if not text or (text.startswith("#") and current is None):
            continue
        if text.startswith("--hash="):
            current.hashes.append(text.removeprefix("--hash=").rstrip(" \\"))
        elif text.startswith("# via"):
            rest = text.removeprefix("# via").strip()
            current.via += [rest] if rest else []
            in_via = not rest
        elif text.startswith("#") and in_via:
            current.via.append(text.lstrip("# ").strip())
        else:
            requirement = Requirement(text.rstrip(" \\"))
            (pin,) = requirement.specifier
            assert pin.operator == "==", f"{name}: {text} is not an exact pin"
            current = Locked(pin.version, requirement)
            entries[canonicalize_name(requirement.name)] = current
            in_via = False
    return entries


def pins(requirements: list[str]) -> dict[str, str]:
    """name -> exact version of pyproject.toml requirements (which pin exactly: `==`)."""
    result = {}
    for text in requirements:
        requirement = Requirement(text)
        (pin,) = requirement.specifier
        assert pin.operator == "==", f"pyproject.toml: {text} is not pinned exactly"
        result[canonicalize_name(requirement.name)] = pin.version
    return result


RUNTIME = pins(PYPROJECT["project"]["dependencies"])
LOCK = read_lock("requirements.lock")
FROM_PYPROJECT = "craftkit (pyproject.toml)"


def test_every_runtime_dependency_is_locked_at_its_pyproject_version():
    drift = {name: (version, LOCK[name].version if name in LOCK else "missing")
             for name, version in RUNTIME.items()
             if name not in LOCK or LOCK[name].version != version}
    assert not drift, f"pyproject.toml and requirements.lock disagree {drift}: run `make lock`"


def test_the_lock_names_pyproject_as_the_source_of_exactly_its_dependencies():
    direct = {name for name, entry in LOCK.items() if FROM_PYPROJECT in entry.via}
    assert direct == set(RUNTIME), "requirements.lock is stale: run `make lock`"
    for name, entry in LOCK.items():
        unknown = [parent for parent in entry.via
                   if parent != FROM_PYPROJECT and canonicalize_name(parent) not in LOCK]
        assert entry.via and not unknown, f"{name} is locked for nothing in the lock: `make lock`"


def test_the_lock_holds_no_embedded_server_or_dev_tool():
    extras = PYPROJECT["project"]["optional-dependencies"]
    for extra in ("embedded", "dev"):
        only_there = set(pins(extras[extra])) - set(RUNTIME)
        assert not only_there & set(LOCK), f"the image would install the {extra} extra"


def test_every_locked_package_is_pinned_by_sha256_hashes():
    for name in ("requirements.lock", "requirements-build.lock"):
        for package, entry in read_lock(name).items():
            assert entry.hashes and all(re.fullmatch(r"sha256:[0-9a-f]{64}", h)
                                        for h in entry.hashes), f"{name}: {package} has no hash"


def test_the_locked_packages_need_nothing_the_lock_lacks():
    """Read from the installed metadata of each locked package this venv has at the locked version
    (pip's --require-hashes in the image build would refuse a missing one, later and slower)."""
    environment = {**default_environment(), "extra": ""}
    checked = 0
    for name, entry in LOCK.items():
        try:
            installed = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        if installed.version != entry.version:
            continue
        checked += 1
        for text in installed.requires or []:
            needed = Requirement(text)
            if needed.marker is None or needed.marker.evaluate(environment):
                assert canonicalize_name(needed.name) in LOCK, f"{name} needs {text}: `make lock`"
    assert checked >= len(RUNTIME), "the venv does not hold the locked versions: reinstall it"


def test_the_build_lock_pins_the_build_backend_pyproject_names():
    build = {name: entry.version for name, entry in read_lock("requirements-build.lock").items()}
    assert build == pins(PYPROJECT["build-system"]["requires"]), "run `make lock`"


# --- the Dockerfile ---------------------------------------------------------------------------

@dataclass
class Instruction:
    keyword: str
    arguments: str


def instructions() -> list[Instruction]:
    """The Dockerfile's instructions, continuation lines joined, comments left out."""
    text = re.sub(r"\\\n(\s*#[^\n]*\n)*", " ", (ROOT / "Dockerfile").read_text())
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, arguments = line.partition(" ")
            result.append(Instruction(keyword.upper(), " ".join(arguments.split())))
    return result


def stages() -> list[list[Instruction]]:
    """Each stage's instructions, its FROM first."""
    result: list[list[Instruction]] = []
    for instruction in instructions():
        if instruction.keyword == "FROM":
            result.append([])
        if result:
            result[-1].append(instruction)
    return result


def copies_source(instruction: Instruction) -> bool:
    if instruction.keyword != "COPY" or "--from=" in instruction.arguments:
        return False
    sources = [a for a in instruction.arguments.split() if not a.startswith("--")][:-1]
    return any(source.rstrip("/") in SOURCE for source in sources)


def test_the_base_image_is_an_exact_release_and_every_stage_uses_it():
    args = {i.arguments.split("=", 1)[0]: i.arguments.split("=", 1)[1]
            for i in instructions() if i.keyword == "ARG" and "=" in i.arguments}
    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-[a-z]+(@sha256:[0-9a-f]{64})?",
                        args["PYTHON_IMAGE"]), args["PYTHON_IMAGE"]
    for stage in stages():
        assert stage[0].arguments.split()[0] == "${PYTHON_IMAGE}", stage[0]


def test_pip_installs_only_hash_checked_files_or_the_wheel_built_here():
    installs = [i.arguments for i in instructions()
                if i.keyword == "RUN" and re.search(r"pip( --python \S+)? install", i.arguments)]
    assert installs
    for command in installs:
        locked = re.search(r"--require-hashes --only-binary=:all: -r \S+\.lock", command)
        own_wheel = "--no-deps --no-index" in command and "craftkit-*.whl" in command
        assert locked or own_wheel, command


def test_the_dependencies_layer_comes_before_any_source():
    for stage in stages():
        source_at = next((n for n, i in enumerate(stage) if copies_source(i)), len(stage))
        for instruction in stage[source_at:]:
            assert "requirements.lock" not in instruction.arguments, (
                f"{instruction}: a source change would reinstall every dependency")
    (deps,) = [s for s in stages() if "-r /tmp/requirements.lock" in str(s)]
    assert not any(copies_source(i) for i in deps)
    final = stages()[-1]
    venv_at = next(n for n, i in enumerate(final)
                   if i.keyword == "COPY" and "/opt/venv" in i.arguments)
    assert not any(copies_source(i) or "craftkit-*.whl" in i.arguments for i in final[:venv_at])


def test_the_image_runs_as_user_10001_and_installs_no_extras():
    final = stages()[-1]
    users = [n for n, i in enumerate(final) if i.keyword == "USER"]
    assert users and final[users[-1]].arguments == "10001:10001"
    assert all(i.keyword != "RUN" for i in final[users[-1]:]), "a RUN after USER runs as the user"
    assert "--uid 10001" in next(i.arguments for i in final if "useradd" in i.arguments)
    assert not re.search(r"\[(dev|embedded)", (ROOT / "Dockerfile").read_text())


def test_the_image_carries_oci_labels_with_the_project_version():
    labels = " ".join(i.arguments for i in stages()[-1] if i.keyword == "LABEL")
    for key in ("title", "description", "source", "version", "revision", "licenses"):
        assert f"org.opencontainers.image.{key}=" in labels
    version = next(i.arguments for i in stages()[-1] if i.arguments.startswith("VERSION="))
    assert version == f"VERSION={PYPROJECT['project']['version']}"


@pytest.mark.parametrize("module", re.findall(r"services\.\w+|craftkit\.db",
                                              (ROOT / "Dockerfile").read_text().split("ARG")[0]))
def test_every_command_the_image_documents_exists(module):
    runs = "__main__" if module.startswith("services.") else None
    spec = util.find_spec(f"{module}.{runs}" if runs else module)
    assert spec is not None and (runs or "def main(" in Path(spec.origin).read_text())


# --- .dockerignore ----------------------------------------------------------------------------

def ignore_rules() -> list[tuple[bool, re.Pattern]]:
    """(excludes, pattern) for each .dockerignore line, in order; the last match wins."""
    rules = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = line.removeprefix("!").strip("/")
        regex = "".join({"**/": "(.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}.get(part)
                        or re.escape(part) for part in re.split(r"(\*\*/|\*\*|\*|\?)", pattern))
        rules.append((not negated, re.compile(regex)))
    return rules


def ignored(path: str) -> bool:
    """Docker's rule: a pattern matching the path or one of its parent directories applies."""
    parts = path.split("/")
    candidates = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    verdict = False
    for excludes, pattern in ignore_rules():
        if any(pattern.fullmatch(candidate) for candidate in candidates):
            verdict = excludes
    return verdict


@pytest.mark.parametrize("path", [
    ".venv/lib/python3.11/site-packages/grpc/__init__.py", ".git/HEAD",
    ".craftkit/pgdata/PG_VERSION",
    ".craftkit/dev.env", "tests/unit/test_image.py", ".pytest_cache/v/cache/lastfailed",
    "craftkit/__pycache__/db.cpython-311.pyc", "services/gateway/__pycache__/app.cpython-311.pyc",
    "craftkit.egg-info/PKG-INFO", "build/lib/craftkit/db.py", "deploy/k8s/base/kustomization.yaml",
    "bench/__main__.py", "some-wheel-0.1-py3-none-any.whl",
])
def test_the_build_context_leaves_out(path):
    assert ignored(path)


def test_the_build_context_holds_everything_the_dockerfile_copies():
    copied = [source for i in instructions() if i.keyword == "COPY" and "--from=" not in i.arguments
              for source in i.arguments.split()[:-1]]
    files = [f for source in copied for f in
             ([ROOT / source] if (ROOT / source).is_file() else (ROOT / source).rglob("*.*"))
             if "__pycache__" not in f.parts]
    assert len(files) > 50
    left_out = [str(f.relative_to(ROOT)) for f in files if ignored(str(f.relative_to(ROOT)))]
    assert not left_out
