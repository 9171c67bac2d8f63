"""Which importer a file is for, told by its content, and the import of a mixed set of files in merge order.

`sortai import all PATH…` and `sortai diagnose --overlay slo.yaml DIR` take manifests, Node objects, nvidia-smi
captures, metrics snapshots and config.json files together: each file is classified (Kubernetes YAML or Helm
values; a SORT-AI description, taken as an overlay; nvidia-smi output; Prometheus exposition; a model
config.json), imported, and merged as manifests → nodes → nvidia-smi → metrics → overlays. A file none of the
importers recognises is reported by name, not skipped silently.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from sortai.reasoner.problems import InputError, Location, Problem

from . import kustomize, merge, metrics, models, nvidia_smi
from .fragment import SECTIONS, Fragment
from .kubernetes import import_k8s
from .yamldocs import read_text

METRIC_LINE = re.compile(r"^[A-Za-z_:][A-Za-z0-9_:]*(\{.*\})?\s+[-+0-9.eE]+(\s+\d+)?\s*$", re.MULTILINE)
NVIDIA_SMI = re.compile(r"NVIDIA-SMI|NVSMI LOG|^GPU \d+: .+\(UUID:|^\s*GPU0\s.*Affinity|nvidia-smi", re.MULTILINE)
ORDER = ("k8s", "nvidia-smi", "metrics", "model-config")


def classify(path: Path) -> str | None:
    if path.is_dir():
        return "k8s" if kustomize.is_kustomization_dir(path) else "dir"
    try:
        text = read_text(path)
    except InputError:
        return "unreadable"
    head = text[:200_000]
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            data = None
        if isinstance(data, dict) and "num_hidden_layers" in (data.get("text_config") or data):
            return "model-config"
        if isinstance(data, dict) and ("kind" in data or "apiVersion" in data):
            return "k8s"
    if re.search(r"^\s*(apiVersion|kind):\s*\S", head, re.MULTILINE) or re.search(r"^servingEngineSpec:", head, re.MULTILINE):
        return "k8s"
    if re.search(r"^(" + "|".join(SECTIONS) + r"):\s*$", head, re.MULTILINE) and path.suffix.lower() in (".yaml", ".yml"):
        return "description"
    if "# TYPE " in head or (METRIC_LINE.search(head) and path.suffix.lower() in (".prom", ".metrics", ".txt")):
        if "# TYPE " in head or len(METRIC_LINE.findall(head)) >= 3:
            return "metrics"
    if NVIDIA_SMI.search(head) or re.search(r"^\s*GPU0\s", head, re.MULTILINE):
        return "nvidia-smi"
    return None


def expand(paths: list[str | Path], fragment: Fragment) -> dict[str, list[Path]]:
    groups: dict[str, list[Path]] = {kind: [] for kind in (*ORDER, "description")}
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise InputError([Problem("no such file or directory", Location(str(path)), code="not-found",
                                      fix="check the path.")])
        kind = classify(path)
        if kind == "dir":
            children = sorted(p for p in path.rglob("*") if p.is_file() and not any(
                part.startswith(".") for part in p.relative_to(path).parts))
            kustomized = {p.parent for p in children if p.name in kustomize.KUSTOMIZATION_FILES}
            for directory in sorted(kustomized):
                if not any(directory != other and other in directory.parents for other in kustomized):
                    groups["k8s"].append(directory)
            for child in children:
                if any(k == child.parent or k in child.parents for k in kustomized):
                    continue
                _add(child, classify(child), groups, fragment)
        else:
            _add(path, kind, groups, fragment)
    return groups


def _add(path: Path, kind: str | None, groups, fragment: Fragment) -> None:
    if kind in groups:
        groups[kind].append(path)
    else:
        fragment.problem("not imported: not a Kubernetes manifest, nvidia-smi output, Prometheus metrics, model "
                         "config.json or SORT-AI description", Location(str(path)), severity="warning",
                         code="unrecognised", fix="import it with the matching `sortai import` command if it is one.")


def import_all(paths: list[str | Path], overlays: list[str | Path] = (), window: str | None = None) -> Fragment:
    notes = Fragment()
    groups = expand(paths, notes)
    fragments = []
    if groups["k8s"]:
        fragments.append(import_k8s(groups["k8s"]))
    if groups["nvidia-smi"]:
        fragments.append(nvidia_smi.import_nvidia_smi(groups["nvidia-smi"]))
    if groups["metrics"]:
        fragments.append(metrics.import_metrics(groups["metrics"], window=window))
    for config in groups["model-config"]:
        fragments.append(models.import_model_config(config))
    fragments.append(notes)
    overlay_fragments = [merge.load_overlay(p) for p in (*groups["description"], *overlays)]
    return merge.merge(fragments, overlay_fragments)
