from __future__ import annotations

import gc
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
BROKEN = EXAMPLES / "broken"
SCENARIOS = sorted(p.parent for p in EXAMPLES.glob("*/description.yaml"))


@pytest.fixture
def cyclic_garbage(monkeypatch):
    """What `call` leaves that only the cyclic collector frees (reference cycles), by type. A step that runs
    with the collector off and then freezes every object (`engine.infer`, `incremental.update`, `diagnoses`)
    would keep such garbage for the life of the process, so these steps must make none."""

    def _run(call) -> list[str]:
        gc.unfreeze()  # what earlier steps froze, garbage included, is freed now: only the call's is left
        gc.collect()
        monkeypatch.setattr(gc, "freeze", lambda: None)  # the call's objects stay in the collector's view
        gc.disable()
        try:
            gc.set_debug(gc.DEBUG_SAVEALL)  # the unreachable objects go to gc.garbage instead of being freed
            call()
            gc.collect()
            return [type(o).__module__ + "." + type(o).__name__ for o in gc.garbage]
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            gc.enable()

    return _run


@pytest.fixture
def write(tmp_path):
    """Write a small description file and return its path."""

    def _write(text: str, name: str = "fleet.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return _write


MINIMAL = """
id: mini
environments:
  - id: dc1
    kind: on-prem
clusters:
  - id: c1
    environment: dc1
nodes:
  - id: gpu-nodes
    cluster: c1
    count: 4
    accelerator: H100-SXM
    acceleratorsPerNode: 8
models:
  - id: llama-8b
    parametersB: 8
    layers: 32
    kvHeads: 8
    headDim: 128
    weightDtype: bf16
    kvDtype: bf16
pools:
  - id: serve
    role: colocated
    model: llama-8b
    hostedOn: [gpu-nodes]
    tensorParallel: 1
"""
