"""KServe: LLMInferenceService (llm-d based, P/D) and InferenceService with a vLLM/Hugging Face runtime.

LLMInferenceService: decode (or colocated) pods are `spec.template` with `spec.replicas`; a `spec.prefill` block
adds prefill pods (`spec.prefill.replicas`, `spec.prefill.template`); `spec.worker` makes replicas multi-node;
`spec.parallelism` (tensor, pipeline, data, dataLocal, expert) sets the engine's parallelism; `spec.model.uri`
names the model (`hf://org/name`); `spec.router.scheduler` is KServe's inference scheduler, a request router.
Engine flags may also come through the `VLLM_ADDITIONAL_ARGS` env var (engine_args.py reads it).
InferenceService: `spec.predictor.model` (or `containers`) with `args`, `storageUri`, min/max replicas.
"""

from __future__ import annotations

from ..engine_args import Fact
from ..fragment import slug
from ..yamldocs import Doc, scalar
from .common import Loop, Workload, mapping, meta, read_pod_spec, replicas_fact

KINDS = {"LLMInferenceService", "InferenceService"}
PARALLELISM = (("tensor", "tp"), ("pipeline", "pp"), ("data", "dp"))


def read(doc: Doc, obj) -> tuple[list[Workload], list[Loop]]:
    if obj.get("kind") == "InferenceService":
        return _inference_service(doc, obj)
    name = str(meta(obj).get("name") or "llmisvc")
    spec = mapping(obj.get("spec"))
    annotations = mapping(meta(obj).get("annotations"))
    model = mapping(spec.get("model"))
    prefill = mapping(spec.get("prefill"))
    workloads = []
    decode = _role(doc, obj, spec, f"{name}-decode" if prefill else name, name, model, annotations)
    if prefill:
        decode.role = Fact("decode", doc.at(spec, "template") if "template" in spec else doc.at(spec),
                           "spec.template beside spec.prefill (KServe's decode pods)")
        workloads.append(decode)
        pre = _role(doc, obj, prefill, f"{name}-prefill", name, model, annotations)
        pre.role = Fact("prefill", doc.at(spec, "prefill"), "spec.prefill")
        if pre.engine.engine is None and decode.engine.engine:
            pre.engine.engine = decode.engine.engine
        workloads.append(pre)
    else:
        workloads.append(decode)
    loops = []
    router = mapping(spec.get("router"))
    if "scheduler" in router:
        loop = Loop(id=slug(f"{name}-scheduler"), kind="request-router", origin=doc.at(router, "scheduler"),
                    layer="serving", actuates=["routing-weights"], targets=[name])
        loop.description = f"KServe inference scheduler of {name} (router.scheduler): picks the pod for each request"
        loop.missing.append(("timescaleMs", "the scheduler decides per request and the manifest states no period; "
                             "write it by hand (e.g. timescaleMs: 5)."))
        loops.append(loop)
    return workloads, loops


def _role(doc: Doc, obj, spec, name: str, group: str, model, annotations) -> Workload:
    workload = Workload(name=name, stack="kserve", kind=str(obj.get("kind")), doc=doc, origin=doc.at(spec),
                        namespace=scalar(meta(obj).get("namespace")), group=group)
    workload.aliases.update({name, group})
    workload.replicas = replicas_fact(spec, "replicas", doc, "replicas")
    template = mapping(spec.get("template"))
    read_pod_spec(workload, template, doc)
    worker = mapping(spec.get("worker"))
    if worker and workload.gpus is None:
        read_pod_spec(workload, worker, doc)
    uri = scalar(model.get("uri"))
    if uri and workload.engine.get("model") is None:
        hub = uri.split("://", 1)[-1] if uri.startswith(("hf://", "huggingface://")) else uri
        workload.engine.set("model", hub, doc.at(model, "uri"), "spec.model.uri")
    served = scalar(model.get("name"))
    if served:
        workload.engine.set("served_model_name", served, doc.at(model, "name"), "spec.model.name")
    if workload.engine.engine is None:
        workload.engine.engine = "vllm"  # LLMInferenceService runs vLLM (llm-d images) unless told otherwise
        workload.notes.append(("engine: KServe LLMInferenceService runs vLLM (its default llm-d image)", doc.at(obj)))
    parallelism = mapping(spec.get("parallelism"))
    for key, fact in PARALLELISM:
        if key in parallelism:
            workload.engine.facts[fact] = Fact(int(str(parallelism[key])), doc.at(parallelism, key), f"parallelism.{key}")
    if parallelism.get("expert") in (True, "true"):
        workload.engine.facts["enable_expert_parallel"] = Fact(True, doc.at(parallelism, "expert"), "parallelism.expert")
    if worker and "data" in parallelism and "dataLocal" in parallelism:
        nodes = int(str(parallelism["data"])) // max(1, int(str(parallelism["dataLocal"])))
        workload.nodes_per_replica = Fact(nodes, doc.at(parallelism, "data"), "parallelism.data ÷ dataLocal")
    networks = annotations.get("k8s.v1.cni.cncf.io/networks")
    if networks:
        workload.networks = Fact(str(networks), doc.at(annotations, "k8s.v1.cni.cncf.io/networks"),
                                 "Multus secondary network")
    return workload


def _inference_service(doc: Doc, obj) -> tuple[list[Workload], list[Loop]]:
    name = str(meta(obj).get("name") or "isvc")
    predictor = mapping(mapping(obj.get("spec")).get("predictor"))
    workload = Workload(name=name, stack="kserve", kind="InferenceService", doc=doc, origin=doc.at(predictor),
                        namespace=scalar(meta(obj).get("namespace")))
    workload.aliases.update({name, f"{name}-predictor"})
    workload.replicas = replicas_fact(predictor, "minReplicas", doc, "predictor.minReplicas")
    model = mapping(predictor.get("model"))
    containers = [model] if model else list(predictor.get("containers") or [])
    read_pod_spec(workload, {**predictor, "containers": containers}, doc)
    uri = scalar(model.get("storageUri"))
    if uri and workload.engine.get("model") is None:
        workload.engine.set("model", uri.split("://", 1)[-1], doc.at(model, "storageUri"), "predictor.model.storageUri")
    if workload.engine.engine is None and mapping(model.get("modelFormat")).get("name") == "huggingface":
        workload.engine.engine = "vllm"
        workload.notes.append(("engine: the KServe Hugging Face runtime serves LLMs with vLLM by default",
                               doc.at(model, "modelFormat")))
    loops = []
    if "maxReplicas" in predictor:
        loop = Loop(id=slug(f"{name}-autoscaler"), kind="autoscaler", origin=doc.at(predictor, "maxReplicas"),
                    layer="capacity", actuates=["replica-count"], targets=[name])
        loop.description = (f"KServe autoscaling of {name}: {predictor.get('minReplicas', 1)}–"
                            f"{predictor.get('maxReplicas')} replicas")
        loop.missing.append(("timescaleMs", "the autoscaler's period is set cluster-wide (Knative or HPA), not in the "
                             "InferenceService; write timescaleMs by hand."))
        loops.append(loop)
    return [workload], loops
