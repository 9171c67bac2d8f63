"""vLLM production-stack Helm values (`servingEngineSpec.modelSpec[]`, `routerSpec`).

Values are not Kubernetes objects: each `modelSpec` entry becomes one vLLM Deployment named
`<release>-<name>-deployment-vllm` when the chart renders. Read: `modelURL`, `replicaCount`, `requestGPU`,
`vllmConfig` (`tensorParallelSize`, `pipelineParallelSize`, `dtype`, `maxModelLen`, `gpuMemoryUtilization`,
`maxNumSeqs`, `extraArgs`), `lmcacheConfig` (LMCache KV offloading/transfer), `nodeSelectorTerms`, and the
router (`routerSpec.routingLogic`). Comments are not read: a GPU model named only in a comment is not stated.
"""

from __future__ import annotations

from .. import engine_args
from ..engine_args import Fact, Token
from ..fragment import slug
from ..yamldocs import Doc, scalar
from .common import Loop, Workload, mapping, read_selector_terms

CONFIG_FACTS = {"tensorParallelSize": "tp", "pipelineParallelSize": "pp", "dtype": "dtype",
                "maxModelLen": "max_model_len", "gpuMemoryUtilization": "gpu_memory_utilization",
                "maxNumSeqs": "max_num_seqs", "kvCacheDtype": "kv_cache_dtype", "quantization": "quantization"}


def is_values(obj) -> bool:
    return isinstance(obj, dict) and "kind" not in obj and isinstance(obj.get("servingEngineSpec"), dict)


def read(doc: Doc, obj) -> tuple[list[Workload], list[Loop]]:
    engine_spec = mapping(obj.get("servingEngineSpec"))
    workloads = []
    for spec in engine_spec.get("modelSpec") or []:
        spec = mapping(spec)
        name = scalar(spec.get("name")) or "model"
        workload = Workload(name=slug(name), stack="production-stack", kind="Helm values (vllm-stack)", doc=doc,
                            origin=doc.at(spec))
        workload.aliases.update({name, f"{name}-deployment-vllm", f"vllm-{name}-deployment-vllm"})
        workload.engine.engine = "vllm"
        workload.engine.engine_origin = doc.at(spec)
        image = ":".join(filter(None, (scalar(spec.get("repository")), scalar(spec.get("tag")))))
        workload.image = image or None
        if spec.get("modelURL") is not None:
            workload.engine.set("model", scalar(spec["modelURL"]), doc.at(spec, "modelURL"), "modelURL")
        if spec.get("replicaCount") is not None:
            workload.replicas = Fact(int(str(spec["replicaCount"])), doc.at(spec, "replicaCount"), "replicaCount")
        else:
            workload.replicas = Fact(1, doc.at(spec), "replicaCount absent (chart default 1)")
        if spec.get("requestGPU") is not None:
            workload.gpus = Fact((int(float(str(spec["requestGPU"]))), spec.get("requestGPUType") or "nvidia.com/gpu"),
                                 doc.at(spec, "requestGPU"), "requestGPU")
        config = mapping(spec.get("vllmConfig"))
        for key, fact in CONFIG_FACTS.items():
            if config.get(key) is not None:
                workload.engine.set(fact, scalar(config[key]), doc.at(config, key), f"vllmConfig.{key}")
        extra = config.get("extraArgs") or []
        if isinstance(extra, list):
            tokens = [Token(str(a), doc.at(extra, i)) for i, a in enumerate(extra)]
            parsed = engine_args.parse(tokens)
            for fact_name, fact in parsed.facts.items():
                workload.engine.facts.setdefault(fact_name, fact)
        lmcache = mapping(spec.get("lmcacheConfig"))
        if lmcache and str(lmcache.get("enabled")).lower() == "true":
            workload.engine.set("kv_connector", "LMCacheConnectorV1", doc.at(lmcache, "enabled"), "lmcacheConfig.enabled")
        read_selector_terms(workload, spec.get("nodeSelectorTerms") or [], doc)
        workloads.append(workload)
    loops = []
    router = mapping(obj.get("routerSpec"))
    if router and str(router.get("enableRouter", True)).lower() != "false":
        logic = scalar(router.get("routingLogic")) or "roundrobin"
        loop = Loop(id="vllm-router", kind="request-router", origin=doc.at(obj, "routerSpec"), layer="serving",
                    actuates=["routing-weights"], targets=[w.name for w in workloads])
        loop.description = f"production-stack router, routingLogic {logic}"
        loop.missing.append(("timescaleMs", "the router decides per request; write timescaleMs by hand."))
        loops.append(loop)
    return workloads, loops
