"""The wheel: one import namespace, ontology and rules shipped, usable from a non-editable install."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

from .conftest import EXAMPLES, ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(out), str(ROOT)], check=True)
    [built] = out.glob("sortai-*.whl")
    return built


def test_wheel_has_one_namespace_and_ships_the_data(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/", 1)[0] for n in names}
    assert top == {"sortai", next(t for t in top if t.endswith(".dist-info"))}
    for needed in ("sortai/ontology/sortai.ttl", "sortai/ontology/context.jsonld", "sortai/ontology/catalog-v001.xml",
                   "sortai/ontology/sortai-catalog.ttl", "sortai/rules/shapes.ttl",
                   "sortai/rules/inference/40-diagnoses.ttl", "sortai/reasoner/engine.py", "sortai/api/__init__.py",
                   "sortai/api/routers/ui.py", "sortai/api/ui/templates/base.html", "sortai/api/ui/static/ui.js",
                   "sortai/api/ui/static/vendor/yasgui/yasgui.min.js",
                   "sortai/api/ui/static/vendor/yasgui/THIRD-PARTY-LICENSES.txt"):
        assert needed in names, needed


def test_non_editable_install_finds_its_files(wheel, tmp_path):
    """A fresh interpreter that sees only the wheel (plus the dependencies) runs a diagnosis."""
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site = Path(subprocess.check_output([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                        text=True).strip())
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(wheel)],
                   check=True)
    # The dependencies come from this environment's site-packages, added as a plain path: its .pth files
    # (among them the editable install's finder) are not processed.
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    where = subprocess.check_output([str(python), "-c", "import sortai.reasoner.resources as r; print(r.ontology_dir())"],
                                    text=True, cwd=tmp_path).strip()
    assert where.startswith(str(site)), where
    done = subprocess.run([str(python), "-m", "sortai.reasoner.cli", "diagnose", "-f", "json",
                           str(EXAMPLES / "disaggregated-h100-l4" / "description.yaml")],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert '"LatencyAsymmetryDrift"' in done.stdout
    # the service and its web page, templates and assets included
    code = ("from sortai.api.routers import ui; from sortai.api import server; "
            "print(ui.UI, 'vendor/yasgui/yasgui.min.js' in ui.STATIC, ui.templates.get_template('home.html').name)")
    page = subprocess.check_output([str(python), "-c", code], text=True, cwd=tmp_path).split()
    assert page[0].startswith(str(site)) and page[1:] == ["True", "home.html"], page
