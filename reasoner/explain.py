"""Why a diagnosis holds: a tree from the conclusion through each rule application down to asserted facts.

Every derived triple keeps its derivations (engine.py; held as ids in provenance.py); explaining is
walking them. Leaves are asserted description facts (with file and line), catalog figures (with their
datasheet source) or ontology facts (with the paper section). Numbers appear with the rule's formula and
the values bound when it fired.
"""

from __future__ import annotations

import gc
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache

import pyoxigraph as ox

from . import resources
from .diagnoses import RDF_TYPE, label, source_of, statement_source
from .engine import CATALOG_GRAPH, ONTOLOGY_GRAPH, Reasoning
from .provenance import TERM_BITS, TERM_MASK
from .vocabulary import vocabulary

MAX_DEPTH = 40
DIAGNOSIS = ox.NamedNode(resources.SAI + "Diagnosis")


@dataclass(slots=True)
class Node:
    """One statement of the explanation and why it holds."""

    statement: dict
    kind: str  # derived | asserted | catalog | ontology | repeated | omitted | diagnosis (a reference to another one)
    text: str
    rule: dict | None = None
    values: dict = field(default_factory=dict)
    source: dict | None = None
    because: list["Node"] = field(default_factory=list)

    def to_json(self) -> dict:
        data = {"statement": self.statement, "kind": self.kind, "text": self.text}
        if self.rule:
            data["rule"] = self.rule
        if self.values:
            data["values"] = self.values
        if self.source:
            data["source"] = self.source
        if self.because:
            data["because"] = [child.to_json() for child in self.because]
        return data

    def leaves(self):
        if not self.because:
            yield self
        for child in self.because:
            yield from child.leaves()


class Explainer:
    def __init__(self, reasoning: Reasoning):
        self.reasoning = reasoning
        self.vocab = vocabulary()
        self.root = None
        # One explanation names the same elements and cites the same facts hundreds of times: each name, origin
        # and derivation is worked out once per explainer (`_start_caches`), and again after an update. Bounded,
        # evicting one entry at a time, so that memory stays bounded on a large fleet and no explanation pays
        # for freeing a whole cache (clearing one of terms at once paused an explanation at 1M for 0.7 s).
        self._start_caches()

    # --- naming -----------------------------------------------------------------------------------------

    def term(self, term) -> str:
        if isinstance(term, ox.Literal):
            return term.value
        return self._name_of(term.value)

    def _name(self, iri: str) -> str:
        if iri.startswith(self.description.base) or iri == self.description.deployment:
            return self.description.element_name(iri)
        if iri.startswith(resources.CAT):
            return iri[len(resources.CAT):]
        return label(iri) if iri.startswith((resources.SAI, resources.AID)) else iri

    def statement(self, triple: ox.Triple) -> dict:
        predicate = triple.predicate.value
        key = "type" if predicate == RDF_TYPE.value else self.vocab.key_for(predicate)
        if key.startswith("sai:"):
            key = key[4:]
        return {"subject": self.term(triple.subject), "property": key, "value": self.term(triple.object)}

    def sentence(self, triple: ox.Triple, statement: dict | None = None) -> str:
        return _sentence(statement or self.statement(triple))

    # --- where a fact comes from ------------------------------------------------------------------------

    def _origin_of(self, key: int) -> tuple[str, dict | None]:
        # Kept as strings and tuples of strings, which the cyclic collector stops tracking: tens of thousands
        # of cached dicts or terms made each of its full passes pause an explanation for ~80 ms at 100k.
        found = self._origins.get(key)
        if found is None:
            if len(self._origins) >= 100_000:
                self._origins.popitem(last=False)
            kind, source = self._origin(self._provenance.terms.triple(key))
            found = self._origins[key] = (kind, tuple(source.items()) if source is not None else None)
        kind, source = found
        return kind, dict(source) if source is not None else None  # each node owns its source

    def _origin(self, triple: ox.Triple) -> tuple[str, dict | None]:
        store = self.reasoning.store
        graphs = {q.graph_name for q in store.quads_for_pattern(triple.subject, triple.predicate, triple.object, None)}
        entry = self.description.filled_from.get(triple)
        if entry is not None:
            source = {"entry": self.term(ox.NamedNode(entry)), "source": source_of(entry),
                      "filled into": self.description.element_name(triple.subject.value)}
            where = self.description.location_of(triple.subject.value, triple.predicate.value)
            if where and where.line:
                source["file"], source["line"] = self.description.source, where.line
            self._imported(triple, source, named_by=(resources.SAI + "instanceType", resources.SAI + "hubId"))
            return "catalog", source
        if self.reasoning.asserted_graph in graphs:
            where = self.description.location_of(triple.subject.value, triple.predicate.value)
            source = {"file": self.description.source}
            if where and where.line:
                source["line"] = where.line
            source["element"] = self.description.element_name(triple.subject.value)
            self._imported(triple, source)
            return "asserted", source
        if CATALOG_GRAPH in graphs:
            return "catalog", {"entry": self.term(triple.subject), "source": source_of(triple.subject.value)}
        if ONTOLOGY_GRAPH in graphs:
            return "ontology", {"term": self.term(triple.subject), "source": statement_source(triple)}
        return "unknown", None

    def _imported(self, triple: ox.Triple, source: dict, named_by: tuple = ()) -> None:
        """The artefact line an imported fact was read from (`# from FILE:LINE` in the description); for a fact
        filled in from a catalog entry, the line of the key that named the entry."""
        origins = self.description.origins
        subject = triple.subject.value
        owner = subject.rsplit("/", 1)[0] if subject.endswith("/virtualization") else subject
        where = next((origins[(owner, p)] for p in named_by if (owner, p) in origins), None)
        where = where or origins.get((subject, triple.predicate.value)) or origins.get((subject, None))
        if where is None and "/" in subject[len(self.description.base):]:  # a block: its owner's key
            owner, _, key = subject.rpartition("/")
            where = origins.get((owner, self.vocab.terms[key].iri)) if key in self.vocab.terms else None
        if where is not None:
            source["imported from"] = f"{where.file}:{where.line}"

    # --- the tree ---------------------------------------------------------------------------------------

    def explain_triple(self, triple: ox.Triple, seen: set, depth: int = 0) -> Node:
        self._follow_updates()
        key = self._provenance.key(triple)
        if key is None:  # a term no rule ever bound, so a fact no rule concluded
            statement = self.statement(triple)
            kind, source = self._origin(triple)
            return Node(statement, kind, self.sentence(triple, statement), source=source)
        return self._explain(key, seen, depth)

    def _explain(self, key: int, seen: set, depth: int) -> Node:
        """The tree of one triple, walked by its integer key (provenance.py): premises, repeats and origins are
        looked up by key, so no term is hashed on the way. `seen` holds keys and (rule, premise keys)."""
        provenance = self._provenance
        subject, predicate, value = self._statement_of(key)
        statement = {"subject": subject, "property": predicate, "value": value}
        sentence = _sentence(statement)
        if (key & TERM_MASK == self._diagnosis_id and key >> TERM_BITS & TERM_MASK == self._type_id
                and provenance.terms.terms[key >> 2 * TERM_BITS] != self.root):
            # Another diagnosis (a compounding partner): a reference, explained on its own.
            return Node(statement, "diagnosis", f"diagnosis {subject}  (explained on its own)")
        found = provenance.by_key.get(key)
        if found is None:
            kind, source = self._origin_of(key)
            return Node(statement, kind, sentence, source=source)
        if key in seen or depth > MAX_DEPTH:
            return Node(statement, "repeated", sentence + "  (explained above)")
        seen.add(key)
        type_id, derived = self._type_id, provenance.by_key
        children = []
        for ref in (found,) if isinstance(found, int) else found:
            rule, premises, omitted = self._derivation_of(ref)
            described = {"id": rule.rule_id, "label": rule.label, "sections": list(rule.sections),
                         "formula": rule.formula, "file": "rules/inference/" + rule.file}
            if (rule.rule_id, premises) in seen:
                children.append(Node(statement, "repeated", f"by {rule.rule_id} {rule.label} (same application as above)",
                                     rule=described))
                continue
            seen.add((rule.rule_id, premises))
            # Asserted rdf:type facts only restate which list an element was declared in.
            because = [self._explain(k, seen, depth + 1) for k in premises
                       if k >> TERM_BITS & TERM_MASK != type_id or k in derived]
            if omitted:
                because.append(Node({"subject": "…", "property": "…", "value": "…"}, "omitted",
                                    f"… and {omitted} more matches of the same patterns, aggregated but not shown"))
            # Not cached with the premises: a value is a new string each time, and 200k cached derivations' values
            # took about 150 MB at 1M.
            values = {name: v.value for name, v in provenance.bindings(ref) if isinstance(v, ox.Literal)}
            children.append(Node(statement, "derived", f"by {rule.rule_id} {rule.label}", rule=described,
                                 values=values, because=because))
        if len(children) == 1:
            only = children[0]
            only.text = f"{sentence}  [{only.text}]"
            return only
        return Node(statement, "derived", f"{sentence}  ({len(children)} independent derivations)", because=children)

    def _derivation(self, ref: int) -> tuple:
        """A derivation as the tree shows it: its rule, its premises' keys, the rows left out."""
        provenance = self._provenance
        return provenance.rule_of(ref), tuple(provenance.premise_keys(ref)), provenance.omitted.get(ref, 0)

    def _follow_updates(self) -> None:
        """An update (incremental.py) replaces the description, and in full the provenance too."""
        if self._provenance is not self.reasoning.derivations or self.description is not self.reasoning.description:
            self._start_caches()

    def _start_caches(self) -> None:
        """Subtrees recur across a fleet's diagnoses. Keyed by integer keys and refs (provenance.py), the caches
        keep no terms or derivation objects alive; keys are numbered per provenance, and names and lines come from
        the description, so the caches start again when an update replaces either."""
        self.description = self.reasoning.description
        provenance = self._provenance = self.reasoning.derivations
        self._name_of = lru_cache(maxsize=100_000)(self._name)
        self._derivation_of = lru_cache(maxsize=200_000)(self._derivation)
        self._statements: OrderedDict[int, tuple[str, str, str]] = OrderedDict()
        self._origins: OrderedDict[int, tuple] = OrderedDict()
        # `id`, not a lookup: a premise plan made later could give a term its id, which the explainer would miss.
        self._type_id = provenance.terms.id(RDF_TYPE)
        self._diagnosis_id = provenance.terms.id(DIAGNOSIS)
        self._frozen = 0

    def _statement_of(self, key: int) -> tuple[str, str, str]:
        found = self._statements.get(key)
        if found is None:
            if len(self._statements) >= 200_000:
                self._statements.popitem(last=False)
            s = self.statement(self._provenance.terms.triple(key))
            found = self._statements[key] = (s["subject"], s["property"], s["value"])
        return found

    def explain_diagnosis(self, iri: str) -> Node:
        self._follow_updates()
        node = ox.NamedNode(iri)
        self.root = node
        seen: set = set()
        facets = []
        for predicate in ("http://www.w3.org/1999/02/22-rdf-syntax-ns#type", resources.SAI + "severity",
                          resources.SAI + "confidence", resources.SAI + "compoundsWith"):
            # In the order of their values: the store's order follows how it was filled, which an incremental
            # update (incremental.py) changes, and what comes first is explained in full, later repeats refer to it.
            quads = self.reasoning.store.quads_for_pattern(node, ox.NamedNode(predicate), None,
                                                           self.reasoning.inferred_graph)
            for triple in sorted((q.triple for q in quads), key=lambda t: str(t.object)):
                facets.append(self.explain_triple(triple, seen))
        name = self.term(node)
        misses = self._derivation_of.cache_info().misses
        if misses - self._frozen > 2_000:
            # What the caches keep lives as long as the explainer, as the reasoning itself does (engine.py), so it
            # leaves the collector's generations: left in them, about 50k objects at 100k made the collector's
            # full passes pause an explanation for up to 75 ms (16 ms frozen).
            gc.freeze()
            self._frozen = misses
        return Node({"subject": name, "property": "diagnosis", "value": name}, "derived",
                    f"diagnosis {name}", because=facets)


def _sentence(statement: dict) -> str:
    return f"{statement['subject']} · {statement['property']} = {statement['value']}"


def render_text(node: Node, indent: str = "", verbose: bool = True, source: str | None = None) -> str:
    """The tree as indented text. `verbose` shows every provenance field (sections, file, element, datasheet URL);
    the compact view keeps the numbers and the formula (once per rule), cites asserted facts by line and catalog
    figures by entry, and drops repeated applications."""
    if verbose:
        return _render_verbose(node, indent)
    return "\n".join(_render_compact(node, indent, source, set()))


def _where(node: Node, source: str | None) -> str:
    if not node.source:
        return ""
    where = node.source
    if node.kind == "catalog":
        text = f"catalog {where.get('entry', '?')}"
        if where.get("line"):
            text += f", line {where['line']}"
    elif node.kind == "asserted":
        text = f"line {where['line']}" if where.get("line") else "asserted"
        if where.get("file") and where.get("file") != source:
            text = f"{where['file']}:{where.get('line', '')}".rstrip(":")
    elif node.kind == "ontology":
        text = f"ontology, {where['source']}" if where.get("source") else "ontology"
    else:
        return ""
    if where.get("imported from"):
        text += f", from {where['imported from']}"
    return f"  ({text})"


def _render_compact(node: Node, indent: str, source: str | None, formulas: set) -> list[str]:
    if node.kind == "repeated" and node.text.endswith("(same application as above)"):
        return []
    lines = [indent + node.text + _where(node, source)]
    rule = node.rule or {}
    if rule.get("formula") and node.kind != "repeated" and rule.get("id") not in formulas:
        formulas.add(rule.get("id"))
        lines.append(indent + "    = " + rule["formula"])
    if node.values:
        lines.append(indent + "    values: " + ", ".join(f"{k}={v}" for k, v in sorted(node.values.items())))
    for child in node.because:
        lines.extend(_render_compact(child, indent + "  ", source, formulas))
    return lines


def _render_verbose(node: Node, indent: str = "") -> str:
    lines = [indent + node.text]
    if node.rule and node.rule.get("formula") and node.kind != "repeated":
        lines.append(indent + "    formula: " + node.rule["formula"])
        lines.append(indent + "    sections: " + ", ".join(node.rule["sections"]))
    if node.values:
        lines.append(indent + "    values: " + ", ".join(f"{k}={v}" for k, v in sorted(node.values.items())))
    if node.source:
        lines.append(indent + "    from: " + ", ".join(f"{k} {v}" for k, v in node.source.items() if v is not None))
    for child in node.because:
        lines.append(_render_verbose(child, indent + "  "))
    return "\n".join(lines)
