"""`sortai import nvidia-smi` on the real captures of tests/artefacts/nvidia-smi."""

from __future__ import annotations

from sortai.importers import merge
from sortai.importers.nvidia_smi import import_nvidia_smi

from .conftest import ROOT

SMI = ROOT / "tests" / "artefacts" / "nvidia-smi"


def node_of(name):
    fragment = merge.merge([import_nvidia_smi([SMI / name])])
    return fragment.elements("nodes")[0], fragment


def test_s1_h100_mig_capture():
    node, f = node_of("h100-mig-nvidia-smi-capture.txt")
    assert (node.get("accelerator"), node.get("acceleratorsPerNode")) == ("H100-SXM", 1)
    assert node.get("virtualization.gpu") == "mig"
    assert sorted(node.meta["mig_profiles"]) == ["1g.10gb", "1g.10gb", "2g.20gb", "3g.40gb"]
    mixed = [p for p in f.problems if p.code == "mixed-mig"]
    assert mixed and mixed[0].severity == "violation" and not node.has("virtualization.migProfile")
    assert any("Pass-Through" in c for c in node.comments["virtualization"])
    assert node.origins["accelerator"].line == 1186  # the -L line


def test_s2_l40s_capture():
    node, f = node_of("l40s-nvidia-smi-capture.txt")
    assert (node.get("accelerator"), node.get("acceleratorsPerNode")) == ("L40S", 1)
    assert node.get("virtualization.gpu") == "vm-passthrough"
    assert any("46068 MiB" in c for c in node.comments["acceleratorsPerNode"])
    assert not [p for p in f.problems if p.code in ("mixed-mig", "unknown-product")]


def test_s3_dgx1_topology():
    node, f = node_of("dgx1-v100-topo-m-dlperf-excerpt.txt")
    links = node.meta["topology"]["links"]
    nv2 = {"0-3", "0-4", "1-2", "1-5", "2-3", "4-7", "5-6", "6-7"}
    nv1 = {"0-1", "0-2", "1-3", "2-6", "3-7", "4-5", "4-6", "5-7"}
    for pairs, kind in ((nv2, "NV2"), (nv1, "NV1")):
        for pair in pairs:
            a, b = pair.split("-")
            assert links[f"GPU{a}-GPU{b}"] == kind and links[f"GPU{b}-GPU{a}"] == kind
    sys_pairs = [k for k, v in links.items() if v == "SYS" and k.count("GPU") == 2]
    assert len(sys_pairs) == 2 * 12
    assert node.get("acceleratorsPerNode") == 8 and node.get("peerToPeer") == "nvlink"
    assert node.get("scaleUpDomainSize") == 4  # {0,1,2,3} is the largest all-NVLink set
    assert node.get("nicsPerNode") == 1
    assert (links["GPU2-mlx5_0"], links["GPU0-mlx5_0"], links["GPU4-mlx5_0"]) == ("PIX", "NODE", "SYS")
    assert any("2 NUMA domains" in c for c in node.comments["acceleratorsPerNode"])
    unknown = {p.code for p in f.problems}
    assert "unknown-product" in unknown and "unknown-link-type" in unknown  # V100 and IB EDR are not in the catalog
