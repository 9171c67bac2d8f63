"""Autoscalers as control loops: HorizontalPodAutoscaler and KEDA ScaledObject.

Both actuate the replica count of the workload named by `scaleTargetRef`. KEDA polls its triggers every
`pollingInterval` seconds (default 30); the HPA controller re-evaluates every 15 s (kube-controller-manager's
`--horizontal-pod-autoscaler-sync-period` default; the object cannot state it). What a loop observes comes from
its metric: vLLM's waiting requests are queue depth, its KV-cache usage is KV-cache occupancy, GPU utilisation
is accelerator utilisation.
"""

from __future__ import annotations

from ..engine_args import Fact
from ..fragment import slug
from ..yamldocs import Doc, scalar
from .common import Loop, mapping, meta

KINDS = {"HorizontalPodAutoscaler", "ScaledObject"}
OBSERVED = (("num_requests_waiting", "queue-depth"), ("queue", "queue-depth"), ("kv_cache_usage", "kv-cache-occupancy"),
            ("gpu_cache_usage", "kv-cache-occupancy"), ("dcgm_fi_dev_gpu_util", "accelerator-utilization"),
            ("dcgm_fi_prof", "accelerator-utilization"), ("num_requests_running", "batch-composition"))
KEDA_DEFAULT_POLLING_S = 30
HPA_SYNC_PERIOD_S = 15


def read(doc: Doc, obj) -> tuple[list, list[Loop]]:
    name = str(meta(obj).get("name") or "autoscaler")
    spec = mapping(obj.get("spec"))
    target = mapping(spec.get("scaleTargetRef"))
    loop = Loop(id=slug(name), kind="autoscaler", origin=doc.at(obj), layer="capacity", actuates=["replica-count"])
    target_name = scalar(target.get("name"))
    if target_name:
        loop.targets = [target_name]
    texts: list[str] = []
    if obj.get("kind") == "ScaledObject":
        if "pollingInterval" in spec:
            seconds = float(str(spec["pollingInterval"]))
            loop.timescale_ms = Fact(seconds * 1000, doc.at(spec, "pollingInterval"), f"pollingInterval {seconds:g} s")
        else:
            loop.timescale_ms = Fact(KEDA_DEFAULT_POLLING_S * 1000, doc.at(spec),
                                     f"pollingInterval absent: KEDA's default {KEDA_DEFAULT_POLLING_S} s")
        for trigger in spec.get("triggers") or []:
            metadata = mapping(mapping(trigger).get("metadata"))
            texts.extend(str(metadata.get(k, "")) for k in ("query", "metricName"))
            texts.append(str(mapping(trigger).get("type", "")))
        bounds = f"{spec.get('minReplicaCount', 0)}–{spec.get('maxReplicaCount', 100)} replicas"
        cooldown = spec.get("cooldownPeriod")
        loop.description = (f"KEDA ScaledObject {name} on {target.get('kind', 'Deployment')} {target_name}: {bounds}"
                            + (f", cooldown {cooldown} s" if cooldown is not None else "")
                            + "; triggers: " + ", ".join(dict.fromkeys(t for t in texts if t)))
    else:
        loop.timescale_ms = Fact(HPA_SYNC_PERIOD_S * 1000, doc.at(obj),
                                 f"the HPA controller's default sync period, {HPA_SYNC_PERIOD_S} s")
        for metric in spec.get("metrics") or []:
            metric = mapping(metric)
            for block in ("resource", "pods", "object", "external"):
                inner = mapping(metric.get(block))
                texts.append(str(inner.get("name", "")) + str(mapping(inner.get("metric")).get("name", "")))
        loop.description = (f"HorizontalPodAutoscaler {name} on {target.get('kind', '')} {target_name}: "
                            f"{spec.get('minReplicas', 1)}–{spec.get('maxReplicas')} replicas; metrics: "
                            + ", ".join(t for t in texts if t))
    joined = " ".join(texts).lower()
    for marker, state in OBSERVED:
        if marker in joined and state not in loop.observes:
            loop.observes.append(state)
    return [], [loop]
