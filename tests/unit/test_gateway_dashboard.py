"""The dashboard's static files: shipped in the wheel, and never turning data into markup."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path

from services.gateway.dashboard import SECURITY_HEADERS, STATIC

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted(p for p in STATIC.rglob("*") if p.is_file())
SCRIPTS = [p for p in FILES if p.suffix == ".js"]


def globbed(name: str, pattern: str) -> bool:
    """As setuptools' glob matches: `*` stays within one directory."""
    return name.count("/") == pattern.count("/") and fnmatch.fnmatch(name, pattern)


def test_every_dashboard_file_is_in_the_package_data_the_image_installs():
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"]["services.gateway.dashboard"]
    names = [str(p.relative_to(STATIC.parent)) for p in FILES]
    missing = [name for name in names if not any(globbed(name, pattern) for pattern in patterns)]
    assert not missing, f"add them to [tool.setuptools.package-data] in pyproject.toml: {missing}"


def test_no_script_turns_a_string_into_markup_or_code():
    """Template names, lint messages and render errors come from strangers: text nodes only."""
    sinks = re.compile(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|"
                       r"new Function|setTimeout\(\s*[\"'`]|\.src\s*=(?!\s*URL\.createObjectURL)")
    found = [f"{p.name}:{n}: {line.strip()}" for p in SCRIPTS
             for n, line in enumerate(p.read_text().splitlines(), 1) if sinks.search(line)]
    assert not found, found


def test_the_page_loads_only_its_own_module_and_no_inline_script_or_style():
    html = (STATIC / "index.html").read_text()
    assert re.findall(r"<script[^>]*>", html) == ['<script type="module" src="js/app.js">']
    assert "style=" not in html and "<style" not in html and "http" not in html
    assert not [p.name for p in SCRIPTS if re.search(r"https?://(?!example\.com)\w", p.read_text())]


def test_every_module_an_import_names_exists():
    for script in SCRIPTS:
        for target in re.findall(r'from "(\.[^"]+)"', script.read_text()):
            assert (script.parent / target).resolve().is_file(), f"{script.name} imports {target}"


def test_the_policy_allows_nothing_from_another_origin():
    policy = SECURITY_HEADERS["content-security-policy"]
    assert "default-src 'none'" in policy and "'unsafe" not in policy and "http" not in policy
