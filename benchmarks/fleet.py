"""Synthetic heterogeneous fleets of a chosen size, written as Turtle (a machine-generated description).

A fleet is made of cells; each cell is one cluster with its fabric, racks, individually listed nodes of
mixed accelerator models (some MIG-partitioned, some time-sliced among tenants), a prefill and a decode
pool joined by a KV path, a workload with SLOs, two control loops and a few measurements. One migration
plan moves the first cell's pools from the on-prem to the cloud environment.
"""

from __future__ import annotations

import argparse
from pathlib import Path

PREFIXES = """@prefix sai: <https://w3id.org/sortai/ontology#> .
@prefix cat: <https://w3id.org/sortai/catalog/> .
@prefix sosa: <http://www.w3.org/ns/sosa/> .
@prefix uom: <http://qudt.org/vocab/unit/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix : <https://w3id.org/sortai/data/{name}/> .
"""
MODELS = ["H100-SXM", "L4", "MI300X", "A100-80GB-SXM", "H200-SXM", "L40S"]
NODES_PER_CELL = 32
TENANTS = 8


def cell(i: int) -> str:
    env = ":onprem" if i % 2 == 0 else ":cloud"
    over = "1.0" if i % 3 == 0 else "4.0"
    lines = [
        f":c{i} a sai:Cluster ; sai:inEnvironment {env} ; sai:attachedToFabric :f{i} .",
        f":f{i} a sai:Fabric ; sai:linkType cat:{'IB-NDR' if i % 2 == 0 else 'RoCE-200G'} ; sai:fabricTopology sai:LeafSpine ;"
        f" sai:oversubscriptionRatio {over} .",
        f":fleet sai:hasCluster :c{i} ; sai:hasFabric :f{i} ; sai:hasPool :p{i} , :d{i} ; sai:hasWorkload :w{i} ;"
        f" sai:hasKVTransferPath :kv{i} ; sai:hasLink :l{i} ; sai:hasControlLoop :s{i} , :a{i} .",
    ]
    for r in range(4):
        lines.append(f":r{i}-{r} a sai:Rack ; sai:inCluster :c{i} . :fleet sai:hasRack :r{i}-{r} .")
    prefill, decode = [], []
    for n in range(NODES_PER_CELL):
        node = f":n{i}-{n}"
        model = MODELS[(i + (n % 3)) % len(MODELS)] if n % 2 else "H100-SXM"
        (prefill if n % 2 == 0 else decode).append(node)
        lines.append(f"{node} a sai:Node ; sai:inRack :r{i}-{n % 4} ; sai:acceleratorModel cat:{model} ;"
                     f" sai:acceleratorsPerNode 8 ; sai:nicLinkType cat:RoCE-200G ; sai:nicsPerNode 4 ;"
                     f" sai:virtualization {node}-v . :fleet sai:hasNode {node} .")
        if n % 8 == 1 and model in ("H100-SXM", "A100-80GB-SXM"):
            virt = "sai:gpuVirtualization sai:MIGPartitioning ; sai:migProfile cat:3g.40gb"
        elif n % 8 == 3:
            virt = (f"sai:gpuVirtualization sai:TimeSlicedVGPU ; sai:hypervisor \"kvm\" ; sai:networkVirtualization sai:SRIOV ;"
                    f" sai:sharedByTenant :t{i % TENANTS} , :t{(i + 1) % TENANTS}")
        else:
            virt = "sai:gpuVirtualization sai:BareMetal ; sai:networkVirtualization sai:DirectNIC"
        lines.append(f"{node}-v a sai:VirtualizationConfig ; {virt} .")
    lines += [
        f":p{i} a sai:ServingPool ; sai:poolRole sai:PrefillRole ; sai:servesModel :m{i % 2} ; sai:tensorParallelism 8 ;"
        f" sai:hostedOn {' , '.join(prefill)} ; sai:ownedByTenant :t{i % TENANTS} .",
        f":d{i} a sai:ServingPool ; sai:poolRole sai:DecodeRole ; sai:servesModel :m{i % 2} ; sai:tensorParallelism 8 ;"
        f" sai:hostedOn {' , '.join(decode)} ; sai:ownedByTenant :t{i % TENANTS} .",
        f":l{i} a sai:Link ; sai:linkType cat:RoCE-100G ; sai:oversubscriptionRatio 2.0 ; sai:connects :p{i} , :d{i} .",
        f":kv{i} a sai:KVTransferPath ; sai:fromPool :p{i} ; sai:toPool :d{i} ; sai:overLink :l{i} .",
        f":w{i} a sai:WorkloadProfile ; sai:servedBy :p{i} , :d{i} ; sai:promptTokensP50 4000 ; sai:promptTokensP99 32000 ;"
        f" sai:outputTokensP50 300 ; sai:outputTokensP99 1500 ; sai:arrivalRateRps 20.0 ; sai:hasSLO :w{i}-slo .",
        f":w{i}-slo a sai:ServiceLevelObjective ; sai:ttftTargetMs 1500.0 ; sai:tpotTargetMs 40.0 .",
        f":s{i} a sai:ControlLoop ; sai:controlLoopKind sai:BatchScheduler ; sai:timescaleMs 10.0 ;"
        f" sai:actuatesState sai:BatchComposition ; sai:observesState sai:ReplicaCount ; sai:governs :p{i} , :d{i} .",
        f":a{i} a sai:ControlLoop ; sai:controlLoopKind sai:Autoscaler ; sai:timescaleMs 60000.0 ;"
        f" sai:actuatesState sai:ReplicaCount ; sai:observesState sai:BatchComposition ; sai:governs :d{i} .",
    ]
    for k, (percentile, value) in enumerate(((50, 30.0), (99, 95.0))):
        lines.append(f":mt{i}-{k} a sai:Measurement ; sosa:observedProperty sai:TimePerOutputToken ;"
                     f" sosa:hasFeatureOfInterest :d{i} ; sai:percentile {percentile}.0 ; sosa:hasSimpleResult {value} ;"
                     f" sai:unit uom:MilliSEC . :fleet sai:hasMeasurement :mt{i}-{k} .")
    return "\n".join(lines)


def fleet(name: str, cells: int) -> str:
    head = PREFIXES.format(name=name) + "\n".join([
        ":fleet a sai:Deployment .",
        ":onprem a sai:Environment ; sai:environmentKind sai:OnPremises ; sai:storageLocality sai:LocalNVMeStorage .",
        ":cloud a sai:Environment ; sai:environmentKind sai:PublicCloud ; sai:storageLocality sai:NetworkAttachedStorage .",
        ":fleet sai:hasEnvironment :onprem , :cloud ; sai:hasModel :m0 , :m1 ; sai:hasMigrationPlan :move .",
        ":m0 a sai:Model ; sai:parametersBillions 70.0 ; sai:numLayers 80 ; sai:numKVHeads 8 ; sai:headDim 128 ;"
        " sai:weightDtype sai:BF16 ; sai:kvCacheDtype sai:BF16 .",
        ":m1 a sai:Model ; sai:parametersBillions 8.0 ; sai:numLayers 32 ; sai:numKVHeads 8 ; sai:headDim 128 ;"
        " sai:weightDtype sai:FP8 ; sai:kvCacheDtype sai:FP8 .",
        ":move a sai:MigrationPlan ; sai:sourceEnvironment :onprem ; sai:targetEnvironment :cloud ; sai:migrates :p0 , :d0 ;"
        " sai:involvesCodeChange false .",
    ] + [f":t{t} a sai:Tenant . :fleet sai:hasTenant :t{t} ." for t in range(TENANTS)])
    return head + "\n" + "\n".join(cell(i) for i in range(cells)) + "\n"


TRIPLES_PER_CELL = 480  # about; benchmarks/run.py reports the exact count


def cells_for(triples: int) -> int:
    return max(1, round(triples / TRIPLES_PER_CELL))


def fleet_file(triples: int, directory: Path) -> Path:
    """A fleet of about `triples` written to `directory/fleet-N.ttl`, as the benchmarks read it."""
    directory.mkdir(exist_ok=True)
    path = directory / f"fleet-{triples}.ttl"
    path.write_text(fleet(path.stem, cells_for(triples)))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("triples", type=int, help="approximate size in triples")
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    name = args.out.stem
    args.out.write_text(fleet(name, cells_for(args.triples)))


if __name__ == "__main__":
    main()
