"""`sortai import metrics` on the real snapshots of tests/artefacts/metrics, and `--prometheus` against a real
Prometheus server on loopback."""

from __future__ import annotations

import http.server
import shutil
import socket
import subprocess
import threading
import time
import urllib.request

import pytest

from sortai.importers import merge, metrics
from sortai.importers.metrics import import_metrics, quantile_from_buckets
from sortai.importers.prometheus_api import import_prometheus

from .conftest import ROOT

METRICS = ROOT / "tests" / "artefacts" / "metrics"


def measured(fragment):
    return {(m.get("metric"), m.get("percentile"), "mean" if "mean" in m.id else ""): m.get("value")
            for m in fragment.elements("measurements")}


def test_m1_vllm_v0_snapshot():
    f = merge.merge([import_metrics([METRICS / "datadog-vllm-opt-125m.prom"])])
    values = measured(f)
    assert values[("ttft", None, "mean")] == pytest.approx(313.26723098754883)
    assert values[("tpot", None, "mean")] == pytest.approx(190.16313552856445 / 6, rel=1e-6)
    assert values[("e2e-latency", None, "mean")] == pytest.approx(503.4303665161133)
    # One TTFT sample in (0.25, 0.5]: interpolation puts p50 at 0.25 + 0.25 × 0.5 s.
    assert values[("ttft", 50, "")] == pytest.approx(375.0) and values[("ttft", 99, "")] == pytest.approx(497.5)
    assert values[("kv-cache-usage", None, "")] == 0 and values[("requests-waiting", None, "")] == 0
    assert values[("requests-running", None, "")] == 0 and values[("preemptions", None, "")] == 0
    assert "vllm:gpu_cache_usage_perc" in " ".join(m.get("description") for m in f.elements("measurements"))
    assert ("throughput", None, "") not in values  # a counter snapshot has no rate
    unmatched = [p for p in f.problems if p.code == "unmatched"]
    assert unmatched and all(p.severity == "violation" for p in unmatched)  # no pool serves facebook/opt-125m
    assert any(p.code == "unmapped" and "process_cpu_seconds" in p.message for p in f.problems)


def test_m2_dcgm_two_scrapes_are_two_gpus_on_two_hosts():
    f = merge.merge([import_metrics([METRICS / "datadog-dcgm-t4.prom"])])
    hosts = {n.id: n for n in f.elements("nodes")}
    assert set(hosts) == {"host-424773df46e0", "host-551bdf382151"}
    assert all(n.get("accelerator") == "T4" and n.get("acceleratorsPerNode") == 1 for n in hosts.values())
    assert any(p.code == "duplicate-gpu-index" for p in f.problems)
    values = {(m.get("metric"), m.get("component")): m.get("value") for m in f.elements("measurements")}
    assert values == {("gpu-utilization", "host-424773df46e0"): 0, ("framebuffer-used", "host-424773df46e0"): 0}
    assert any(p.code == "unlabelled" for p in f.problems)  # the dummy block at the end
    assert not any(m.get("metric") in ("sm-active", "dram-active") for m in f.elements("measurements"))


def test_m3_nvidia_gpu_exporter_kept_apart_from_dcgm():
    f = merge.merge([import_metrics([METRICS / "nvidia-gpu-exporter-h100-mig-load.prom"])])
    node = f.elements("nodes")[0]
    assert (node.get("accelerator"), node.get("virtualization.gpu")) == ("H100-SXM", "mig")
    used = [m for m in f.elements("measurements") if m.get("metric") == "framebuffer-used"]
    assert used[0].get("value") == pytest.approx(1.1665408e10 / 2 ** 20) and used[0].get("unit") == "mib"
    assert not any(m.get("metric") in ("dram-active", "gpu-utilization") for m in f.elements("measurements"))
    unmapped = " ".join(p.message for p in f.problems if p.code == "unmapped")
    assert "nvidia_smi_mig_mode_current" in unmapped and "nvidia_smi_power_draw_watts" in unmapped


def test_histogram_quantile_interpolation_against_a_hand_computed_value():
    buckets = [(0.1, 10), (0.5, 60), (1.0, 90), (float("inf"), 100)]
    assert quantile_from_buckets(buckets, 0.5)[0] == pytest.approx(0.1 + 0.4 * (50 - 10) / 50)
    assert quantile_from_buckets(buckets, 0.99) == (1.0, True)  # in +Inf: the highest finite bound, flagged


def test_synonyms_are_documented_and_name_a_metric():
    for name, (metric, why) in metrics.SYNONYMS.items():
        assert metric in {w for w, _ in metrics.vocabulary().terms["metric"].enum} and why
    assert metrics.metric_for("vllm:kv_cache_usage_perc")[0] == "kv-cache-usage"  # via sai:exportedAs
    assert metrics.metric_for("DCGM_FI_DEV_GPU_UTIL")[0] == "gpu-utilization"


PROMETHEUS = shutil.which("prometheus")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(PROMETHEUS is None, reason="prometheus is not installed (Debian package prometheus; .ci/run installs it)")
def test_prometheus_server_on_loopback(tmp_path):
    scrape = (ROOT / "examples" / "imported-llmd" / "artefacts" / "decode-metrics.prom").read_bytes()

    class Exporter(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(scrape)

        def log_message(self, *args):
            pass

    exporter = http.server.HTTPServer(("127.0.0.1", 0), Exporter)
    threading.Thread(target=exporter.serve_forever, daemon=True).start()
    port = _free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text("global: {scrape_interval: 1s}\nscrape_configs:\n  - job_name: vllm\n    static_configs:\n"
                      f"      - targets: ['127.0.0.1:{exporter.server_port}']\n")
    server = subprocess.Popen([PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
                               f"--web.listen-address=127.0.0.1:{port}"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                body = urllib.request.urlopen(f"{url}/api/v1/query?query=count(vllm:num_requests_waiting)",
                                              timeout=2).read()
                if b'"result":[{' in body:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail("Prometheus did not scrape the exporter within 60 s")
        f = merge.merge([import_prometheus(url, "1m")])
        values = {(m.get("metric"), m.get("percentile")): m for m in f.elements("measurements")}
        waiting = values[("requests-waiting", None)]
        assert waiting.get("value") == 23 and waiting.get("window") == "PT1M"
        assert values[("kv-cache-usage", None)].get("value") == pytest.approx(97)
        assert values[("dram-active", None)].get("value") == pytest.approx(92)
        assert "avg_over_time(vllm:num_requests_waiting[1m])" in waiting.origins["value"].file
    finally:
        server.terminate()
        server.wait(timeout=30)
        exporter.shutdown()
