"""The persistent side of the service: one embedded on-disk Oxigraph store holds everything.

Layout of the store (all in one RocksDB database under ``<data_dir>/store``):

* ``https://w3id.org/sortai/ontology`` and ``…/ontology/catalog`` — the shipped ontology and catalog;
* per description ``<id>``: ``https://w3id.org/sortai/graph/<id>/asserted`` and ``…/inferred``;
* system graphs (prefix ``urn:sortai:system:``, hidden from the SPARQL default dataset):
  ``urn:sortai:system:current`` maps each id to its current version record graph
  ``urn:sortai:system:record:<id>:<version>``, which keeps the upload's exact bytes (base64), its
  format and media type, the validation report (JSON and SHACL Turtle) and the diagnoses (JSON).

A write is atomic: the new version is first added under staging graph names with one ``Store.extend``
(atomic in Oxigraph), then a single SPARQL UPDATE request — one transaction — moves the staging graphs onto
the public names and switches the current-version pointer. A crash before the switch leaves the old
version intact plus orphaned staging/record graphs, which :meth:`Repository.recover` removes at startup.
"""

from __future__ import annotations

import base64
import json
import logging
import shutil
import threading
import uuid
from pathlib import Path

import pyoxigraph as ox

from sortai.reasoner import resources
from sortai.reasoner.engine import CATALOG_GRAPH, ONTOLOGY_GRAPH

log = logging.getLogger("sortai.api")
SYSTEM = "urn:sortai:system:"
CURRENT = ox.NamedNode(SYSTEM + "current")
P_RECORD = ox.NamedNode(SYSTEM + "record")
P_JSON = ox.NamedNode(SYSTEM + "json")
P_SOURCE = ox.NamedNode(SYSTEM + "source")
P_SHACL = ox.NamedNode(SYSTEM + "shaclReport")
P_ONTOLOGY_DIGEST = ox.NamedNode(SYSTEM + "ontologyDigest")
GRAPH_BASE = "https://w3id.org/sortai/graph/"


def graph_iris(description_id: str) -> tuple[str, str]:
    return GRAPH_BASE + description_id + "/asserted", GRAPH_BASE + description_id + "/inferred"


def public_graphs(repo: "Repository") -> list[str]:
    """The named graphs a SPARQL query may see (the default dataset), in a stable order."""
    out = [ONTOLOGY_GRAPH.value, CATALOG_GRAPH.value]
    for description_id in repo.ids():
        out.extend(graph_iris(description_id))
    return out


def _subject(description_id: str) -> ox.NamedNode:
    return ox.NamedNode(SYSTEM + "description:" + description_id)


def _record_graph(description_id: str, version: int) -> ox.NamedNode:
    return ox.NamedNode(f"{SYSTEM}record:{description_id}:{version}")


def _iri(text: str) -> str:
    if any(c in text for c in '<>"{}|^`\\ \n\r\t'):
        raise ValueError(f"unsafe IRI {text!r}")
    return f"<{text}>"


class StoreError(Exception):
    """The store could not write (disk full, read-only, I/O error); it is reopened on the next attempt."""


class Repository:
    """Descriptions, their versions and graphs in the store; all writes go through one lock.

    A write that fails (disk full, read-only file system) leaves the in-memory view unchanged and marks the
    store as not writable; the next write, or :meth:`probe` (started by ``/health``), reopens the store —
    RocksDB stays in its error state until then — removes what the failed write left, and clears the mark.
    """

    def __init__(self, data_dir: Path):
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.path = str(self.data_dir / "store")
        self.store = ox.Store(self.path)
        self.write_error: str | None = None
        self.snapshots = self.data_dir / "snapshots"
        self.lock = threading.Lock()
        self.generation = 0
        self._records: dict[str, dict] = {}
        self._snapshot: tuple[int, str] | None = None
        self._snapshot_users: dict[str, int] = {}

    # --- startup ----------------------------------------------------------------------------------------

    def recover(self) -> list[str]:
        """Remove what a crash may have left half-done; load the ontology and catalog; return what was removed."""
        with self.lock:
            pointers = self._pointers()
            removed = self._remove_orphans(pointers)
            self._load_background()
            self._records = {i: self._read_record(i, v) for i, v in pointers.items()}
            self.generation += 1
        shutil.rmtree(self.snapshots, ignore_errors=True)
        self.snapshots.mkdir(parents=True, exist_ok=True)
        return removed

    def _remove_orphans(self, pointers: dict[str, int]) -> list[str]:
        """Staging graphs, records no pointer points to, and description graphs without a pointer."""
        removed: list[str] = []
        live = {_record_graph(i, v).value for i, v in pointers.items()}
        public = {iri for i in pointers for iri in graph_iris(i)}
        for graph in list(self.store.named_graphs()):
            name = graph.value if isinstance(graph, ox.NamedNode) else None
            if name is None:
                continue
            if (name.startswith(SYSTEM + "staging:") or (name.startswith(SYSTEM + "record:") and name not in live)
                    or (name.startswith(GRAPH_BASE) and name not in public)):
                self.store.remove_graph(graph)
                removed.append(name)
        return removed

    # --- write failures ---------------------------------------------------------------------------------

    def _write(self, action):
        """Run a write (under the lock); a failure marks the store not writable and raises StoreError."""
        if self.write_error is not None:
            self._reopen()
        try:
            return action()
        except OSError as exc:
            self.write_error = str(exc) or type(exc).__name__
            raise StoreError(self.write_error) from None

    def _reopen(self) -> None:
        """Open the store afresh (RocksDB keeps a write error until reopened) and clean what a failed write left."""
        try:
            self.store = None  # drop the handle (and its lock file) first
            self.store = ox.Store(self.path)
            self._remove_orphans(self._pointers())
            probe = ox.Quad(CURRENT, ox.NamedNode(SYSTEM + "probe"), ox.Literal(uuid.uuid4().hex), CURRENT)
            self.store.add(probe)
            self.store.remove(probe)
            self.store.flush()
        except OSError as exc:
            if self.store is None:
                try:
                    self.store = ox.Store(self.path)
                except OSError:
                    pass
            self.write_error = str(exc) or type(exc).__name__
            raise StoreError(self.write_error) from None
        self.write_error = None
        log.warning("the store can write again")

    def probe(self) -> bool:
        """Try to make a failed store writable again; True if it is."""
        with self.lock:
            if self.write_error is None:
                return True
            try:
                self._reopen()
            except StoreError:
                return False
            return True

    def health(self) -> dict:
        try:
            free = shutil.disk_usage(self.data_dir).free
        except OSError:
            free = None
        return {"writable": self.write_error is None, "free_bytes": free, "error": self.write_error}

    def _load_background(self) -> None:
        """(Re)load ontology and catalog when the shipped files changed; one transaction."""
        import hashlib

        ontology = resources.ontology_triples()
        catalog = resources.catalog_triples()
        files = (*resources.ONTOLOGY_MODULES, *resources.CATALOG_MODULES)  # the files, not the triples: blank
        digest = hashlib.sha256(b"".join(  # node labels differ at every parse
            name.encode() + b"\0" + (resources.ontology_dir() / name).read_bytes() for name in files)).hexdigest()
        known = [q.object.value for q in self.store.quads_for_pattern(CURRENT, P_ONTOLOGY_DIGEST, None, CURRENT)]
        if known == [digest]:
            return
        quads = [ox.Quad(t.subject, t.predicate, t.object, ONTOLOGY_GRAPH) for t in ontology]
        quads += [ox.Quad(t.subject, t.predicate, t.object, CATALOG_GRAPH) for t in catalog]
        quads.append(ox.Quad(CURRENT, P_ONTOLOGY_DIGEST, ox.Literal(digest), CURRENT))
        staging_o, staging_c = (ox.NamedNode(SYSTEM + "staging:ontology"), ox.NamedNode(SYSTEM + "staging:catalog"))
        staged = [ox.Quad(q.subject, q.predicate, q.object,
                          staging_o if q.graph_name == ONTOLOGY_GRAPH else staging_c if q.graph_name == CATALOG_GRAPH
                          else q.graph_name) for q in quads if q.graph_name != CURRENT]
        self.store.extend(staged)
        self.store.update(
            f"DROP SILENT GRAPH {_iri(ONTOLOGY_GRAPH.value)}; DROP SILENT GRAPH {_iri(CATALOG_GRAPH.value)};"
            f"MOVE SILENT GRAPH {_iri(staging_o.value)} TO {_iri(ONTOLOGY_GRAPH.value)};"
            f"MOVE SILENT GRAPH {_iri(staging_c.value)} TO {_iri(CATALOG_GRAPH.value)};"
            f"DELETE WHERE {{ GRAPH {_iri(CURRENT.value)} {{ {_iri(CURRENT.value)} {_iri(P_ONTOLOGY_DIGEST.value)} ?d }} }};"
            f"INSERT DATA {{ GRAPH {_iri(CURRENT.value)} {{ {_iri(CURRENT.value)} {_iri(P_ONTOLOGY_DIGEST.value)} "
            f"\"{digest}\" }} }}")

    def _pointers(self) -> dict[str, int]:
        out = {}
        for quad in self.store.quads_for_pattern(None, P_RECORD, None, CURRENT):
            out[quad.subject.value[len(SYSTEM + "description:"):]] = int(quad.object.value)
        return out

    def _read_record(self, description_id: str, version: int) -> dict:
        graph = _record_graph(description_id, version)
        values = {q.predicate.value: q.object.value
                  for q in self.store.quads_for_pattern(_subject(description_id), None, None, graph)}
        return json.loads(values[P_JSON.value])

    # --- reads ------------------------------------------------------------------------------------------

    def ids(self) -> list[str]:
        return sorted(self._records)

    def record(self, description_id: str) -> dict | None:
        return self._records.get(description_id)

    def _literal(self, description_id: str, predicate: ox.NamedNode) -> str | None:
        record = self._records.get(description_id)
        if record is None:
            return None
        graph = _record_graph(description_id, record["version"])
        for quad in self.store.quads_for_pattern(_subject(description_id), predicate, None, graph):
            return quad.object.value
        return None

    def source(self, description_id: str) -> bytes | None:
        text = self._literal(description_id, P_SOURCE)
        return None if text is None else base64.b64decode(text)

    def shacl_report(self, description_id: str) -> str | None:
        return self._literal(description_id, P_SHACL)

    def graph(self, iri: str) -> list[ox.Triple]:
        return [q.triple for q in self.store.quads_for_pattern(None, None, None, ox.NamedNode(iri))]

    # --- writes -----------------------------------------------------------------------------------------

    def staging_names(self) -> tuple[str, str]:
        token = uuid.uuid4().hex
        return SYSTEM + f"staging:{token}:asserted", SYSTEM + f"staging:{token}:inferred"

    def commit(self, description_id: str, record: dict, source: bytes, shacl: str, nquads: bytes,
               staging: tuple[str, str], create_only: bool = False) -> dict | None:
        """Make ``record`` the current version of ``description_id``; returns it with its version set.

        With ``create_only`` nothing is written (and None returned) if the id is already in use.
        """
        with self.lock:
            old = self._records.get(description_id)
            if create_only and old is not None:
                return None
            version = (old["version"] + 1) if old else 1
            record = dict(record, id=description_id, version=version)
            if old:
                record["created"] = old.get("created", record.get("updated"))
            else:
                record["created"] = record.get("updated")
            graph = _record_graph(description_id, version)
            subject = _subject(description_id)
            quads = list(ox.parse(nquads, format=ox.RdfFormat.N_QUADS)) if nquads else []
            quads += [ox.Quad(subject, P_JSON, ox.Literal(json.dumps(record, sort_keys=True)), graph),
                      ox.Quad(subject, P_SOURCE, ox.Literal(base64.b64encode(source).decode("ascii")), graph),
                      ox.Quad(subject, P_SHACL, ox.Literal(shacl), graph)]
            asserted, inferred = graph_iris(description_id)
            staged_a, staged_i = staging
            self._write(lambda: self._switch(quads, asserted, inferred, staged_a, staged_i, subject, version))
            self._records[description_id] = record
            self.generation += 1
            if old:
                self._write(lambda: self.store.remove_graph(_record_graph(description_id, old["version"])))
            return record

    def _switch(self, quads, asserted, inferred, staged_a, staged_i, subject, version) -> None:
        self.store.extend(quads)  # staging graphs + the new version record: invisible until the switch
        self.store.update(
                f"DROP SILENT GRAPH {_iri(asserted)}; DROP SILENT GRAPH {_iri(inferred)};"
                f"MOVE SILENT GRAPH {_iri(staged_a)} TO {_iri(asserted)};"
                f"MOVE SILENT GRAPH {_iri(staged_i)} TO {_iri(inferred)};"
                f"DELETE WHERE {{ GRAPH {_iri(CURRENT.value)} {{ {_iri(subject.value)} {_iri(P_RECORD.value)} ?v }} }};"
                f"INSERT DATA {{ GRAPH {_iri(CURRENT.value)} {{ {_iri(subject.value)} {_iri(P_RECORD.value)} "
                f"\"{version}\" }} }}")  # one transaction: the switch

    def delete(self, description_id: str) -> bool:
        with self.lock:
            old = self._records.get(description_id)
            if old is None:
                return False
            asserted, inferred = graph_iris(description_id)
            subject = _subject(description_id)
            self._write(lambda: self.store.update(
                f"DROP SILENT GRAPH {_iri(asserted)}; DROP SILENT GRAPH {_iri(inferred)};"
                f"DROP SILENT GRAPH {_iri(_record_graph(description_id, old['version']).value)};"
                f"DELETE WHERE {{ GRAPH {_iri(CURRENT.value)} {{ {_iri(subject.value)} {_iri(P_RECORD.value)} ?v }} }}"))
            del self._records[description_id]
            self.generation += 1
            return True

    def discard_staging(self, staging: tuple[str, str]) -> None:
        for name in staging:
            try:
                self.store.remove_graph(ox.NamedNode(name))
            except Exception:  # noqa: BLE001 - nothing was staged
                pass

    # --- snapshots for the SPARQL workers ---------------------------------------------------------------

    def acquire_snapshot(self) -> str:
        """A read-only checkpoint of the current state (RocksDB hard links; cheap) for the query workers.

        Opening the live store read-only while this process writes it is undefined behaviour in Oxigraph,
        so workers only ever open checkpoints, which nothing writes.
        """
        with self.lock:
            if self._snapshot is None or self._snapshot[0] != self.generation:
                path = str(self.snapshots / f"{self.generation}-{uuid.uuid4().hex[:8]}")
                try:
                    self.store.flush()
                    self.store.backup(path)
                except OSError as exc:  # e.g. disk full: answer from the last checkpoint rather than not at all
                    shutil.rmtree(path, ignore_errors=True)
                    if self._snapshot is None:
                        raise StoreError(f"cannot make a snapshot for queries: {exc}") from None
                    log.warning("cannot make a new snapshot (%s); queries see the previous one", exc)
                    path = self._snapshot[1]
                    self._snapshot_users[path] = self._snapshot_users.get(path, 0) + 1
                    return path
                old = self._snapshot
                self._snapshot = (self.generation, path)
                if old is not None:
                    self._maybe_remove(old[1])
            path = self._snapshot[1]
            self._snapshot_users[path] = self._snapshot_users.get(path, 0) + 1
            return path

    def release_snapshot(self, path: str) -> None:
        with self.lock:
            self._snapshot_users[path] = self._snapshot_users.get(path, 1) - 1
            self._maybe_remove(path)

    def _maybe_remove(self, path: str) -> None:
        if self._snapshot_users.get(path, 0) <= 0 and (self._snapshot is None or self._snapshot[1] != path):
            self._snapshot_users.pop(path, None)
            shutil.rmtree(path, ignore_errors=True)

    def close(self) -> None:
        with self.lock:
            try:
                self.store.flush()
            except Exception:  # noqa: BLE001
                pass
