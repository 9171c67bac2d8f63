"""The ontology by URL as OWL tools open it: owlready2 (+ HermiT) and the OWL API (Protégé's library, through a
small Java program compiled here) load it from the running server; every module and version IRI dereferences."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import rdflib
from rdflib.namespace import OWL, RDF

from sortai.reasoner import resources

sys.path.insert(0, str(Path(__file__).parent))
from test_api_support import Server  # noqa: E402

TOP = resources.ONTOLOGY_IRI
MODULES = tuple(name.removeprefix("sortai-").removesuffix(".ttl")
                for name in (*resources.ONTOLOGY_MODULES, *resources.CATALOG_MODULES) if name != "sortai.ttl")
OWLAPI_JARS = Path("/usr/share/java")
FORMATS = {".ttl": ("text/turtle", "turtle"), ".owl": ("application/rdf+xml", "xml"),
           ".rdf": ("application/rdf+xml", "xml"), ".nt": ("application/n-triples", "nt"),
           ".jsonld": ("application/ld+json", "json-ld")}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("ontology") / "data").start()
    yield srv
    srv.stop()


def fetch(server, path: str, accept: str | None = None) -> tuple[httpx.Response, rdflib.Graph]:
    response = httpx.get(server.url + path, headers={"Accept": accept} if accept else {}, timeout=60)
    assert response.status_code == 200, (path, response.text[:300])
    media = response.headers["content-type"].split(";")[0]
    fmt = {"text/turtle": "turtle", "application/rdf+xml": "xml", "application/n-triples": "nt",
           "application/ld+json": "json-ld"}[media]
    return response, rdflib.Graph().parse(data=response.content, format=fmt)


def header(graph: rdflib.Graph) -> tuple[str, str]:
    (onto,) = set(graph.subjects(RDF.type, OWL.Ontology))
    return str(onto), str(graph.value(onto, OWL.versionIRI))


def version() -> str:
    graph = rdflib.Graph().parse(resources.ontology_dir() / "sortai.ttl", format="turtle")
    return str(graph.value(rdflib.URIRef(TOP), OWL.versionInfo))


def test_no_preference_gets_rdfxml(server):
    for accept in (None, "*/*", "application/rdf+xml, application/xml; q=0.7, text/xml; q=0.6, */*; q=0.09"):
        response, _ = fetch(server, "/ontology", accept)
        assert response.headers["content-type"].startswith("application/rdf+xml"), accept
    response, _ = fetch(server, "/ontology", "text/turtle")
    assert response.headers["content-location"] == "/ontology.ttl"


def test_merged_document_keeps_the_top_ontology_and_includes_the_catalog(server):
    _, merged = fetch(server, "/ontology", "text/turtle")
    assert header(merged) == (TOP, f"{TOP}/{version()}")
    assert not list(merged.objects(None, OWL.imports))  # nothing left to fetch
    catalog = rdflib.Graph().parse(resources.ontology_dir() / resources.CATALOG_MODULE, format="turtle")
    h100 = rdflib.URIRef(resources.CAT + "H100-SXM")
    assert (h100, None, None) in catalog and set(catalog.predicate_objects(h100)) <= set(merged.predicate_objects(h100))
    modules = rdflib.Graph()
    for name in (*resources.ONTOLOGY_MODULES, *resources.CATALOG_MODULES):
        modules.parse(resources.ontology_dir() / name, format="turtle")
    headers = {s for s in modules.subjects(RDF.type, OWL.Ontology) if str(s) != TOP}
    expected = [t for t in modules if t[0] not in headers and t[1] != OWL.imports]
    assert len(merged) == len(expected)


@pytest.mark.parametrize("module", MODULES)
def test_every_module_and_version_iri_dereferences(server, module):
    iri, version_iri = f"{TOP}/{module}", f"{TOP}/{version()}/{module}"
    for path in (f"/ontology/{module}", f"/ontology/{version()}/{module}"):
        _, graph = fetch(server, path)
        assert header(graph) == (iri, version_iri), path
        for suffix, (media, _) in FORMATS.items():
            response, again = fetch(server, path + suffix)
            assert response.headers["content-type"].startswith(media), path + suffix
            assert len(again) == len(graph) and header(again) == (iri, version_iri)
    shipped = f"sortai-{module}.ttl"
    response = httpx.get(f"{server.url}/ontology/{module}", headers={"Accept": "text/turtle"})
    assert response.content == (resources.ontology_dir() / shipped).read_bytes()


def test_top_version_iri_and_suffixes(server):
    _, by_version = fetch(server, f"/ontology/{version()}")
    for path in ("/ontology.owl", "/ontology.rdf", "/ontology.ttl", f"/ontology/{version()}.ttl"):
        _, graph = fetch(server, path)
        assert header(graph) == header(by_version) == (TOP, f"{TOP}/{version()}") and len(graph) == len(by_version)
    missing = httpx.get(server.url + "/ontology/0.0.9/framework")
    assert missing.status_code == 404 and "framework" in missing.json()["message"]


@pytest.mark.skipif(shutil.which("java") is None, reason="HermiT needs a Java runtime; .ci/run checks for it")
def test_owlready2_loads_the_url_and_hermit_finds_it_consistent(server):
    import owlready2

    world = owlready2.World()
    onto = world.get_ontology(server.url + "/ontology").load()  # owlready2 sends no Accept header
    assert onto.base_iri == TOP + "#"
    assert onto.imported_ontologies == []
    assert world.search_one(iri=resources.CAT + "H100-SXM") is not None  # the catalog is in it
    assert len(list(onto.classes())) > 50
    with onto:
        owlready2.sync_reasoner_hermit(world, infer_property_values=False, debug=0)
    assert list(world.inconsistent_classes()) == []


JAVA_PROGRAM = """
import java.util.*;
import org.semanticweb.owlapi.apibinding.OWLManager;
import org.semanticweb.owlapi.model.*;
import org.semanticweb.owlapi.model.parameters.Imports;
import org.semanticweb.owlapi.util.SimpleIRIMapper;

/** Load an ontology from a URL with the OWL API; args: URL [ontology-IRI document-URL]... */
public class LoadOntology {
    public static void main(String[] args) throws Exception {
        OWLOntologyManager manager = OWLManager.createOWLOntologyManager();
        List<String> missing = new ArrayList<>();
        manager.addMissingImportListener(e -> missing.add(e.getImportedOntologyURI().toString()));
        manager.setOntologyLoaderConfiguration(manager.getOntologyLoaderConfiguration()
            .setMissingImportHandlingStrategy(MissingImportHandlingStrategy.SILENT));
        for (int i = 1; i + 1 < args.length; i += 2)
            manager.getIRIMappers().add(new SimpleIRIMapper(IRI.create(args[i]), IRI.create(args[i + 1])));
        OWLOntology onto = manager.loadOntology(IRI.create(args[0]));
        OWLOntologyID id = onto.getOntologyID();
        System.out.println("iri=" + id.getOntologyIRI().map(Object::toString).orElse(""));
        System.out.println("version=" + id.getVersionIRI().map(Object::toString).orElse(""));
        System.out.println("format=" + manager.getOntologyFormat(onto).getKey());
        System.out.println("classes=" + onto.classesInSignature(Imports.INCLUDED).count());
        System.out.println("individuals=" + onto.individualsInSignature(Imports.INCLUDED).count());
        System.out.println("imports=" + onto.importsClosure().count());
        System.out.println("missing=" + String.join(" ", missing));
    }
}
"""


@pytest.fixture(scope="module")
def owlapi(tmp_path_factory):
    """Compile the program against Debian's libowlapi-java (installed by .ci/run)."""
    if shutil.which("javac") is None or not (OWLAPI_JARS / "owlapi-distribution.jar").exists():
        pytest.skip("the OWL API test needs javac and Debian's libowlapi-java (apt-get install libowlapi-java)")
    folder = tmp_path_factory.mktemp("owlapi")
    (folder / "LoadOntology.java").write_text(JAVA_PROGRAM)
    classpath = f"{OWLAPI_JARS}/*"
    subprocess.run(["javac", "-cp", classpath, "LoadOntology.java"], cwd=folder, check=True, capture_output=True,
                   timeout=300)

    def load(url: str, *mappings: str) -> dict[str, str]:
        result = subprocess.run(["java", "-cp", f"{classpath}:{folder}", "LoadOntology", url, *mappings],
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
        return dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)

    return load


def test_owl_api_loads_the_merged_ontology(server, owlapi):
    loaded = owlapi(server.url + "/ontology")
    assert loaded["iri"] == TOP and loaded["version"] == f"{TOP}/{version()}"
    assert loaded["missing"] == "" and loaded["imports"] == "1"  # one document, nothing to fetch
    assert loaded["format"] == "RDF/XML Syntax"
    assert int(loaded["classes"]) > 50 and int(loaded["individuals"]) > 100  # catalog individuals included


def test_owl_api_loads_a_module_by_its_version_iri(server, owlapi):
    """As Protégé with a catalog: the module's imports resolve to the server's module documents."""
    mappings = [x for m in ("framework", "infrastructure") for x in (f"{TOP}/{m}", f"{server.url}/ontology/{m}")]
    loaded = owlapi(f"{server.url}/ontology/{version()}/reasoning.owl", *mappings)
    assert loaded["iri"] == f"{TOP}/reasoning" and loaded["version"] == f"{TOP}/{version()}/reasoning"
    assert loaded["missing"] == "" and loaded["imports"] == "3"
