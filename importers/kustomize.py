"""Kustomizations, rendered by the real tool (`kubectl kustomize`), never by a merge of our own.

Before rendering, every local path a kustomization names (resources, components, patches, the openapi schema) is
checked. A missing schema stops the import: without it kustomize merges a custom resource's lists by replacing
them, so the render would be wrong. Missing resources or components are left out of a copy of the tree, the
copy is rendered, and each omission is reported with its consequence.

The render is traced back to the files: `buildMetadata: [originAnnotations]` (added to the copy) makes kustomize
name each object's source file, and each value's line is found by walking the same path (list items matched by
`name`, scalar list items by value) through the patches that apply to the object, last applied first, then
through the object's source file. A value no source file holds keeps its line in the rendered stream.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from sortai.reasoner.problems import InputError, Location, Problem

from .yamldocs import Doc, load_documents, read_text

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
ORIGIN_ANNOTATION = "config.kubernetes.io/origin"
TIMEOUT_S = 120
INSTALL_HINT = ("render it yourself — `kubectl kustomize DIR > rendered.yaml` (or `kustomize build DIR`) — and "
                "import rendered.yaml; on Debian, `apt-get install kubectl` provides kubectl")


def is_kustomization_dir(path: Path) -> bool:
    return any((path / name).is_file() for name in KUSTOMIZATION_FILES)


def _kustomization_file(path: Path) -> Path:
    return next(path / n for n in KUSTOMIZATION_FILES if (path / n).is_file())


@dataclass
class Source:
    """A file whose documents may hold a rendered value: a resource or a patch."""

    file: str
    data: object
    line_offset: int = 0
    kind: str | None = None
    name: str | None = None


@dataclass
class Tree:
    root: Path
    kustomizations: list[Path] = field(default_factory=list)
    missing: list[tuple[Path, str, Location]] = field(default_factory=list)  # (kustomization, entry, where)
    patches: list[Source] = field(default_factory=list)  # in application order


def _load(path: Path):
    yaml = YAML(typ="rt", pure=True)
    try:
        return yaml.load(io.StringIO(read_text(path)))
    except Exception:  # noqa: BLE001 — reported by kubectl itself when it renders
        return None


def _walk(directory: Path, tree: Tree, seen: set) -> None:
    import os

    if directory.resolve() in seen:
        return
    seen.add(directory.resolve())
    directory = Path(os.path.normpath(directory))
    file = _kustomization_file(directory)
    tree.kustomizations.append(file)
    data = _load(file)
    if not isinstance(data, CommentedMap):
        return

    def where(node, key):
        try:
            line = node.lc.key(key)[0] + 1 if isinstance(node, CommentedMap) else node.lc.item(key)[0] + 1
        except (KeyError, IndexError, AttributeError):
            line = None
        return Location(str(file), line)

    for section in ("resources", "components", "bases", "patchesStrategicMerge"):
        for index, entry in enumerate(data.get(section) or []):
            entry = str(entry)
            if "://" in entry or entry.startswith("github.com/"):
                tree.missing.append((file, f"{section}: {entry} (remote; not fetched)", where(data[section], index)))
                continue
            target = (directory / entry)
            if not target.exists():
                tree.missing.append((file, f"{section}: {entry}", where(data[section], index)))
            elif target.is_dir() and is_kustomization_dir(target):
                _walk(target, tree, seen)
            elif section == "patchesStrategicMerge":
                _patch_sources(target, tree, 0)
    for index, patch in enumerate(data.get("patches") or data.get("patchesJson6902") or []):
        if not isinstance(patch, CommentedMap):
            continue
        if "path" in patch:
            target = directory / str(patch["path"])
            if not target.exists():
                tree.missing.append((file, f"patches: {patch['path']}", where(patch, "path")))
            else:
                _patch_sources(target, tree, 0)
        elif "patch" in patch:
            line = where(patch, "patch").line or 0
            _inline_patch(str(file), str(patch["patch"]), line, tree)
    openapi = data.get("openapi")
    if isinstance(openapi, CommentedMap) and "path" in openapi:
        if not (directory / str(openapi["path"])).exists():
            tree.missing.append((file, f"openapi: {openapi['path']}", where(openapi, "path")))


def _patch_sources(path: Path, tree: Tree, offset: int) -> None:
    for doc in load_documents(read_text(path), str(path), []):
        tree.patches.append(_source(str(path), doc.data, offset))


def _inline_patch(file: str, text: str, key_line: int, tree: Tree) -> None:
    yaml = YAML(typ="rt", pure=True)
    try:
        for data in yaml.load_all(io.StringIO(text)):
            tree.patches.append(_source(file, data, key_line))
    except Exception:  # noqa: BLE001 — kubectl reports it
        return


def _source(file: str, data, offset: int) -> Source:
    kind = data.get("kind") if isinstance(data, dict) else None
    name = (data.get("metadata") or {}).get("name") if isinstance(data, dict) else None
    return Source(file, data, offset, kind, name)


def render(directory: Path, fragment) -> list[Doc]:
    """The documents `kubectl kustomize` renders from `directory`, each value traced to its source line."""
    tree = Tree(directory)
    _walk(directory, tree, set())
    schema = [m for m in tree.missing if m[1].startswith("openapi:")]
    others = [m for m in tree.missing if not m[1].startswith("openapi:")]
    if schema:
        problems = [Problem(f"the kustomization names {entry}, which does not exist: without that schema kustomize "
                            "replaces the custom resource's lists (roles, containers, env) instead of merging them "
                            "by name, so the render would be wrong; nothing was rendered", where,
                            code="kustomize-incomplete", fix=INSTALL_HINT + ", in the full source tree.")
                    for _, entry, where in schema]
        problems += [Problem(f"the kustomization names {entry}, which does not exist", where,
                             code="kustomize-incomplete", severity="warning") for _, entry, where in others]
        raise InputError(problems)
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise InputError([Problem(f"{directory} is a kustomization; kustomizations are rendered with `kubectl "
                                  "kustomize`, and kubectl is not installed", Location(str(_kustomization_file(directory))),
                                  code="kubectl-missing", fix=INSTALL_HINT + ".")])
    with tempfile.TemporaryDirectory(prefix="sortai-kustomize-") as temp:
        copy_target = _copy(tree, Path(temp), others)
        try:
            result = subprocess.run([kubectl, "kustomize", str(copy_target)], capture_output=True, text=True,
                                    timeout=TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            raise InputError([Problem(f"kubectl kustomize took more than {TIMEOUT_S} s", Location(str(directory)),
                                      code="kustomize-failed")]) from None
    if result.returncode != 0:
        message = " ".join(result.stderr.replace(temp, str(directory)).split())[-600:]
        raise InputError([Problem(f"kubectl kustomize failed: {message}", Location(str(directory)),
                                  code="kustomize-failed", fix="fix the kustomization (kubectl's message above).")])
    for kustomization, entry, where in others:
        fragment.problem(f"rendered without {entry}: it does not exist; whatever it would add or change (images, "
                         "objects, patches) is missing from the import", where, severity="warning",
                         code="kustomize-incomplete", fix=INSTALL_HINT + ", in the full source tree.")
    rendered_name = f"{directory} (rendered by kubectl kustomize)"
    fragment.problem(f"{directory}: rendered with `kubectl kustomize`; values are traced to the files and lines of "
                     "the kustomization tree", Location(str(_kustomization_file(directory))), severity="info",
                     code="kustomize")
    docs = load_documents(result.stdout, rendered_name, [])
    for doc in docs:
        _attach_blame(doc, directory, tree)
    for file in tree.kustomizations:
        if str(file) not in fragment.sources:
            fragment.sources.append(str(file))
    return docs


def _copy(tree: Tree, temp: Path, omitted) -> Path:
    """Copy the tree the kustomizations span, drop omitted entries, ask for origin annotations."""
    directories = {k.parent.resolve() for k in tree.kustomizations}
    root = Path(_common(directories))
    for directory in directories:
        target = temp / directory.relative_to(root)
        target.mkdir(parents=True, exist_ok=True)
        for child in directory.iterdir():
            if child.is_file():
                shutil.copy2(child, target / child.name)
    for kustomization in tree.kustomizations:
        copy = temp / kustomization.parent.resolve().relative_to(root) / kustomization.name
        copy.chmod(0o644)
        data = _load(copy)
        if not isinstance(data, CommentedMap):
            continue
        for file, entry, _ in omitted:
            if file != kustomization:
                continue
            section, _, value = entry.partition(": ")
            value = value.removesuffix(" (remote; not fetched)")
            if isinstance(data.get(section), list):
                data[section] = CommentedSeq([e for e in data[section] if str(e) != value])
                if not data[section]:
                    del data[section]
        if kustomization == tree.kustomizations[0]:
            data["buildMetadata"] = ["originAnnotations"]
        yaml = YAML(typ="rt", pure=True)
        with copy.open("w", encoding="utf-8") as handle:
            yaml.dump(data, handle)
    return temp / tree.root.resolve().relative_to(root)


def _common(paths) -> str:
    import os

    return os.path.commonpath([str(p) for p in paths])


def _attach_blame(doc: Doc, directory: Path, tree: Tree) -> None:
    obj = doc.data
    if not isinstance(obj, CommentedMap):
        return
    metadata = obj.get("metadata") or {}
    annotations = metadata.get("annotations") or {}
    origin = annotations.get(ORIGIN_ANNOTATION)
    kind, name = obj.get("kind"), metadata.get("name")
    candidates = [p for p in reversed(tree.patches) if p.kind == kind and p.name == name]
    if origin:
        path = str(origin).split("path:", 1)[-1].strip().splitlines()[0].strip()
        source_file = (directory / path).resolve()
        if source_file.exists():
            for data in (d.data for d in load_documents(read_text(source_file), str(_display(source_file, directory)), [])):
                if isinstance(data, dict) and data.get("kind") == kind and (data.get("metadata") or {}).get("name") == name:
                    candidates.append(Source(str(_display(source_file, directory)), data, 0, kind, name))
    for candidate in candidates:
        candidate.file = str(_display(Path(candidate.file), directory))

    def blame(path: tuple, value) -> Location | None:
        for candidate in candidates:
            found = _locate(obj, candidate.data, path, value)
            if found is not None:
                return Location(candidate.file, found + candidate.line_offset)
        return None

    doc.blame = blame


def _display(path: Path, directory: Path) -> Path:
    try:
        return Path(directory) / Path(path).resolve().relative_to(Path(directory).resolve())
    except ValueError:
        import os

        return Path(os.path.relpath(Path(path).resolve(), Path.cwd()))


def _locate(rendered, source, path: tuple, value) -> int | None:
    """The 1-based line in `source` of the value at `path` in `rendered`, if `source` states that same value."""
    node_r, node_s = rendered, source
    line = None
    for step in path:
        if isinstance(node_r, CommentedMap) and isinstance(node_s, CommentedMap):
            if step not in node_s:
                return None
            try:
                line = node_s.lc.key(step)[0] + 1
            except (KeyError, AttributeError):
                line = None
            node_r, node_s = node_r.get(step), node_s[step]
        elif isinstance(node_r, CommentedSeq) and isinstance(node_s, CommentedSeq) and isinstance(step, int):
            item = node_r[step] if step < len(node_r) else None
            index = _match(item, node_s)
            if index is None:
                return None
            try:
                line = node_s.lc.item(index)[0] + 1
            except (KeyError, AttributeError, IndexError):
                line = None
            node_r, node_s = item, node_s[index]
        else:
            return None
    if isinstance(node_s, (CommentedMap, CommentedSeq)):
        return line
    return line if str(node_s) == str(value) else None


def _match(item, candidates: CommentedSeq) -> int | None:
    if isinstance(item, dict) and "name" in item:
        for index, candidate in enumerate(candidates):
            if isinstance(candidate, dict) and candidate.get("name") == item["name"]:
                return index
        return None
    for index, candidate in enumerate(candidates):
        if not isinstance(candidate, (dict, list)) and str(candidate) == str(item):
            return index
    return None
