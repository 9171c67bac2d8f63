"""`sortai import k8s|nvidia-smi|metrics|model-config|all …`: artefacts in, a description out.

Exit codes: 0 the description is complete as far as the import can tell; 2 it was written but the import
found problems that keep it from validating (each is printed with its file and line, and written as a comment
into the description); 3 an input could not be read (the message names the file and line); 4 usage error.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console

from sortai.reasoner.problems import InputError

app = typer.Typer(name="import", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="Build a description from Kubernetes manifests, nvidia-smi output and Prometheus metrics.")
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)

PATHS = typer.Argument(..., help="Files or directories.")
OUTPUT = typer.Option(None, "--output", "-o", help="Write the description here (default: standard output).")
OVERLAY = typer.Option(None, "--overlay", help="Hand-written YAML (SLOs, workloads, environment) merged on top; repeatable.")
NAME = typer.Option(None, "--id", help="The description's id (default: the first input's name).")
QUIET = typer.Option(False, "--quiet", "-q", help="Print only warnings and violations, not the notes.")


def _finish(fragment, paths, output: Path | None, name: str | None, quiet: bool) -> None:
    from .fragment import slug

    description_id = name or slug(Path(str(paths[0])).name.split(".")[0] if paths else "imported")
    fragment.header[:0] = [f"Imported by `sortai import` from: {', '.join(fragment.sources) or '-'}",
                           "Each line ending in '# from FILE:LINE' was read there; sortai explain cites it."]
    text = fragment.to_yaml(description_id, None)
    for problem in fragment.problems:
        if quiet and problem.severity == "info":
            continue
        err.print(problem.render(), markup=False)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        err.print(f"wrote {output}", markup=False)
    violations = sum(p.severity == "violation" for p in fragment.problems)
    if violations:
        err.print(f"{violations} problem(s) keep the description from validating; each names what to write by hand "
                  "(or pass an --overlay).", markup=False)
        raise typer.Exit(2)


def _run(build, paths, overlay, output, name, quiet) -> None:
    from . import merge

    try:
        fragment = merge.merge([build()], [merge.load_overlay(p) for p in overlay or []])
    except InputError as exc:
        for problem in exc.problems:
            err.print(problem.render(), markup=False)
        raise typer.Exit(3) from None
    _finish(fragment, paths, output, name, quiet)


@app.command("k8s")
def k8s(paths: list[Path] = PATHS, output: Path = OUTPUT, overlay: list[Path] = OVERLAY, name: str = NAME,
        quiet: bool = QUIET) -> None:
    """Kubernetes manifests, kustomizations (rendered with kubectl kustomize), Helm output and values, Node objects."""
    from .kubernetes import import_k8s

    _run(lambda: import_k8s(paths), paths, overlay, output, name, quiet)


@app.command("nvidia-smi")
def nvidia_smi(paths: list[Path] = PATHS, output: Path = OUTPUT, overlay: list[Path] = OVERLAY, name: str = NAME,
               quiet: bool = QUIET) -> None:
    """nvidia-smi output: -L, -q, the default table, --query-gpu csv, topo -m, mig -lgi (one host per file)."""
    from .nvidia_smi import import_nvidia_smi

    _run(lambda: import_nvidia_smi(paths), paths, overlay, output, name, quiet)


@app.command("metrics")
def metrics(paths: list[Path] = typer.Argument(None, help="Prometheus text exposition files."),
            prometheus: str = typer.Option(None, "--prometheus", help="Query this Prometheus server instead of files."),
            window: str = typer.Option("5m", "--window", help="PromQL range for --prometheus (e.g. 5m, 1h)."),
            at: str = typer.Option(None, "--at", help="Evaluation time for --prometheus (RFC 3339 or Unix time)."),
            output: Path = OUTPUT, overlay: list[Path] = OVERLAY, name: str = NAME, quiet: bool = QUIET) -> None:
    """vLLM/SGLang /metrics, DCGM exporter and nvidia_gpu_exporter scrapes, or a Prometheus server (--prometheus)."""
    from .metrics import import_metrics
    from .prometheus_api import import_prometheus

    if prometheus:
        _run(lambda: import_prometheus(prometheus, window, at), [prometheus.split("//")[-1]], overlay, output, name,
             quiet)
    elif paths:
        _run(lambda: import_metrics(paths), paths, overlay, output, name, quiet)
    else:
        err.print("give metrics files or --prometheus URL", markup=False)
        raise typer.Exit(4)


@app.command("model-config")
def model_config(path: Path = typer.Argument(..., help="A model's config.json."),
                 hub_id: str = typer.Option(None, "--hub-id", help="The model's hub id, if config.json lacks it."),
                 parameters_b: float = typer.Option(None, "--parameters-b", help="Parameters in billions (model card)."),
                 output: Path = OUTPUT, name: str = NAME, quiet: bool = QUIET) -> None:
    """A Hugging Face config.json as a description model (layers, heads, widths, experts, MLA, dtypes)."""
    from .models import import_model_config

    _run(lambda: import_model_config(path, hub_id, parameters_b), [path], [], output, name, quiet)


@app.command("all")
def import_all(paths: list[Path] = PATHS, output: Path = OUTPUT, overlay: list[Path] = OVERLAY, name: str = NAME,
               window: str = typer.Option(None, "--window", help="The window the metrics snapshots cover (ISO 8601)."),
               quiet: bool = QUIET) -> None:
    """Any mix of the above, told apart by content and merged: manifests, nodes, nvidia-smi, metrics, overlays."""
    from . import auto

    try:
        fragment = auto.import_all(paths, overlay or [], window)
    except InputError as exc:
        for problem in exc.problems:
            err.print(problem.render(), markup=False)
        raise typer.Exit(3) from None
    _finish(fragment, paths, output, name, quiet)


def description_from(paths: list[Path], overlays: list[Path]):
    """Import `paths` with `overlays` straight into a loaded Description (what `sortai diagnose --overlay` reads)."""
    from sortai.reasoner.description import load_bytes

    from . import auto
    from .fragment import slug

    fragment = auto.import_all(paths, overlays)
    name = slug(Path(str(paths[0])).name.split(".")[0])
    text = fragment.to_yaml(name)
    description = load_bytes(text.encode("utf-8"), f"{name}.imported.yaml", "yaml")
    description.problems.extend(p for p in fragment.problems if p.severity in ("violation", "warning"))
    return description
