"""Vendor the SPARQL editor (YASGUI) into the web page's static files, from the npm registry.

    python api/ui/vendor/update.py            # reinstall exactly what package-lock.json pins (npm ci)
    python api/ui/vendor/update.py --upgrade  # take the version package.json names, refresh the lock

Build-time only (needs Node.js and npm); the service never runs npm. It installs the package in a
temporary folder with install scripts off, copies the built bundle (``build/yasgui.min.js`` and
``build/yasgui.min.css``, which already include Yasqe, Yasr and their dependencies) to
``api/ui/static/vendor/yasgui/``, and writes next to it ``THIRD-PARTY-LICENSES.txt`` (the licence of every
package the install brought in, as each declares it) and ``VERSION``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGET = HERE.parent / "static" / "vendor" / "yasgui"
PACKAGE = "@zazuko/yasgui"
BUNDLE = ("yasgui.min.js", "yasgui.min.css")
LICENCE_FILES = ("LICENSE", "LICENSE.md", "LICENSE.txt", "LICENCE", "license", "license.md", "LICENSE-MIT",
                 "COPYING")
MIT = """Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
associated documentation files (the "Software"), to deal in the Software without restriction, including
without limitation the rights to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is furnished to do so, subject to the
following conditions:

The above copyright notice and this permission notice shall be included in all copies or substantial
portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT
LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO
EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER
IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE
USE OR OTHER DEALINGS IN THE SOFTWARE.
"""


def _npm(args: list[str], cwd: Path) -> None:
    subprocess.run(["npm", *args, "--ignore-scripts", "--no-audit", "--no-fund"], cwd=cwd, check=True)


def _person(value) -> str:
    if isinstance(value, dict):
        return " ".join(str(value[k]) for k in ("name", "email") if value.get(k))
    return str(value or "")


def licences(node_modules: Path) -> str:
    """One section per installed package: name, version, declared licence, and its licence file's text (or,
    for a package that ships none, the standard text of the licence it declares)."""
    sections = []
    for manifest in sorted(node_modules.glob("**/package.json")):
        package_dir = manifest.parent
        if package_dir.parent.name != "node_modules" and package_dir.parent.parent.name != "node_modules":
            continue  # a nested package.json inside a package (test fixtures, sub-entry points)
        data = json.loads(manifest.read_text(encoding="utf-8"))
        if "name" not in data or "version" not in data:
            continue
        declared = data.get("license") or data.get("licenses") or "not declared"
        head = [f"{data['name']} {data['version']}", f"License: {declared}"]
        if data.get("author"):
            head.append("Author: " + _person(data["author"]))
        repository = data.get("repository")
        if repository:
            head.append("Repository: " + (repository.get("url", "") if isinstance(repository, dict) else repository))
        found = next((package_dir / n for n in LICENCE_FILES if (package_dir / n).is_file()), None)
        if found is not None:
            text = found.read_text(encoding="utf-8", errors="replace").strip() + "\n"
        elif declared == "MIT":
            text = "(The package ships no licence file; its package.json declares MIT. The MIT License:)\n\n" + MIT
        else:
            text = "(The package ships no licence file.)\n"
        sections.append("\n".join(head) + "\n\n" + text)
    rule = "\n" + "-" * 100 + "\n\n"
    return ("Third-party software in yasgui.min.js and yasgui.min.css (bundled by the package "
            f"{PACKAGE}), as installed by api/ui/vendor/update.py.\n" + rule + rule.join(sections))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upgrade", action="store_true", help="npm install (refreshes package-lock.json)")
    upgrade = parser.parse_args().upgrade
    with tempfile.TemporaryDirectory(prefix="sortai-yasgui-") as tmp:
        work = Path(tmp)
        shutil.copy(HERE / "package.json", work)
        if (HERE / "package-lock.json").exists() and not upgrade:
            shutil.copy(HERE / "package-lock.json", work)
            _npm(["ci"], work)
        else:
            _npm(["install"], work)
            shutil.copy(work / "package-lock.json", HERE)
        installed = work / "node_modules" / PACKAGE
        version = json.loads((installed / "package.json").read_text(encoding="utf-8"))["version"]
        TARGET.mkdir(parents=True, exist_ok=True)
        for name in BUNDLE:
            shutil.copy(installed / "build" / name, TARGET / name)
        (TARGET / "THIRD-PARTY-LICENSES.txt").write_text(licences(work / "node_modules"), encoding="utf-8")
        (TARGET / "VERSION").write_text(f"{PACKAGE} {version}\n", encoding="utf-8")
    print(f"vendored {PACKAGE} {version} into {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
