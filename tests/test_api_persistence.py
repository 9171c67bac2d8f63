"""Persistence and concurrency: restart loses nothing; a crash mid-write leaves old or new; 50 parallel clients."""

from __future__ import annotations

import concurrent.futures
import random
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_api_support import EXAMPLES, SCENARIOS, Server, upload  # noqa: E402

DUMP = "SELECT ?g ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o } } ORDER BY ?g ?s ?p ?o"


def snapshot(client: httpx.Client) -> dict:
    """Everything a client can see, for comparison across restarts."""
    listed = client.get("/descriptions").json()
    state = {"list": listed, "details": {}, "sources": {}, "validation": {}, "explanation": {}}
    for d in listed["descriptions"]:
        i = d["id"]
        state["details"][i] = client.get(f"/descriptions/{i}").json()
        state["sources"][i] = client.get(f"/descriptions/{i}/source").content
        state["validation"][i] = client.get(f"/descriptions/{i}/validation", headers={"Accept": "text/turtle"}).text
        if state["details"][i]["diagnoses"]:
            first = state["details"][i]["diagnoses"][0]["id"]
            state["explanation"][i] = client.get(f"/descriptions/{i}/diagnoses/{first}/explanation",
                                                 params={"format": "ttl"}).text
    dump = client.get("/sparql", params={"query": DUMP}, headers={"Accept": "text/csv"})
    assert dump.status_code == 200
    state["quads"] = dump.text
    return state


def test_restart_loses_nothing(tmp_path):
    data = tmp_path / "data"
    srv = Server(data).start()
    try:
        with srv.client() as client:
            for path in SCENARIOS:
                assert upload(client, path).status_code == 201
            assert upload(client, EXAMPLES / "broken" / "unknown-key.yaml").status_code == 201
            assert upload(client, SCENARIOS[0], "replaced").status_code == 201
            assert upload(client, SCENARIOS[1], "replaced").status_code == 200
            assert upload(client, SCENARIOS[2], "deleted").status_code == 201
            assert client.delete("/descriptions/deleted").status_code == 204
            before = snapshot(client)
    finally:
        srv.stop()
    assert len(before["list"]["descriptions"]) == len(SCENARIOS) + 2
    again = Server(data).start()  # same data dir, new port
    try:
        with again.client() as client:
            after = snapshot(client)
    finally:
        again.stop()
    assert after == before


def test_crash_mid_upload_leaves_old_or_new(tmp_path):
    """SIGKILL the server while it replaces a description again and again; after restart every description is
    exactly one complete version (source, record and graphs agree)."""
    data = tmp_path / "data"
    versions = {p.read_bytes(): p for p in (SCENARIOS[0], SCENARIOS[1])}
    contents = list(versions)
    srv = Server(data).start()
    stop = threading.Event()
    acknowledged: dict[str, list[int]] = {"a": [], "b": []}  # versions the server answered 200/201 for

    def hammer(name: str) -> None:
        with srv.client(timeout=30) as client:
            n = 0
            while not stop.is_set():
                try:
                    response = client.put(f"/descriptions/{name}", content=contents[n % 2],
                                          headers={"Content-Type": "application/yaml"})
                except httpx.HTTPError:
                    return
                if response.status_code in (200, 201):
                    acknowledged[name].append(response.json()["version"])
                n += 1

    with srv.client() as client:
        for name in ("a", "b"):
            assert client.put(f"/descriptions/{name}", content=contents[0],
                              headers={"Content-Type": "application/yaml"}).status_code == 201
    threads = [threading.Thread(target=hammer, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    time.sleep(random.uniform(2.0, 4.0))
    srv.kill()
    stop.set()
    for t in threads:
        t.join(30)
    again = Server(data).start()
    try:
        with again.client() as client:
            lost = 0
            for name in ("a", "b"):
                detail = client.get(f"/descriptions/{name}").json()
                # no acknowledged write is lost: the stored version is the last acknowledged one or newer
                lost += sum(1 for v in acknowledged[name] if v > detail["version"])
                source = client.get(f"/descriptions/{name}/source").content
                assert source in versions
                reference = upload(client, versions[source], f"reference-{name}").json()
                for key in ("asserted_triples", "inferred_triples", "diagnoses", "conforms", "sha256"):
                    assert detail[key] == reference[key], key
                count = client.get("/sparql", params={"query": f"""SELECT (COUNT(*) AS ?n) WHERE {{
                    GRAPH <{detail['graphs']['asserted']}> {{ ?s ?p ?o }} }}"""},
                                   headers={"Accept": "application/sparql-results+json"}).json()
                assert int(count["results"]["bindings"][0]["n"]["value"]) == detail["asserted_triples"]
            print(f"\nkill -9 during writes: {sum(map(len, acknowledged.values()))} acknowledged writes, {lost} lost")
            assert lost == 0
            graphs = client.get("/sparql", params={"query": "SELECT DISTINCT ?g WHERE { GRAPH ?g {} }"},
                                headers={"Accept": "application/sparql-results+json"}).json()
            names = {b["g"]["value"] for b in graphs["results"]["bindings"]}
            assert not any("staging" in n for n in names)
    finally:
        again.stop()


def test_fifty_parallel_uploads_and_diagnoses(tmp_path):
    srv = Server(tmp_path / "data").start()
    try:
        bodies = [p.read_bytes() for p in SCENARIOS]
        jobs = [(i, bodies[i % len(bodies)]) for i in range(50)]

        def work(job):
            index, body = job
            with srv.client(timeout=180) as client:  # several clients, one per job
                if index % 5 == 4:
                    response = client.post("/diagnose", content=body, headers={"Content-Type": "application/yaml"})
                    return index, "diagnose", response.status_code, response.json()
                response = client.post("/descriptions", content=body, headers={"Content-Type": "application/yaml"})
                return index, "upload", response.status_code, response.json()

        with concurrent.futures.ThreadPoolExecutor(10) as pool:
            results = list(pool.map(work, jobs))
        uploads = [r for r in results if r[1] == "upload"]
        diagnoses = [r for r in results if r[1] == "diagnose"]
        assert all(r[2] == 201 for r in uploads), [r[:3] for r in uploads if r[2] != 201]
        assert all(r[2] == 200 and r[3]["diagnosed"] for r in diagnoses)
        ids = [r[3]["id"] for r in uploads]
        assert len(set(ids)) == len(uploads) == 40
        with srv.client() as client:
            listed = {d["id"]: d for d in client.get("/descriptions").json()["descriptions"]}
            assert set(listed) == set(ids)
            for index, _, _, body in uploads:
                assert listed[body["id"]]["sha256"] == body["sha256"]
                assert client.get(f"/descriptions/{body['id']}/source").content == jobs[index][1]
            # the same scenario gives the same diagnoses whichever worker processed it
            by_sha: dict[str, list] = {}
            for _, _, _, body in uploads:
                by_sha.setdefault(body["sha256"], []).append(body["diagnoses"])
            for found in by_sha.values():
                assert all(f == found[0] for f in found)
            graphs = client.get("/sparql", params={"query": "SELECT (COUNT(DISTINCT ?g) AS ?n) WHERE { GRAPH ?g {} }"},
                                headers={"Accept": "application/sparql-results+json"}).json()
            assert int(graphs["results"]["bindings"][0]["n"]["value"]) == 2 * 40 + 2
    finally:
        srv.stop()


@pytest.mark.parametrize("n", [1])
def test_store_is_on_disk(tmp_path, n):
    srv = Server(tmp_path / "data").start()
    try:
        with srv.client() as client:
            assert upload(client, SCENARIOS[0], "disk").status_code == 201
    finally:
        srv.stop()
    assert (tmp_path / "data" / "store").is_dir() and any((tmp_path / "data" / "store").iterdir())
