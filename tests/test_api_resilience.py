"""Attacks on a real server (issue 10): while each runs, /health keeps answering fast and no worker passes its
memory ceiling (psutil); afterwards the server serves on. Also: the token before the body, idle and slow
sockets at nofile=1024, disk full and back, stale caches, a server killed with SIGKILL, bad settings.

The latency bound asserted is 1 s (the issue's target is 100 ms; the figures measured are printed, and this
2-core machine is shared, so the assertion keeps a margin an event-loop freeze of seconds cannot pass).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_api_support import EXAMPLES, Server, assert_json_error, upload  # noqa: E402

DISAGG = EXAMPLES / "disaggregated-h100-l4" / "description.yaml"
CEILING_MB = 600
HEALTH_BOUND = 1.0


def health_status(port: int) -> int:
    """GET /health on a fresh connection (http.client: no client set-up cost to blur the server's time)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", "/health")
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


class Watch:
    """While the block runs: /health latency every 50 ms on fresh connections, worker RSS every 20 ms."""

    def __init__(self, server: Server):
        self.server = server
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self.peak_rss = 0
        self._stop = threading.Event()

    def _health(self):
        while not self._stop.is_set():
            started = time.perf_counter()
            try:
                status = health_status(self.server.port)
                if status != 200:
                    self.failures.append(f"status {status}")
            except OSError as exc:
                self.failures.append(repr(exc))
            self.latencies.append(time.perf_counter() - started)
            self._stop.wait(0.05)

    def _memory(self):
        parent = psutil.Process(self.server.process.pid)
        while not self._stop.is_set():
            for child in parent.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    self.peak_rss = max(self.peak_rss, child.memory_info().rss)
            self._stop.wait(0.02)

    def __enter__(self):
        self.threads = [threading.Thread(target=self._health), threading.Thread(target=self._memory)]
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for t in self.threads:
            t.join(60)

    def check(self, what: str) -> None:
        assert self.latencies and not self.failures, (what, self.failures[:3])
        worst, median = max(self.latencies), statistics.median(self.latencies)
        print(f"\n{what}: /health median {median * 1000:.1f} ms, worst {worst * 1000:.1f} ms over "
              f"{len(self.latencies)} probes; worker peak RSS {self.peak_rss >> 20} MiB (ceiling {CEILING_MB})")
        assert worst < HEALTH_BOUND, (what, worst)
        # the watchdog reads every 50 ms: allow what a worker can allocate in that time past the line
        assert self.peak_rss < (CEILING_MB + 150) * 2 ** 20, (what, self.peak_rss >> 20)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("resilience") / "data", env={
        "SORTAI_WORKER_MEMORY_MB": str(CEILING_MB), "SORTAI_QUERY_TIMEOUT": "8", "SORTAI_REASONING_TIMEOUT": "20",
        "SORTAI_BODY_TIMEOUT": "3", "SORTAI_IDLE_TIMEOUT": "2"}).start()
    with srv.client() as client:
        assert upload(client, DISAGG, "fleet").status_code == 201
    yield srv
    srv.stop()


def still_serving(server) -> None:
    ask = httpx.get(server.url + "/sparql", params={"query": "ASK { ?s ?p ?o }"}, timeout=60)
    assert ask.status_code == 200 and ask.json()["boolean"] is True


# --- the high items: each attack with /health watched -----------------------------------------------------


def test_a_16_mib_values_query_does_not_freeze_the_server(server):
    values = " ".join(str(i) for i in range(2_200_000))
    query = f"SELECT * WHERE {{ VALUES ?x {{ {values} }} }}"
    assert 15 * 2 ** 20 < len(query) < 16 * 2 ** 20
    with Watch(server) as watch:
        response = httpx.post(server.url + "/sparql", content=query.encode(), timeout=120,
                              headers={"Content-Type": "application/sparql-query"})
    assert response.status_code in (200, 400, 503), response.text[:300]
    assert_json_error(response, 503, "query-timeout")  # parsing it takes longer than the deadline
    watch.check("16 MiB VALUES query")
    still_serving(server)


def test_a_cross_product_hits_the_memory_ceiling_not_the_machine(server):
    query = "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i } ORDER BY ?a ?c ?f ?i LIMIT 1"
    with Watch(server) as watch:
        answers = []
        threads = [threading.Thread(target=lambda: answers.append(httpx.get(
            server.url + "/sparql", params={"query": query}, timeout=120))) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    for response in answers:
        body = assert_json_error(response, 503)
        assert body["error"] in ("memory-limit", "query-timeout"), body
    assert any(r.json()["error"] == "memory-limit" for r in answers)
    assert f"{CEILING_MB} MiB" in next(r.json()["message"] for r in answers if r.json()["error"] == "memory-limit")
    watch.check("cross product with ORDER BY")
    still_serving(server)


ALIAS_BOMB = "\n".join(
    ["id: bomb", "x0: &l0 [a, a, a, a, a, a, a, a, a, a]"]
    + [f"x{i}: &l{i} [{', '.join(['*l' + str(i - 1)] * 10)}]" for i in range(1, 9)]
    + ["pools:", "  - id: p", "    hostedOn: *l8"]).encode()


def test_a_yaml_alias_bomb_through_diagnose_holds_no_worker_past_its_limits(server):
    """The loader's refusal of alias expansion is the `hostile` helper's fix; whether or not it is merged, the
    server stays responsive and the answer is a clean JSON refusal (400) or limit (503)."""
    with Watch(server) as watch:
        responses = []
        threads = [threading.Thread(target=lambda: responses.append(httpx.post(
            server.url + "/diagnose", content=ALIAS_BOMB, timeout=120,
            headers={"Content-Type": "application/yaml"}))) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    for response in responses:
        assert response.status_code in (400, 503), response.text[:300]
        assert_json_error(response, response.status_code)
    watch.check("YAML alias bomb")
    still_serving(server)


def test_the_token_is_checked_before_the_body_is_read(server):
    """A 16 MB body announced without a token: the 401 comes at once, before a byte of the body is sent."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"POST /descriptions HTTP/1.1\r\nHost: x\r\nContent-Type: application/yaml\r\n"
                     b"Content-Length: 16000000\r\n\r\n")
        started = time.monotonic()
        head = sock.recv(4096)
        assert head.startswith(b"HTTP/1.1 401"), head[:200]
        assert time.monotonic() - started < 5
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"PUT /descriptions/x HTTP/1.1\r\nHost: x\r\nContent-Type: application/yaml\r\n"
                     b"Authorization: Bearer wrong-token-0123456789\r\nContent-Length: 16000000\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 403")


def test_a_body_that_stalls_gets_408(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(b"POST /diagnose HTTP/1.1\r\nHost: x\r\nContent-Type: application/yaml\r\n"
                     b"Content-Length: 5000\r\n\r\nid: slow\n")
        started = time.monotonic()
        head = sock.recv(4096)
        assert head.startswith(b"HTTP/1.1 408"), head[:300]
        assert 2 < time.monotonic() - started < 15  # SORTAI_BODY_TIMEOUT=3


def test_idle_and_slow_header_sockets_are_closed(server):
    idle = socket.create_connection(("127.0.0.1", server.port))
    slow = socket.create_connection(("127.0.0.1", server.port))
    slow.sendall(b"GET /health HTTP/1.1\r\n")  # the head never completes
    try:
        for sock in (idle, slow):
            sock.settimeout(15)
            started = time.monotonic()
            assert sock.recv(1024) == b""  # closed by the server (SORTAI_IDLE_TIMEOUT=2)
            assert time.monotonic() - started < 12
    finally:
        idle.close()
        slow.close()


def _nofile_1024():
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))


def test_health_survives_1100_idle_sockets_at_nofile_1024(tmp_path):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1300:
        pytest.skip(f"the test process needs 1,300 descriptors for its sockets (hard limit {hard})")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1300) if hard == resource.RLIM_INFINITY
                                                 else min(hard, max(soft, 1300)), hard))
    srv = Server(tmp_path / "data", preexec=_nofile_1024, env={"SORTAI_IDLE_TIMEOUT": "60"}).start()
    sockets = []
    try:
        for _ in range(1100):
            sockets.append(socket.create_connection(("127.0.0.1", srv.port), timeout=10))
        latencies = []
        for _ in range(20):
            started = time.perf_counter()
            assert health_status(srv.port) == 200
            latencies.append(time.perf_counter() - started)
        print(f"\n1,100 idle sockets at nofile=1024: /health median {statistics.median(latencies) * 1000:.1f} ms, "
              f"worst {max(latencies) * 1000:.1f} ms")
        assert max(latencies) < HEALTH_BOUND
        server_fds = psutil.Process(srv.process.pid).num_fds()
        assert server_fds < 1024
    finally:
        for sock in sockets:
            sock.close()
        srv.stop()
    assert "Traceback" not in srv.server_log()


# --- the store: disk full and back, without a restart ---------------------------------------------------


@contextlib.contextmanager
def small_tmpfs(path: Path, size: str):
    path.mkdir(parents=True)
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({result.stderr.decode().strip()}); needs root")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill(path: Path) -> Path:
    filler = path / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        for size in (1 << 20, 4096, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)
    return filler


def test_disk_full_then_recovery_without_restart(tmp_path):
    with small_tmpfs(tmp_path / "disk", "96m") as disk:
        srv = Server(disk / "data").start()
        try:
            with srv.client() as client:
                assert upload(client, DISAGG, "before").status_code == 201
                filler = fill(disk)
                refused = [upload(client, DISAGG, f"full-{i}") for i in range(3)]
                assert any(r.status_code == 503 for r in refused), [r.status_code for r in refused]
                for response in refused:
                    if response.status_code == 503:
                        assert_json_error(response, 503, "store-unavailable")
                health = client.get("/health")
                assert health.status_code == 503 and health.json()["store"]["writable"] is False
                assert health.json()["status"] == "degraded"
                assert client.get("/descriptions/before").status_code == 200  # reads go on
                filler.unlink()
                deadline = time.monotonic() + 30
                while client.get("/health").status_code != 200 and time.monotonic() < deadline:
                    time.sleep(0.5)
                assert client.get("/health").json()["store"]["writable"] is True
                assert upload(client, DISAGG, "after").status_code == 201
                ids = {d["id"] for d in client.get("/descriptions").json()["descriptions"]}
                assert {"before", "after"} <= ids and not any(i.startswith("full-") and
                                                               client.get(f"/descriptions/{i}/source").status_code
                                                               != 200 for i in ids)
        finally:
            srv.stop()
        again = Server(disk / "data").start()  # and what it said it stored survives a restart
        try:
            with again.client() as client:
                ids = {d["id"] for d in client.get("/descriptions").json()["descriptions"]}
                assert {"before", "after"} <= ids
        finally:
            again.stop()


# --- caches -----------------------------------------------------------------------------------------------


def test_a_recreated_id_never_serves_the_old_explanation(server):
    """DELETE + re-create under the same id, with a different link bandwidth: the explanation shows the new one."""
    diagnosis = "prefill-to-decode-kv/diagnosis/MemoryPathIncoherence"
    url = f"/descriptions/stale/diagnoses/{diagnosis}/explanation"
    original = DISAGG.read_bytes()
    changed = original.replace(b"bandwidthGBps: 12.5", b"bandwidthGBps: 3.125")
    assert changed != original
    with server.client() as client:
        assert upload(client, DISAGG, "stale", data=original).status_code == 201
        first = client.get(url, params={"format": "text"}).text
        assert "bottleneckBandwidthGBps = 12.5" in first
        assert client.delete("/descriptions/stale").status_code == 204
        assert upload(client, DISAGG, "stale", data=changed).status_code == 201
        second = client.get(url, params={"format": "text"}).text
        assert "bottleneckBandwidthGBps = 3.125" in second and "bottleneckBandwidthGBps = 12.5" not in second
        # and the same through PUT (replace), back to the original
        assert upload(client, DISAGG, "stale", data=original).status_code == 200
        assert "bottleneckBandwidthGBps = 12.5" in client.get(url, params={"format": "text"}).text


# --- processes --------------------------------------------------------------------------------------------


def test_workers_die_with_a_server_killed_by_sigkill(tmp_path):
    srv = Server(tmp_path / "data", env={"SORTAI_QUERY_TIMEOUT": "60"}).start()
    workers = psutil.Process(srv.process.pid).children(recursive=True)
    assert len(workers) >= 4

    def long_query():
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(srv.url + "/sparql", timeout=90,
                      params={"query": "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"})

    threading.Thread(target=long_query, daemon=True).start()
    time.sleep(1.0)  # one worker is now deep in a query
    os.kill(srv.process.pid, signal.SIGKILL)  # the server alone, not its process group
    srv.process.wait(10)
    gone, alive = psutil.wait_procs(workers, timeout=5)
    assert alive == [], [p.pid for p in alive]


@pytest.mark.parametrize("variable,value,says", [
    ("SORTAI_MAX_BODY_BYTES", "-1", "SORTAI_MAX_BODY_BYTES='-1' is out of range"),
    ("SORTAI_MAX_BODY_BYTES", "lots", "is not an integer"),
    ("SORTAI_QUERY_TIMEOUT", "0", "SORTAI_QUERY_TIMEOUT='0' is out of range: give a number from 0.1 to 3600"),
    ("SORTAI_QUERY_TIMEOUT", "nan", "SORTAI_QUERY_TIMEOUT='nan' is out of range"),
    ("SORTAI_REASONING_TIMEOUT", "inf", "SORTAI_REASONING_TIMEOUT='inf' is out of range"),
    ("SORTAI_SPARQL_WORKERS", "0", "SORTAI_SPARQL_WORKERS='0' is out of range: give an integer from 1 to 64"),
    ("SORTAI_WORKER_MEMORY_MB", "10", "SORTAI_WORKER_MEMORY_MB='10' is out of range"),
    ("SORTAI_CORS_WRITE_ORIGINS", "*", "SORTAI_CORS_WRITE_ORIGINS=* is refused"),
    ("SORTAI_CORS_READ_ORIGINS", "not an origin", "'not an origin' is not an origin"),
    ("SORTAI_LOG_LEVEL", "loud", "SORTAI_LOG_LEVEL='loud' is not one of"),
    ("SORTAI_MAX_BODY_BYTE", "1000", "unknown setting SORTAI_MAX_BODY_BYTE; did you mean SORTAI_MAX_BODY_BYTES?"),
])
def test_bad_settings_are_refused_at_start_up(tmp_path, variable, value, says):
    srv = Server(tmp_path / "data", env={variable: value})
    result = subprocess.run(srv.command(), env=srv.environment(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert says in result.stderr and "Traceback" not in result.stderr, result.stderr
