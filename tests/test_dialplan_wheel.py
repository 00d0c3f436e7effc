"""``pip install .`` (a wheel, not the editable checkout) gives a working ``esl-apps build``.

The templates and the example YAML travel inside the wheel as ``esl_apps/_data/...`` (hatch
force-include in pyproject.toml); this builds the wheel, looks inside, installs it into a fresh
virtualenv and builds the example dialplan from a directory that is not the checkout.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from esl_apps.dialplan.render import known_templates

REPO = Path(__file__).resolve().parent.parent
GOLDEN = REPO / "tests" / "golden" / "dialplan"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO), "-w", str(out), "--no-deps", "-q"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        pytest.fail(f"pip wheel failed:\n{proc.stdout}\n{proc.stderr}")
    (path,) = out.glob("esl_apps-*.whl")
    return path


def test_wheel_contains_the_templates_and_the_example(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for template in known_templates():
        assert f"esl_apps/_data/dialplan_templates/{template}" in names
    for data in ("conf/pbx.yaml", "conf/dispositions.yaml", "ivr_flows/main.yaml"):
        assert f"esl_apps/_data/{data}" in names
    assert "esl_apps/dialplan/routing.py" in names


def test_installed_wheel_builds_the_example(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    # System site-packages supply the dependencies (no network); the wheel itself is installed
    # into the venv, whose site-packages come first on sys.path.
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, timeout=120
    )
    python = venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--no-deps", "--force-reinstall", "-q", str(wheel)],
        check=True,
        timeout=300,
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    where = subprocess.run(
        [str(python), "-c", "import esl_apps.resources as r; print(r.default_templates_dir())"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert where.startswith(str(venv)) and where.endswith("_data/dialplan_templates")

    out = tmp_path / "out"
    proc = subprocess.run(
        [str(venv / "bin" / "esl-apps"), "build", "--out", str(out)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    built = {str(p.relative_to(out)): p.read_text() for p in out.rglob("*.xml")}
    golden = {str(p.relative_to(GOLDEN)): p.read_text() for p in GOLDEN.rglob("*.xml")}
    assert built == golden
