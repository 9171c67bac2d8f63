"""The reference catalog: every figure sourced and stated, the facts the rules read present, the numbers sane.

Figures are checked against values computed here from the vendors' published (per-system, sparse, Gb/s)
numbers, not against the catalog's own arithmetic.
"""

from __future__ import annotations

import json
import re
from fractions import Fraction
from pathlib import Path

import pytest
import rdflib
from rdflib.namespace import DCTERMS, RDF, RDFS, SKOS
from typer.testing import CliRunner

from sortai.reasoner import expansion, resources
from sortai.reasoner.cli import app
from sortai.reasoner.description import load_file
from sortai.reasoner.validation import validate

SAI = rdflib.Namespace(resources.SAI)
CAT = rdflib.Namespace(resources.CAT)
NUMERIC = {rdflib.URIRef(str(rdflib.XSD) + t) for t in ("decimal", "integer", "double", "float", "int")}
ENTRY_CLASSES = (SAI.AcceleratorModel, SAI.LinkType, SAI.MIGProfile, SAI.InstanceType)
HARDWARE_CLASSES = (SAI.AcceleratorModel, SAI.LinkType, SAI.MIGProfile)


@pytest.fixture(scope="module")
def catalog() -> rdflib.Graph:
    graph = rdflib.Graph()
    for name in resources.CATALOG_MODULES:
        graph.parse(resources.ontology_dir() / name, format="turtle")
    return graph


def entries(graph, cls):
    return sorted(graph.subjects(RDF.type, cls))


def name(iri) -> str:
    return str(iri).removeprefix(resources.CAT)


def number(graph, subject, predicate) -> float | None:
    value = graph.value(subject, predicate)
    return None if value is None else float(value.toPython())


def all_entries(graph):
    return [e for cls in ENTRY_CLASSES for e in entries(graph, cls)]


# --- sources and stated figures ------------------------------------------------------------------------------

def test_every_entry_has_a_source_label_definition_and_comment(catalog):
    missing = [(name(e), p.n3(catalog.namespace_manager)) for e in all_entries(catalog)
               for p in (DCTERMS.source, RDFS.label, SKOS.definition, RDFS.comment) if catalog.value(e, p) is None]
    assert not missing


def test_catalog_has_entries_of_every_kind(catalog):
    counts = {cls: len(entries(catalog, cls)) for cls in ENTRY_CLASSES}
    assert counts[SAI.AcceleratorModel] >= 25 and counts[SAI.LinkType] >= 35
    assert counts[SAI.MIGProfile] >= 35 and counts[SAI.InstanceType] >= 25, counts


def _numbers_in(text: str) -> set[float]:
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)  # 1,979 -> 1979
    return {float(m) for m in re.findall(r"\d+(?:\.\d+)?", text)}


def test_every_numeric_figure_is_stated_in_its_entry(catalog):
    """A figure nobody can trace is a figure nobody can check: each stored number appears in the entry's text
    (comment, definition or label), where its source value and any conversion are given."""
    unstated = []
    for entry in all_entries(catalog):
        text = " ".join(str(catalog.value(entry, p) or "") for p in (RDFS.comment, SKOS.definition, RDFS.label))
        said = _numbers_in(text)
        for predicate, value in catalog.predicate_objects(entry):
            if isinstance(value, rdflib.Literal) and value.datatype in NUMERIC:
                if not any(abs(float(value) - n) < 1e-9 for n in said):
                    unstated.append(f"{name(entry)} {predicate.n3(catalog.namespace_manager)} {value}")
    assert not unstated, unstated


def test_sources_are_documents_not_prose(catalog):
    bad = [(name(e), str(s)) for e in all_entries(catalog) for s in catalog.objects(e, DCTERMS.source)
           if not isinstance(s, rdflib.URIRef) or not str(s).startswith("https://")]
    assert not bad


def test_both_catalog_files_list_what_was_left_out():
    for module in ("sortai-catalog.ttl", "sortai-catalog-cloud.ttl"):
        header = (resources.ontology_dir() / module).read_text(encoding="utf-8").split("@prefix")[0]
        assert "Figures not sourced" in header, module


# --- the facts the rules read -------------------------------------------------------------------------------

def test_every_accelerator_has_memory_class_vendor_and_a_scale_up_domain(catalog):
    for model in entries(catalog, SAI.AcceleratorModel):
        for predicate in (SAI.hbmCapacityGB, SAI.acceleratorClass, SAI.vendor, SAI.scaleUpDomainSize):
            assert catalog.value(model, predicate) is not None, (name(model), predicate)
        assert int(catalog.value(model, SAI.scaleUpDomainSize)) >= 1


def test_every_link_type_says_technology_scope_rdma_and_gpu_direct(catalog):
    for link in entries(catalog, SAI.LinkType):
        for predicate in (SAI.linkTechnology, SAI.scope, SAI.rdmaCapable, SAI.gpuDirectCapable):
            assert catalog.value(link, predicate) is not None, (name(link), predicate)


def test_every_instance_type_has_what_a_node_needs(catalog):
    """The NIC:GPU ratio, P2P and domain exist for every instance type, so a node named by it has them."""
    for instance in entries(catalog, SAI.InstanceType):
        for predicate in (SAI.acceleratorModel, SAI.acceleratorsPerNode, SAI.nicLinkType, SAI.nicsPerNode,
                          SAI.peerToPeer, SAI.scaleUpDomainSize, SAI.gpuVirtualization, SAI.provider):
            assert catalog.value(instance, predicate) is not None, (name(instance), predicate)
        assert number(catalog, instance, SAI.nicsPerNode) / number(catalog, instance, SAI.acceleratorsPerNode) > 0


def test_instance_types_carry_only_what_the_expansion_copies(catalog):
    """An instance type's facts reach a node only through reasoner/expansion.py; a fact it does not copy is dead."""
    copied = set(expansion.NODE_FACTS) | set(expansion.VIRTUALIZATION_FACTS)
    documentation = {str(p) for p in (RDF.type, RDFS.label, RDFS.comment, SKOS.definition, DCTERMS.source)}
    for instance in entries(catalog, SAI.InstanceType):
        extra = {str(p) for p in catalog.predicates(instance)} - copied - documentation - {str(SAI.provider)}
        assert not extra, (name(instance), extra)


def test_every_mig_profile_has_both_fractions_and_a_gpu(catalog):
    for profile in entries(catalog, SAI.MIGProfile):
        for predicate in (SAI.migComputeFraction, SAI.migMemoryFraction, SAI.migComputeSlices, SAI.migMemoryGB):
            assert catalog.value(profile, predicate) is not None, (name(profile), predicate)
        assert 0 < number(catalog, profile, SAI.migComputeFraction) <= 1
        assert 0 < number(catalog, profile, SAI.migMemoryFraction) <= 1
        assert list(catalog.objects(profile, SAI.supportedOn)), name(profile)


def test_product_names_are_unique(catalog):
    seen: dict[str, str] = {}
    for model, product in catalog.subject_objects(SAI.productName):
        assert str(product) not in seen or seen[str(product)] == name(model), (product, seen.get(str(product)))
        seen[str(product)] = name(model)


def test_parts_importers_look_up_carry_their_reported_names(catalog):
    expected = {"H100-SXM": {"NVIDIA H100 80GB HBM3", "nvidia-h100-80gb", "nvidia-h100-mega-80gb"},
                "A100-40GB-SXM": {"A100-SXM4-40GB"}, "L4": {"NVIDIA L4", "nvidia-l4"}, "L40S": {"NVIDIA L40S"},
                "T4": {"Tesla T4"}, "H200-SXM": {"NVIDIA H200", "nvidia-h200-141gb"}, "GB200": {"nvidia-gb200"}}
    for model, names in expected.items():
        assert names <= {str(n) for n in catalog.objects(CAT[model], SAI.productName)}, model


# --- figures against independently computed values ------------------------------------------------------------

# (entry, property, vendor figure with sparsity) for entries whose dense figure is the vendor's sparse one halved.
SPARSE_QUOTED = [
    ("H100-SXM", "denseBF16TFLOPS", 1979), ("H100-SXM", "denseFP8TFLOPS", 3958),
    ("H100-PCIe", "denseBF16TFLOPS", 1513), ("H100-PCIe", "denseFP8TFLOPS", 3026),
    ("H100-NVL", "denseBF16TFLOPS", 1671), ("H100-NVL", "denseFP8TFLOPS", 3341),
    ("H200-SXM", "denseBF16TFLOPS", 1979), ("H200-SXM", "denseFP8TFLOPS", 3958),
    ("H200-NVL", "denseBF16TFLOPS", 1671), ("H200-NVL", "denseFP8TFLOPS", 3341),
    ("B200", "denseBF16TFLOPS", 4500), ("B200", "denseFP8TFLOPS", 9000), ("B200", "denseFP4TFLOPS", 18000),
    ("GB200", "denseBF16TFLOPS", 5000), ("GB200", "denseFP8TFLOPS", 10000), ("GB200", "denseFP4TFLOPS", 20000),
    ("B300", "denseBF16TFLOPS", 4500), ("B300", "denseFP8TFLOPS", 9000),
    ("GB300", "denseBF16TFLOPS", 5000), ("GB300", "denseFP8TFLOPS", 10000),
    ("L4", "denseBF16TFLOPS", 242), ("L4", "denseFP8TFLOPS", 485),
    ("L40S", "denseFP8TFLOPS", 1466),  # L40S BF16 is printed "362.05 | 733": dense stored as printed
    ("L40", "denseBF16TFLOPS", 362.1), ("L40", "denseFP8TFLOPS", 724),
    ("A100-40GB-SXM", "denseBF16TFLOPS", 624), ("A10", "denseBF16TFLOPS", 250),
    ("MI300X", "denseBF16TFLOPS", 2614.8), ("MI325X", "denseFP8TFLOPS", 5229.8),
]


@pytest.mark.parametrize("entry, prop, sparse", SPARSE_QUOTED)
def test_dense_is_half_the_quoted_sparse_figure(catalog, entry, prop, sparse):
    # AMD prints dense and sparse figures each rounded to 0.1, hence the small tolerance.
    assert number(catalog, CAT[entry], SAI[prop]) == pytest.approx(sparse / 2, abs=0.06)


# Figures NVIDIA/AMD/AWS publish per system, and the number of accelerators in that system.
PER_SYSTEM = [
    ("GB200", "hbmCapacityGB", 13_400 / 72, 0.5),            # NVL72: 13.4 TB HBM3e for 72 GPUs
    ("GB200", "memoryBandwidthGBps", 576_000 / 72, 1e-6),    # NVL72: 576 TB/s
    ("GB200", "denseFP4TFLOPS", 1_440_000 / 72 / 2, 1e-6),   # NVL72: 1,440 PFLOPS FP4 with sparsity
    ("GB200", "scaleUpBandwidthGBps", 130_000 / 72 / 2, 3),  # NVL72: 130 TB/s NVLink, both directions
    ("B200", "hbmCapacityGB", 1_440 / 8, 1e-6),              # DGX B200: 1,440 GB for 8 GPUs
    ("B200", "denseFP8TFLOPS", 72_000 / 8 / 2, 1e-6),        # DGX B200: 72 PFLOPS FP8 with sparsity
    ("GB300", "denseFP4TFLOPS", 1_080_000 / 72, 1e-6),       # GB300 NVL72: 1,080 PFLOPS FP4 dense
    ("GB300", "denseBF16TFLOPS", 360_000 / 72 / 2, 1e-6),    # GB300 NVL72: 360 PFLOPS BF16 with sparsity
    ("MI250X", "hbmCapacityGB", 128 / 2, 1e-6),              # per module, 2 GCDs
    ("MI250X", "memoryBandwidthGBps", 3_200 / 2, 1e-6),
    ("MI250X", "denseBF16TFLOPS", 383 / 2, 1e-6),
    ("Trainium2", "denseFP8TFLOPS", 20_800 / 16, 2),         # trn2.48xlarge: 20.8 FP8 PFLOPS for 16 chips
    ("Gaudi2", "scaleUpBandwidthGBps", 21 * 100 / 8, 1e-6),  # 21 of 24 x 100 GbE ports to peers
    ("Gaudi3", "scaleUpBandwidthGBps", 21 * 200 / 8, 1e-6),
    ("MI355X", "scaleUpBandwidthGBps", 7 * 153.6 / 2, 1e-6),  # 7 IF links x 153.6 GB/s, both directions
]


@pytest.mark.parametrize("entry, prop, expected, tolerance", PER_SYSTEM)
def test_per_accelerator_figure_is_the_system_figure_divided(catalog, entry, prop, expected, tolerance):
    assert number(catalog, CAT[entry], SAI[prop]) == pytest.approx(expected, abs=tolerance)


# Provider-published scale-out bandwidth per instance in Gb/s (AWS, Azure and GCP product tables).
INSTANCE_GBPS = {"p4d.24xlarge": 400, "p4de.24xlarge": 400, "p5.48xlarge": 3200, "p5e.48xlarge": 3200,
                 "p5en.48xlarge": 3200, "p6-b200.48xlarge": 3200, "p6-b300.48xlarge": 6400,
                 "p6e-gb200.36xlarge": 28_800 / 18, "trn2.48xlarge": 3200, "Standard_ND96isr_H100_v5": 3200,
                 "Standard_ND96isr_H200_v5": 3200, "Standard_ND96isr_MI300X_v5": 3200,
                 "Standard_ND96amsr_A100_v4": 1600, "Standard_ND96asr_v4": 1600,
                 "Standard_ND128isr_NDR_GB200_v6": 1600, "a3-highgpu-8g": 800, "a3-megagpu-8g": 1600,
                 "a3-ultragpu-8g": 3200, "a4-highgpu-8g": 3200, "a4x-highgpu-4g": 1600, "g6.48xlarge": 100,
                 "g6e.48xlarge": 400, "g2-standard-96": 100, "g2-standard-48": 50}


@pytest.mark.parametrize("instance, gbps", sorted(INSTANCE_GBPS.items()))
def test_nics_times_link_speed_is_the_published_instance_bandwidth(catalog, instance, gbps):
    entry = CAT[instance]
    link = catalog.value(entry, SAI.nicLinkType)
    assert number(catalog, entry, SAI.nicsPerNode) * number(catalog, link, SAI.bandwidthGBps) * 8 == pytest.approx(gbps)


def test_link_speed_in_the_name_is_the_stored_bandwidth(catalog):
    """'RoCE-400G' is 400 Gb/s = 50 GB/s in one direction: the name and the figure cannot drift apart."""
    for link in entries(catalog, SAI.LinkType):
        match = re.search(r"-(\d+)G(?:-|$)", name(link))
        if match:
            assert number(catalog, link, SAI.bandwidthGBps) == pytest.approx(int(match.group(1)) / 8), name(link)


def test_precision_ladder_is_plausible(catalog):
    """BF16 <= FP8 <= 2 x BF16 and FP8 <= FP4 <= 4 x FP8 (5 % for vendors' rounding: L40S 362.05 / 733):
    a sparse figure stored as dense next to a dense one would break it."""
    for model in entries(catalog, SAI.AcceleratorModel):
        bf16, fp8, fp4 = (number(catalog, model, SAI[p]) for p in ("denseBF16TFLOPS", "denseFP8TFLOPS", "denseFP4TFLOPS"))
        if bf16 and fp8:
            assert bf16 <= fp8 <= 2.05 * bf16, name(model)
        if fp8 and fp4:
            assert fp8 <= fp4 <= 4 * fp8, name(model)


def test_reported_memory_is_close_to_but_not_the_vendor_gigabytes(catalog):
    """NVML's MiB figure is the usable size: a vendor '80 GB' is ~80 GiB, not 80e9 bytes."""
    for model in entries(catalog, SAI.AcceleratorModel):
        mib = number(catalog, model, SAI.reportedMemoryMiB)
        if mib is not None:
            vendor_gb = number(catalog, model, SAI.hbmCapacityGB)
            assert 0.9 * vendor_gb * 1024 < mib <= vendor_gb * 1024, name(model)
    assert number(catalog, CAT["H100-SXM"], SAI.reportedMemoryMiB) == 81559  # nvidia-smi capture, artefact S1


def test_instance_domains_contain_their_accelerators_and_fit_the_part(catalog):
    for instance in entries(catalog, SAI.InstanceType):
        domain = number(catalog, instance, SAI.scaleUpDomainSize)
        per_node = number(catalog, instance, SAI.acceleratorsPerNode)
        part = catalog.value(instance, SAI.acceleratorModel)
        part_domain = number(catalog, part, SAI.scaleUpDomainSize)
        assert domain >= per_node, name(instance)
        if part_domain == 1:  # no accelerator fabric: the node's PCIe hierarchy is the domain
            assert domain == per_node, name(instance)
        else:
            assert domain <= part_domain, name(instance)


def test_mig_fractions_match_slices_and_memory(catalog):
    for profile in entries(catalog, SAI.MIGProfile):
        slices = number(catalog, profile, SAI.migComputeSlices)
        assert number(catalog, profile, SAI.migComputeFraction) == pytest.approx(slices / 7, abs=1e-6), name(profile)
        fraction = number(catalog, profile, SAI.migMemoryFraction)
        assert Fraction(fraction).limit_denominator(8).denominator in (1, 2, 4, 8), name(profile)
        profile_gb = int(re.match(r"\d+g\.(\d+)gb", name(profile)).group(1))
        assert number(catalog, profile, SAI.migMemoryGB) == profile_gb
        assert int(name(profile)[0]) == slices
        for gpu in catalog.objects(profile, SAI.supportedOn):
            capacity = number(catalog, gpu, SAI.hbmCapacityGB)
            assert abs(fraction * capacity - profile_gb) <= 1, (name(profile), name(gpu))


def test_every_mig_capable_part_offers_a_full_gpu_and_a_smallest_slice(catalog):
    offered: dict[str, set[str]] = {}
    for profile in entries(catalog, SAI.MIGProfile):
        for gpu in catalog.objects(profile, SAI.supportedOn):
            offered.setdefault(name(gpu), set()).add(name(profile).split(".")[0])
    for gpu in ("A100-40GB-SXM", "A100-80GB-SXM", "H100-SXM", "H100-PCIe", "H100-NVL", "H200-SXM", "H200-NVL",
                "B200", "GB200"):
        assert {"1g", "2g", "3g", "4g", "7g"} <= offered[gpu], gpu


# --- instance types through the loader: examples/p5-instance-type -------------------------------------------

P5 = Path(__file__).resolve().parents[1] / "examples" / "p5-instance-type"


def _triples(path) -> set[str]:
    return {str(t) for t in load_file(path).triples}


def test_instance_type_and_spelled_out_fleet_have_the_same_facts():
    by_type, spelled = _triples(P5 / "description.yaml"), _triples(P5 / "spelled-out.yaml")
    named = {t for t in by_type if str(SAI.instanceType) in t}
    assert len(named) == 1 and str(CAT["p5.48xlarge"]) in next(iter(named))
    assert by_type - named == spelled


def test_instance_type_and_spelled_out_fleet_have_the_same_diagnoses():
    runner = CliRunner()
    reports = [json.loads(runner.invoke(app, ["diagnose", "-f", "json", str(P5 / f)]).stdout)
               for f in ("description.yaml", "spelled-out.yaml")]
    assert reports[0]["asserted_triples"] == reports[1]["asserted_triples"] + 1  # the instanceType triple
    for report in reports:
        del report["description"], report["asserted_triples"]
    assert reports[0] == reports[1]


def test_the_filled_in_facts_cite_the_catalog_entry():
    description = load_file(P5 / "description.yaml")
    filled = {t.predicate.value for t, entry in description.filled_from.items() if entry == str(CAT["p5.48xlarge"])}
    assert {str(SAI.acceleratorModel), str(SAI.nicsPerNode), str(SAI.peerToPeer), str(SAI.gpuVirtualization)} <= filled


FLEET = """
id: one-instance-type
environments:
  - {{id: cloud, kind: public-cloud}}
clusters:
  - {{id: c, environment: cloud}}
nodes:
  - {{id: n, cluster: c, count: 2, instanceType: {name}}}
models:
  - {{id: m, parametersB: 8, layers: 32, kvHeads: 8, headDim: 128, weightDtype: bf16, kvDtype: bf16}}
pools:
  - {{id: p, role: colocated, model: m, hostedOn: [n], tensorParallel: 1}}
"""


def test_every_instance_type_makes_a_valid_node(catalog, write):
    """A node named only by its instance type passes the shapes: the entry is complete and within range."""
    for instance in entries(catalog, SAI.InstanceType):
        report = validate(load_file(write(FLEET.format(name=name(instance)))))
        assert report.conforms, (name(instance), [p.message for p in report.problems])
