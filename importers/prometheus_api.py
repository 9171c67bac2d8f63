"""`sortai import metrics --prometheus URL --window 5m [--at TIME]`: the same metrics, from a Prometheus server.

Instead of cumulative snapshots, the server gives values over a window (PromQL, HTTP API `/api/v1/query`):
histogram quantiles `histogram_quantile(q, rate(<name>_bucket[w]))` (PromQL interpolates inside the bucket just
as metrics.py does for files), means `rate(<name>_sum[w]) / rate(<name>_count[w])`, gauges
`avg_over_time(<name>[w])`, counters `rate(<name>[w])` per second. Every value keeps its query as its origin.
Only the server the user names is queried.
"""

from __future__ import annotations

import json
import math
import re
import urllib.error
import urllib.parse
import urllib.request

from prometheus_client.metrics_core import Metric

from sortai.reasoner.problems import InputError, Location, Problem

from . import metrics
from .fragment import Fragment

TIMEOUT_S = 30
HOST_FAMILIES = ("DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED", "DCGM_FI_PROF_SM_ACTIVE", "nvidia_smi_gpu_info",
                 "nvidia_smi_mig_mode_current")


def iso_window(window: str) -> str:
    match = re.fullmatch(r"(\d+)([smhd])", window.strip())
    if not match:
        raise InputError([Problem(f"window '{window}' is not a PromQL duration such as 30s, 5m, 1h, 7d",
                                  Location("--window"), code="usage")])
    number, unit = match.groups()
    return f"P{number}D" if unit == "d" else f"PT{number}{unit.upper()}"


class Client:
    def __init__(self, url: str, at: str | None):
        self.url = url.rstrip("/")
        self.at = at

    def query(self, promql: str) -> list[dict]:
        params = {"query": promql}
        if self.at:
            params["time"] = self.at
        address = f"{self.url}/api/v1/query?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(address, timeout=TIMEOUT_S) as response:  # noqa: S310 — the user's server
                body = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")[:300]
            raise InputError([Problem(f"Prometheus refused the query {promql!r}: HTTP {exc.code} {detail}",
                                      Location(self.url), code="prometheus")]) from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise InputError([Problem(f"cannot query Prometheus at {self.url}: {getattr(exc, 'reason', exc)}",
                                      Location(self.url), code="prometheus",
                                      fix="check the URL (e.g. http://127.0.0.1:9090) and that the server is up.")]) from None
        if body.get("status") != "success":
            raise InputError([Problem(f"Prometheus error for {promql!r}: {body.get('error')}", Location(self.url),
                                      code="prometheus")])
        return body.get("data", {}).get("result", [])


def import_prometheus(url: str, window: str = "5m", at: str | None = None, fragment: Fragment | None = None) -> Fragment:
    fragment = fragment or Fragment()
    iso = iso_window(window)
    client = Client(url, at)
    scrape = metrics.Scrape(f"prometheus {client.url}")
    names = sorted(set(metrics.exported_names()) | set(metrics.SYNONYMS))
    for name in names:
        mapped = metrics.metric_for(name)
        if mapped is None:
            continue
        metric, why = mapped
        family = name.removesuffix("_total")
        if metric in metrics.LATENCY_METRICS:
            _histogram(client, family, metric, why, window, iso, scrape)
        elif name.endswith("_total"):
            _series(client, f"rate({name}[{window}])", metric, why + f"; per-second rate over {window}", iso, scrape,
                    "requests-per-s", name)
        else:
            _series(client, f"avg_over_time({name}[{window}])", metric, why + f"; mean over {window}", iso, scrape,
                    None, name)
    for name in HOST_FAMILIES:
        family = Metric(name, "", "gauge")
        for result in client.query(f"last_over_time({name}[{window}])"):
            value = float(result["value"][1])
            family.add_sample(name, {k: v for k, v in result["metric"].items() if k != "__name__"}, value)
        scrape.families.append(family)
    fragment.sources.append(scrape.file)
    if not scrape.observations:
        fragment.problem(f"Prometheus at {client.url} has no series of the metrics SORT-AI maps over the last {window}",
                         Location(client.url), severity="warning", code="empty",
                         fix="check that it scrapes the vLLM/SGLang and DCGM exporters, and the window.")
    metrics.add_scrape(scrape, fragment)
    return fragment


def _origin(client: Client, promql: str) -> Location:
    return Location(f"{client.url} query {promql}" + (f" at {client.at}" if client.at else ""))


def _series(client, promql, metric, why, iso, scrape, unit_override, name) -> None:
    for result in client.query(promql):
        value = float(result["value"][1])
        if math.isnan(value):
            continue
        labels = {k: v for k, v in result["metric"].items() if k != "__name__"}
        scaled, unit, how = metrics._scale(name, metric, value, why)
        if scaled is None:
            continue
        if unit_override:
            scaled, unit = round(value, 6), unit_override
        scrape.observations.append(metrics.Observation(metric, scaled, unit, labels, _origin(client, promql), name,
                                                       how, window=iso))


def _histogram(client, family, metric, why, window, iso, scrape) -> None:
    mean = f"rate({family}_sum[{window}]) / rate({family}_count[{window}])"
    for result in client.query(mean):
        value = float(result["value"][1])
        if math.isnan(value):
            continue
        labels = {k: v for k, v in result["metric"].items() if k != "__name__"}
        scrape.observations.append(metrics.Observation(metric, round(value * 1000, 6), "ms", labels,
                                                       _origin(client, mean), family,
                                                       f"mean = rate(sum) / rate(count) over {window}; {why}",
                                                       window=iso))
    for quantile in (0.5, 0.99):
        promql = f"histogram_quantile({quantile}, rate({family}_bucket[{window}]))"
        for result in client.query(promql):
            value = float(result["value"][1])
            if math.isnan(value) or math.isinf(value):
                continue
            labels = {k: v for k, v in result["metric"].items() if k not in ("__name__", "le")}
            scrape.observations.append(metrics.Observation(
                metric, round(value * 1000, 6), "ms", labels, _origin(client, promql), family,
                f"p{quantile * 100:g} by PromQL histogram_quantile (linear interpolation inside the bucket) over "
                f"{window}; {why}", percentile=quantile * 100, window=iso))
