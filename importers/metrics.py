"""`sortai import metrics`: Prometheus text exposition (vLLM/SGLang `/metrics`, DCGM exporter,
nvidia_gpu_exporter) into `measurements`, parsed by `prometheus_client.parser`.

A metric maps one to one to the ontology's metric individual whose `sai:exportedAs` names it; the names other
versions and exporters use for the same quantity are in `SYNONYMS` below, each with the reason it is the same
quantity. Histograms become p50 and p99 by linear interpolation inside the bucket that holds the quantile (the
method of PromQL's histogram_quantile; the value is an estimate bounded by the bucket edges) and a mean
(sum / count). A snapshot's histograms and counters are cumulative since the process started, and the file has
no scrape time: their window is reported as unknown. Everything read but not mapped is listed, never dropped.
Series without labels cannot be attributed to a GPU or engine and are reported as ignored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from sortai.reasoner import resources
from sortai.reasoner.problems import InputError, Location, Problem
from sortai.reasoner.vocabulary import vocabulary

from . import catalog
from .fragment import Element, Fragment, slug
from .yamldocs import read_text

# name (family name as exposed; counters also without `_total`) -> (metric, scale to the unit, unit, why)
SYNONYMS = {
    "vllm:gpu_cache_usage_perc": ("kv-cache-usage", "vLLM V0 name of vllm:kv_cache_usage_perc (renamed in V1)"),
    "vllm:inter_token_latency_seconds": ("tpot", "vLLM V1 per-token latency histogram; the V0 name was "
                                         "vllm:time_per_output_token_seconds"),
    "vllm:request_time_per_output_token_seconds": ("tpot", "vLLM V1 per-request mean TPOT histogram"),
    "sglang:time_to_first_token_seconds": ("ttft", "SGLang's TTFT histogram"),
    "sglang:time_per_output_token_seconds": ("tpot", "SGLang's TPOT histogram"),
    "sglang:inter_token_latency_seconds": ("tpot", "SGLang's per-token latency histogram"),
    "sglang:e2e_request_latency_seconds": ("e2e-latency", "SGLang's end-to-end latency histogram"),
    "sglang:queue_time_seconds": ("queue-time", "SGLang's queueing-time histogram"),
    "sglang:num_queue_reqs": ("requests-waiting", "SGLang's queued requests gauge"),
    "sglang:num_running_reqs": ("requests-running", "SGLang's running requests gauge"),
    "sglang:token_usage": ("kv-cache-usage", "SGLang's fraction of KV-cache token slots in use"),
    "nvidia_smi_utilization_gpu_ratio": ("gpu-utilization", "nvidia_gpu_exporter's nvidia-smi utilization.gpu "
                                         "(GPU-Util), as a ratio"),
    "nvidia_smi_memory_used_bytes": ("framebuffer-used", "nvidia_gpu_exporter's nvidia-smi memory.used, in bytes"),
}
# Precedence when several names for one metric are present in one component's series: the first listed wins.
TPOT_PREFERENCE = ("vllm:request_time_per_output_token_seconds", "vllm:time_per_output_token_seconds",
                   "sglang:time_per_output_token_seconds", "vllm:inter_token_latency_seconds",
                   "sglang:inter_token_latency_seconds")
# Exposed as a ratio 0..1 by every exporter mapped here (DCGM_FI_PROF_*, vLLM and SGLang cache usage).
PERCENT_FROM_RATIO = {"kv-cache-usage", "sm-active", "tensor-active", "dram-active"}
RATIO_NAMES = {"nvidia_smi_utilization_gpu_ratio"}
BYTES_NAMES = {"nvidia_smi_memory_used_bytes"}
COUNT_METRICS = {"requests-waiting", "requests-running", "preemptions"}
LATENCY_METRICS = {"ttft", "tpot", "e2e-latency", "queue-time"}
IDENTITY_LABELS = ("pod", "namespace", "model_name", "model", "engine", "Hostname", "hostname", "instance", "UUID",
                   "uuid", "gpu", "GPU_I_PROFILE", "GPU_I_ID", "modelName", "container", "exported_pod")
NOT_DERIVABLE = {
    "nvidia_smi_utilization_memory_ratio": "nvidia-smi's utilization.memory is the share of time memory was read "
                                           "or written, not the share of memory bandwidth used: not dram-active",
    "DCGM_FI_DEV_MEM_COPY_UTIL": "the share of time the memory copy engine was busy, not memory bandwidth used: "
                                 "not dram-active",
}


@cache
def exported_names() -> dict[str, str]:
    """sai:exportedAs name -> description metric value, from the ontology."""
    by_iri = {iri: written for written, iri in vocabulary().terms["metric"].enum}
    names = {}
    for t in resources.ontology_triples():
        if t.predicate.value == resources.SAI + "exportedAs" and t.subject.value in by_iri:
            names[t.object.value] = by_iri[t.subject.value]
    return names


def metric_for(family: str) -> tuple[str, str] | None:
    """(metric, why) for a family name, through sai:exportedAs or the synonym table."""
    names = exported_names()
    for candidate in (family, family + "_total"):
        if candidate in names:
            return names[candidate], f"sai:exportedAs {candidate}"
        if candidate in SYNONYMS:
            return SYNONYMS[candidate]
    return None


@dataclass
class Observation:
    metric: str
    value: float
    unit: str
    labels: dict[str, str]
    origin: Location
    source_name: str
    how: str
    percentile: float | None = None
    window: str | None = None
    samples: float | None = None


@dataclass
class Scrape:
    file: str
    observations: list[Observation] = field(default_factory=list)
    unmapped: dict[str, Location] = field(default_factory=dict)
    series_lines: dict[tuple, int] = field(default_factory=dict)
    families: list = field(default_factory=list)


def _line_index(text: str, file: str) -> tuple[dict[tuple, int], int]:
    """(sample name, labels) -> line, parsing each sample line on its own; a line the parser refuses is an error."""
    index: dict[tuple, int] = {}
    typed = 0
    for number, line in enumerate(text.split("\n"), 1):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            typed += stripped.startswith("# TYPE ")
            continue
        try:
            for family in text_string_to_metric_families(stripped + "\n"):
                for sample in family.samples:
                    index.setdefault((sample.name, tuple(sorted(sample.labels.items()))), number)
        except (ValueError, IndexError, TypeError) as exc:
            raise InputError([Problem(f"not Prometheus text exposition: {exc}", Location(file, number), code="syntax",
                                      fix="give the text a /metrics endpoint serves (curl http://host:port/metrics).")]) from None
    return index, typed


def parse(text: str, file: str, problems: list[Problem], window: str | None = None) -> Scrape:
    scrape = Scrape(file)
    scrape.series_lines, typed = _line_index(text, file)
    if not scrape.series_lines:
        raise InputError([Problem("no samples: not a Prometheus exposition", Location(file, 1), code="empty",
                                  fix="give the text a /metrics endpoint serves.")])
    if typed == 0:
        problems.append(Problem("the exposition has no '# TYPE' lines, so histograms cannot be told from gauges: "
                                "only plain gauges were read", Location(file, 1), severity="warning", code="no-types",
                                fix="give the scrape as the endpoint serves it (with its # HELP and # TYPE lines)."))
    try:
        scrape.families = list(text_string_to_metric_families(text))
    except (ValueError, IndexError, TypeError) as exc:
        raise InputError([Problem(f"not Prometheus text exposition: {exc}", Location(file, 1), code="syntax")]) from None
    for family in scrape.families:
        _family(family, scrape, problems, window, typed > 0)
    return scrape


def _line(scrape: Scrape, sample) -> Location:
    line = scrape.series_lines.get((sample.name, tuple(sorted(sample.labels.items()))))
    if line is None:  # the whole-text parse may name a sample differently (counter suffixes): match by labels
        line = next((n for (name, labels), n in scrape.series_lines.items()
                     if labels == tuple(sorted(sample.labels.items())) and sample.name.startswith(name)), None)
    return Location(scrape.file, line)


def _family(family, scrape: Scrape, problems, window, typed: bool) -> None:
    mapped = metric_for(family.name)
    name = family.name
    for sample in family.samples:
        if not sample.labels:
            problems.append(Problem(f"{sample.name} has no labels: it cannot be attributed to a GPU or an engine, "
                                    "ignored", _line(scrape, sample), severity="info", code="unlabelled"))
    if mapped is None and family.type == "unknown" and not typed:
        for suffix in ("_bucket", "_count", "_sum"):
            if name.endswith(suffix) and metric_for(name[: -len(suffix)]):
                scrape.unmapped.setdefault(name, _line(scrape, family.samples[0]))
                return
    if mapped is None:
        if family.samples:
            scrape.unmapped.setdefault(name, _line(scrape, family.samples[0]))
        return
    metric, why = mapped
    labelled = [s for s in family.samples if s.labels and set(s.labels) - {"le"}]
    if family.type == "histogram":
        _histogram(family, metric, why, scrape, problems, window)
        return
    for sample in labelled:
        value, unit, how = _scale(name, metric, sample.value, why)
        if value is None:
            continue
        note = how
        if family.type == "counter" and metric not in COUNT_METRICS:
            scrape.unmapped.setdefault(f"{name} (a counter: {metric} needs its rate, from two scrapes or "
                                       "--prometheus)", _line(scrape, sample))
            continue
        if family.type == "counter":
            note += "; a counter, cumulative since the process started (no rate without two scrapes)"
        scrape.observations.append(Observation(metric, value, unit, dict(sample.labels), _line(scrape, sample), name,
                                               note, window=window))


def _scale(name: str, metric: str, value: float, why: str):
    if math.isnan(value) or math.isinf(value) or value < 0:
        return None, None, why
    if name in RATIO_NAMES or metric in PERCENT_FROM_RATIO:
        return round(value * 100, 6), "percent", f"{why}; ratio × 100 = percent"
    if name in BYTES_NAMES:
        return round(value / 2 ** 20, 3), "mib", f"{why}; bytes ÷ 2^20 = MiB"
    if metric in ("gpu-utilization", "sm-active", "tensor-active", "dram-active", "kv-cache-usage"):
        return value, "percent", why
    if metric == "framebuffer-used":
        return value, "mib", why
    if metric in COUNT_METRICS:
        return value, "count", why
    if metric in LATENCY_METRICS:
        return round(value * 1000, 6), "ms", f"{why}; seconds × 1000 = ms"
    return value, "count", why


def _histogram(family, metric, why, scrape: Scrape, problems, window) -> None:
    groups: dict[tuple, dict] = {}
    for sample in family.samples:
        key = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "le"))
        group = groups.setdefault(key, {"buckets": [], "count": None, "sum": None, "line": None})
        if sample.name.endswith("_bucket"):
            group["buckets"].append((float(sample.labels["le"]), sample.value))
            group["line"] = group["line"] or _line(scrape, sample)
        elif sample.name.endswith("_count"):
            group["count"] = sample.value
        elif sample.name.endswith("_sum"):
            group["sum"] = sample.value
    for key, group in groups.items():
        labels = dict(key)
        where = group["line"] or Location(scrape.file)
        count = group["count"] if group["count"] is not None else max((c for _, c in group["buckets"]), default=0)
        if not count:
            problems.append(Problem(f"{family.name}{_labels(labels)}: no samples yet (count 0), nothing to measure",
                                    where, severity="info", code="empty-histogram"))
            continue
        note = (f"{why}; cumulative since the engine started ({count:g} samples)" if window is None
                else f"{why}; over {window} ({count:g} samples)")
        if group["sum"] is not None:
            scrape.observations.append(Observation(metric, round(group["sum"] / count * 1000, 6), "ms", labels, where,
                                                   family.name, f"mean = sum / count; {note}", window=window,
                                                   samples=count))
        for quantile in (0.5, 0.99):
            value, bounded = quantile_from_buckets(group["buckets"], quantile)
            if value is None:
                continue
            how = (f"p{quantile * 100:g} by linear interpolation inside its histogram bucket (as PromQL "
                   f"histogram_quantile); {note}")
            if bounded:
                how += "; the quantile falls in the +Inf bucket: the value is the highest finite bucket bound, a floor"
            scrape.observations.append(Observation(metric, round(value * 1000, 6), "ms", labels, where, family.name,
                                                   how, percentile=quantile * 100, window=window, samples=count))
        if count < 20:
            problems.append(Problem(f"{family.name}{_labels(labels)}: percentiles from only {count:g} sample(s) are "
                                    "bucket-edge estimates, not observed values", where, severity="info",
                                    code="few-samples"))


def quantile_from_buckets(buckets: list[tuple[float, float]], q: float) -> tuple[float | None, bool]:
    """PromQL histogram_quantile on cumulative buckets: (value, whether it fell in the +Inf bucket)."""
    buckets = sorted(buckets)
    if not buckets or buckets[-1][0] != math.inf:
        return None, False
    total = buckets[-1][1]
    if total <= 0:
        return None, False
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for upper, cumulative in buckets:
        if cumulative >= rank:
            if math.isinf(upper):
                finite = [b for b, _ in buckets if not math.isinf(b)]
                return (finite[-1] if finite else None), True
            if cumulative == lower_count:
                return upper, False
            return lower_bound + (upper - lower_bound) * (rank - lower_count) / (cumulative - lower_count), False
        lower_bound, lower_count = upper, cumulative
    return None, False


def _labels(labels: dict) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}" if labels else ""


# --- into the description ----------------------------------------------------------------------------


def import_metrics(paths: list[str | Path], fragment: Fragment | None = None, window: str | None = None) -> Fragment:
    fragment = fragment or Fragment()
    for path in paths:
        text = read_text(path)
        scrape = parse(text, str(path), fragment.problems, window)
        fragment.sources.append(str(path))
        add_scrape(scrape, fragment)
    return fragment


def add_scrape(scrape: Scrape, fragment: Fragment) -> None:
    _gpu_nodes(scrape, fragment)
    _select_tpot(scrape)
    for observation in scrape.observations:
        measurement_element(observation, fragment)
    if scrape.unmapped:
        listed = ", ".join(f"{name} (line {where.line})" for name, where in sorted(scrape.unmapped.items()))
        fragment.problem(f"{len(scrape.unmapped)} metric famil(ies) read but with no SORT-AI metric: {listed}",
                         Location(scrape.file), severity="info", code="unmapped")
    for name, reason in NOT_DERIVABLE.items():
        if name in scrape.unmapped:
            fragment.problem(f"{name} not used: {reason}", scrape.unmapped[name], severity="info", code="not-derivable")


def _select_tpot(scrape: Scrape) -> None:
    """One TPOT source per component: the first of TPOT_PREFERENCE that is present."""
    by_component: dict[tuple, set[str]] = {}
    for o in scrape.observations:
        if o.metric == "tpot":
            by_component.setdefault(_identity(o.labels), set()).add(o.source_name)
    keep = {k: next((n for n in TPOT_PREFERENCE if n in names), sorted(names)[0]) for k, names in by_component.items()}
    dropped = {(k, n) for k, names in by_component.items() for n in names if n != keep[k]}
    for key, name in sorted(dropped):
        scrape.unmapped.setdefault(f"{name} (tpot also read from {keep[key]}, which is preferred)",
                                   next(o.origin for o in scrape.observations if o.source_name == name))
    scrape.observations = [o for o in scrape.observations
                           if not (o.metric == "tpot" and (_identity(o.labels), o.source_name) in dropped)]


def _identity(labels: dict) -> tuple:
    return tuple(sorted((k, v) for k, v in labels.items() if k in IDENTITY_LABELS))


def measurement_element(o: Observation, fragment: Fragment) -> Element:
    suffix = f"-p{o.percentile:g}" if o.percentile is not None else ("-mean" if o.samples else "")
    who = o.labels.get("pod") or o.labels.get("model_name") or o.labels.get("Hostname") or o.labels.get("uuid") \
        or o.labels.get("UUID") or "series"
    element = Element(slug(f"{o.metric}-{who}{suffix}"), origin=o.origin)
    element.set("metric", o.metric, o.origin, f"{o.metric} from {o.source_name}")
    element.set("value", o.value, o.origin, o.how)
    element.set("unit", o.unit, o.origin)
    if o.percentile is not None:
        element.set("percentile", o.percentile, o.origin)
    if o.window:
        element.set("window", o.window, o.origin)
    element.set("description", f"{o.source_name}{_labels(o.labels)}: {o.how}")
    element.meta.update({"labels": dict(o.labels), "observation": True})
    return fragment.add("measurements", element)


def _gpu_nodes(scrape: Scrape, fragment: Fragment) -> None:
    """GPUs the exporter labels (DCGM: Hostname, UUID, modelName; nvidia_gpu_exporter: gpu_info) as hosts."""
    hosts: dict[str, dict] = {}
    for family in scrape.families:
        for sample in family.samples:
            labels = sample.labels
            uuid = labels.get("UUID") or labels.get("uuid")
            product = labels.get("modelName") or (labels.get("name") if family.name == "nvidia_smi_gpu_info" else None)
            if not uuid or (not product and family.name != "nvidia_smi_mig_mode_current"):
                continue
            host = labels.get("Hostname") or labels.get("hostname") or f"gpu-{uuid.removeprefix('GPU-')[:8]}"
            entry = hosts.setdefault(host, {"uuids": {}, "products": {}, "mig": None, "gpu_index": {}})
            if product:
                entry["products"].setdefault(product, _line(scrape, sample))
                entry["uuids"].setdefault(uuid, _line(scrape, sample))
                if labels.get("gpu"):
                    entry["gpu_index"].setdefault(labels["gpu"], set()).add(uuid)
            if family.name == "nvidia_smi_mig_mode_current" and sample.value == 1:
                entry["mig"] = _line(scrape, sample)
            if labels.get("GPU_I_PROFILE"):
                entry.setdefault("profiles", set()).add(labels["GPU_I_PROFILE"])
    indices: dict[str, set] = {}
    for host, entry in hosts.items():
        for index, uuids in entry["gpu_index"].items():
            indices.setdefault(index, set()).update(uuids)
    for index, uuids in indices.items():
        if len(uuids) > 1:
            fragment.problem(f"gpu=\"{index}\" appears with {len(uuids)} different UUIDs on "
                             f"{len(hosts)} host name(s): these are different GPUs (two scrapes concatenated?), "
                             "counted once per UUID on their own hosts", Location(scrape.file), severity="warning",
                             code="duplicate-gpu-index")
    for host, entry in hosts.items():
        if not entry["products"]:
            continue
        product, where = next(iter(entry["products"].items()))
        node = Element(slug(f"host-{host}"), origin=where)
        node.meta.update({"inventory": True, "kind": "metrics", "hostnames": [host], "uuids": list(entry["uuids"])})
        node.note("", f"from the GPU exporter's labels in {scrape.file}")
        model = catalog.accelerator_for_product(product)
        if model:
            node.set("accelerator", model, where, f"accelerator {model}: the catalog's product name '{product}'")
        else:
            fragment.problem(f"GPU product '{product}' is not a product name the catalog knows", where,
                             element=node.id, key="accelerator", severity="violation", code="unknown-product",
                             fix="write accelerator: <catalog name> by hand, or add it as sai:productName.")
        node.set("acceleratorsPerNode", len(entry["uuids"]), where, f"{len(entry['uuids'])} distinct GPU UUID(s)")
        profiles = entry.get("profiles")
        if entry["mig"] or profiles:
            node.set("virtualization.gpu", "mig", entry["mig"] or where, "MIG mode enabled")
            if profiles and len(profiles) == 1:
                node.set("virtualization.migProfile", next(iter(profiles)), where, "GPU_I_PROFILE label")
            else:
                fragment.problem("MIG is enabled but the metrics do not name one MIG profile" +
                                 (f" (profiles: {', '.join(sorted(profiles))})" if profiles else ""),
                                 entry["mig"] or where, element=node.id, key="virtualization.migProfile",
                                 severity="violation", code="missing",
                                 fix="add nvidia-smi -L output (it lists the MIG devices), or write migProfile by hand.")
        fragment.add("nodes", node)
