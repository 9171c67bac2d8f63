"""The ontology: OWL 2 DL hygiene, HermiT consistency, documentation of every term, offline imports."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from collections import defaultdict

import pytest
import rdflib
from rdflib.namespace import DCTERMS, OWL, RDF, RDFS, SKOS

from sortai.reasoner import resources

SAI = rdflib.Namespace(resources.SAI)
ONTOLOGY_FILES = list(resources.ONTOLOGY_MODULES) + list(resources.CATALOG_MODULES)
DECLARATION_TYPES = {OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty,
                     OWL.NamedIndividual}
OURS = (resources.SAI, resources.CAT, resources.AID)


@pytest.fixture(scope="module")
def ontology() -> rdflib.Graph:
    graph = rdflib.Graph()
    for name in ONTOLOGY_FILES:
        graph.parse(resources.ontology_dir() / name, format="turtle")
    return graph


def declared(graph):
    return {s for t in DECLARATION_TYPES for s in graph.subjects(RDF.type, t)
            if isinstance(s, rdflib.URIRef) and str(s).startswith(OURS)}


def test_every_term_has_label_definition_and_source(ontology):
    missing = defaultdict(list)
    for term in declared(ontology):
        for prop in (RDFS.label, SKOS.definition, DCTERMS.source):
            if ontology.value(term, prop) is None:
                missing[prop.n3(ontology.namespace_manager)].append(term.n3(ontology.namespace_manager))
    assert not missing, dict(missing)


def test_terms_used_are_declared(ontology):
    """A term our modules use in subject or object position is declared, so Protégé shows no 'unknown' IRIs."""
    terms = declared(ontology)
    used = {o for o in ontology.objects() if isinstance(o, rdflib.URIRef) and str(o).startswith(resources.SAI)}
    used |= {p for p in ontology.predicates() if str(p).startswith(resources.SAI)}
    assert used - terms == set()


def test_no_punning_and_one_kind_per_property(ontology):
    kinds = defaultdict(set)
    for kind in (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty, OWL.NamedIndividual):
        for s in ontology.subjects(RDF.type, kind):
            kinds[s].add(kind)
    mixed = {str(s): sorted(map(str, k)) for s, k in kinds.items() if len(k) > 1}
    assert not mixed


def test_modules_have_version_iris(ontology):
    ontologies = set(ontology.subjects(RDF.type, OWL.Ontology))
    assert rdflib.URIRef(resources.ONTOLOGY_IRI) in ontologies
    for onto in ontologies:
        assert ontology.value(onto, OWL.versionIRI) is not None, onto


def test_protege_catalog_resolves_every_import_offline(ontology):
    tree = ET.parse(resources.ontology_dir() / "catalog-v001.xml")
    mapped = {el.get("name"): el.get("uri") for el in tree.iter() if el.tag.endswith("uri")}
    for target in ontology.objects(None, OWL.imports):
        assert str(target) in mapped, f"{target} has no catalog entry"
        assert (resources.ontology_dir() / mapped[str(target)]).is_file()


@pytest.mark.skipif(shutil.which("java") is None, reason="HermiT needs a Java runtime; .ci/run checks for it")
def test_hermit_finds_the_ontology_consistent_with_no_unsatisfiable_class(ontology, tmp_path):
    import owlready2

    merged = rdflib.Graph()
    merged += ontology
    merged.remove((None, OWL.imports, None))  # all modules are merged; nothing must be fetched
    path = tmp_path / "sortai-merged.owl"
    merged.serialize(path, format="xml")
    world = owlready2.World()
    onto = world.get_ontology(path.as_uri()).load()
    with onto:
        owlready2.sync_reasoner_hermit(world, infer_property_values=False, debug=0)
    assert list(world.inconsistent_classes()) == []
