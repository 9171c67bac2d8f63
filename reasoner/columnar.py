"""Conjunctive rule files run natively: Polars joins over an integer-encoded triple table (issue 13, point 2).

A rule file whose every body is a basic graph pattern with comparison filters (the anchor workload, and most
hand-written forward-chaining rule sets) runs here instead of through Oxigraph's SPARQL, with no row passing
through Python:
- every term gets an integer id; the triples are kept as (s, o) columns per predicate;
- a body is a chain of hash joins, smallest relation first, each filter applied once its variables are bound;
- the conclusions are the template's distinct triples, anti-joined with the triples already there;
- a recursive stratum joins, after its first round, only the triples the previous round derived (semi-naive);
- each rule application keeps its binding rows as columns, and `why` instantiates premises from them on demand.

`compile_rules` refuses what it does not cover, naming the rule and the construct: OPTIONAL, UNION, MINUS, BIND,
aggregates, subqueries, property paths, blank nodes in a template, filters other than comparisons.
`infer_rule_files` then runs the file on the Oxigraph engine (engine.py), as it does when a comparison meets values
the term ids cannot decide by SPARQL's rules (two strings ordered, literals of other datatypes): the run is exact,
or it is not the one that answers.

Measured on the anchor workload in benchmarks/README.md ("Anchor workload"; Polars against DuckDB and DataFusion
in "Substrate candidates").
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl
import pyoxigraph as ox
import rdflib
from rdflib.plugins.sparql import algebra, parser

from . import resources
from .description import Description
from .provenance import to_ox
from .rules import RuleBase

ID = pl.UInt32
XSD = "http://www.w3.org/2001/XMLSchema#"
RDF_TYPE = f"<{rdflib.RDF.type}>"
SUBCLASS = f"<{rdflib.RDFS.subClassOf}>"

# A term's kind decides how SPARQL compares it (SPARQL 1.1, 17.3 and 17.4.1.7).
IRI, BNODE, NUMBER, STRING, OTHER_LITERAL = range(5)
# Numeric literals compared as float64 values: exact for integers and decimals of at most 15 significant digits
# and for doubles. Anything else (a longer decimal, INF, NaN, an ill-formed lexical form, other numeric types) is
# an OTHER_LITERAL, which a comparison does not decide.
_NUMERIC = {f"{XSD}{name}": pattern for name, pattern in {
    "integer": r"^[+-]?[0-9]{1,15}$", "int": r"^[+-]?[0-9]{1,9}$", "long": r"^[+-]?[0-9]{1,15}$",
    "decimal": r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$",
    "double": r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$",  # ASCII digits: Rust's \d is Unicode
}.items()}
_MAX_DIGITS = 15
COMPARISONS = ("=", "!=", "<", ">", "<=", ">=")
# Column names no SPARQL variable can have: the one empty solution, and a body's blank nodes (variables too).
EMPTY = "\0"
BLANK = "\0b:"


class NotCovered(Exception):
    """The rule file (or, while running, a comparison over the data) is outside what this substrate decides."""


Term = tuple  # ("var", name) or ("const", N-Triples text)


@dataclass(frozen=True)
class Body:
    rule_id: str
    patterns: tuple[tuple[Term, Term, Term], ...]
    filters: tuple[tuple[str, Term, Term], ...]
    template: tuple[tuple[Term, Term, Term], ...]
    # A foreign rule's shape targets, as (kind, N-Triples text or IRI): where the body names ?this, its focus nodes
    # join the body as the relation `this`; where it does not, the body runs as a whole if there is any focus node.
    # None for a product rule, whose focus pattern `?this a target_class` opens `patterns`.
    targets: tuple | None = None
    uses_this: bool = True


def compile_rules(rule_base: RuleBase) -> list[list[Body]]:
    """The rule base's strata with each rule's body; `NotCovered` names the first rule that is not conjunctive."""
    return [[_compile(rule) for rule in stratum] for stratum in rule_base.strata]


def _compile(rule) -> Body:
    query = algebra.translateQuery(parser.parseQuery(rule.prologue + "\n" + rule.construct.replace("$this", "?this")))
    patterns, filters = [], []
    body = query.algebra.p
    _walk(body.p if body.name == "Project" else body, patterns, filters, rule.rule_id)  # CONSTRUCT projects all
    template = []
    for s, p, o in query.algebra.template:
        if any(isinstance(t, rdflib.BNode) for t in (s, p, o)):
            raise NotCovered(f"rule {rule.rule_id}: a blank node in the template (a fresh node per row)")
        template.append(tuple(_term(t, rule.rule_id) for t in (s, p, o)))
    targets, uses_this = None, True
    if rule.target_class and not rule.targets:  # a product rule: the members of one class, without subclasses
        patterns.insert(0, (("var", "this"), ("const", RDF_TYPE), ("const", f"<{rule.target_class}>")))
    else:
        targets = tuple((kind, str(to_ox(term)) if kind == "node" else str(term)) for kind, term in rule.targets)
        uses_this = rule.focus_ask is None
    return Body(rule.rule_id, tuple(patterns), tuple(filters), tuple(template), targets, uses_this)


def _walk(node, patterns: list, filters: list, rule_id: str) -> set[str]:
    """Collect the triple patterns and filters of a conjunctive body; the variables the node binds."""
    if node.name == "BGP":
        bound = set()
        for triple in node.triples:
            terms = tuple(_term(t, rule_id) for t in triple)
            patterns.append(terms)
            bound |= {value for kind, value in terms if kind == "var"}
        return bound
    if node.name == "Join":
        return _walk(node.p1, patterns, filters, rule_id) | _walk(node.p2, patterns, filters, rule_id)
    if node.name == "Filter":
        bound = _walk(node.p, patterns, filters, rule_id)
        for op, left, right in _comparisons(node.expr, rule_id):
            unbound = {value for kind, value in (left, right) if kind == "var"} - bound
            if unbound:  # the filter's group does not bind it: an error, unlike the same filter over the whole body
                raise NotCovered(f"rule {rule_id}: a filter over ?{sorted(unbound)[0]}, which its group does not bind")
            filters.append((op, left, right))
        return bound
    raise NotCovered(f"rule {rule_id}: {_construct_name(node.name)} is not a basic graph pattern with filters")


def _comparisons(expression, rule_id: str) -> list[tuple[str, Term, Term]]:
    if expression.name == "ConditionalAndExpression":
        return [c for part in [expression.expr, *expression.other] for c in _comparisons(part, rule_id)]
    if expression.name == "RelationalExpression" and expression.op in COMPARISONS:
        sides = (expression.expr, expression.other)
        if all(isinstance(side, (rdflib.Variable, rdflib.URIRef, rdflib.Literal)) for side in sides):
            return [(expression.op, *(_term(side, rule_id) for side in sides))]
    raise NotCovered(f"rule {rule_id}: a filter other than comparisons of variables and constants joined by &&")


def _term(term, rule_id: str) -> Term:
    if isinstance(term, rdflib.Variable):
        return ("var", str(term))
    if isinstance(term, rdflib.BNode):  # in a body: a variable that is not projected
        return ("var", f"{BLANK}{term}")
    if isinstance(term, (rdflib.URIRef, rdflib.Literal)):
        return ("const", str(to_ox(term)))
    raise NotCovered(f"rule {rule_id}: a property path")


def _construct_name(name: str) -> str:
    return {"LeftJoin": "OPTIONAL", "Union": "UNION", "Minus": "MINUS", "Extend": "BIND", "Group": "an aggregate",
            "AggregateJoin": "an aggregate", "ToMultiSet": "a subquery", "Project": "a subquery",
            "values": "VALUES", "Graph": "GRAPH"}.get(name, name)


# --- terms and triples as columns --------------------------------------------------------------------------------

class Terms:
    """Every term's N-Triples text by id, with what comparisons read: its kind and, for a number, its value."""

    def __init__(self, texts: pl.Series):
        self.text = texts.rename("text")
        self.kind, self.value = _kinds(self.text)
        self._asked: dict[str, int] = {}  # the rules' constants: looked up once, not by a join each time

    def ids(self, texts: list[str]) -> list[int]:
        """The ids of these terms, new ones appended."""
        if all(t in self._asked for t in texts):
            return [self._asked[t] for t in texts]
        ids = self._look_up(texts)
        self._asked.update(zip(texts, ids))
        return ids

    def _look_up(self, texts: list[str]) -> list[int]:
        asked = pl.DataFrame({"text": texts}, schema={"text": pl.String})
        known = asked.join(self.text.to_frame().with_row_index("id"), on="text", how="left", maintain_order="left")
        missing = [t for t in dict.fromkeys(known.filter(pl.col("id").is_null())["text"].to_list())]
        if missing:
            _refuse_non_canonical(pl.Series(missing, dtype=pl.String))
            start = len(self.text)
            extra = pl.Series("text", missing, pl.String)
            kind, value = _kinds(extra)
            self.text, self.kind, self.value = (self.text.append(extra), self.kind.append(kind),
                                                self.value.append(value))
            added = dict(zip(missing, range(start, start + len(missing))))
            return [added[t] if i is None else i for t, i in zip(texts, known["id"].to_list())]
        return known["id"].to_list()

    def terms(self, ids) -> list:
        """Oxigraph terms for these ids (explanations, output)."""
        return [q.object for q in _as_objects(self.text.gather(pl.Series(ids, dtype=ID)).to_list())]


def _kinds(text: pl.Series) -> tuple[pl.Series, pl.Series]:
    frame = text.to_frame().lazy().with_columns(
        datatype=pl.col("text").str.extract(r'"\^\^<([^>]*)>$'),
        lexical=pl.col("text").str.extract(r'^"(.*)"(\^\^<[^>]*>)?$'))
    numeric = pl.lit(False)
    for datatype, pattern in _NUMERIC.items():
        numeric = numeric | ((pl.col("datatype") == datatype) & pl.col("lexical").str.contains(pattern))
    digits = pl.col("lexical").str.replace_all(r"[^0-9]", "").str.strip_chars_start("0").str.len_chars()
    numeric = numeric & ((pl.col("datatype") == f"{XSD}double") | (digits <= _MAX_DIGITS))
    string = pl.col("text").str.starts_with('"') & (pl.col("text").str.ends_with('"')
                                                     | (pl.col("datatype") == f"{XSD}string"))
    kind = (pl.when(pl.col("text").str.starts_with("<")).then(IRI)
            .when(pl.col("text").str.starts_with("_:")).then(BNODE)
            .when(numeric).then(NUMBER)
            .when(string).then(STRING)
            .otherwise(OTHER_LITERAL).cast(pl.UInt8).alias("kind"))
    value = pl.when(numeric).then(pl.col("lexical").cast(pl.Float64, strict=False)).alias("value")
    out = frame.select(kind, value).collect()
    return out["kind"], out["value"]


def encode(triples: list[ox.Triple]) -> tuple[dict[int, pl.DataFrame], Terms]:
    """The triples as (s, o) id columns per predicate id, and their terms; parsed from Oxigraph's N-Triples."""
    text = ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES).decode("utf-8")
    # Python's split is 8× Polars' on one 100 MB string; only on "\n": N-Triples leaves U+2028 and U+0085 as they are.
    lines = pl.Series("line", text.split("\n")[:-1], pl.String)
    parts = lines.str.strip_suffix(" .").str.splitn(" ", 3).struct.unnest()
    columns = [parts[c] for c in parts.columns]
    texts = pl.concat(columns).unique(maintain_order=True)
    _refuse_non_canonical(texts)
    terms = Terms(texts)
    index = texts.to_frame("text").with_row_index("id")
    coded = [pl.DataFrame({"text": c}).join(index, on="text", how="left", maintain_order="left")["id"]
             for c in columns]
    facts = pl.DataFrame({"s": coded[0], "p": coded[1], "o": coded[2]}).unique()
    return _by_predicate(facts), terms


def _refuse_non_canonical(texts: pl.Series) -> None:
    """Oxigraph and rdflib take "+5"^^xsd:integer and 5 for one term, and ids by text would not: the typed
    literals must be what the Oxigraph store keeps them as, or the rule file runs there."""
    typed = texts.filter(texts.str.contains(r'"\^\^<') & ~texts.str.ends_with(f"^^<{XSD}string>"))
    if not typed.len():
        return
    store = ox.Store()
    store.extend(_as_objects(typed.to_list()))
    kept = {str(q.object) for q in store}
    if kept != set(typed.to_list()):
        example = next(t for t in typed.to_list() if t not in kept)
        raise NotCovered(f"the literal {example} is not in the form Oxigraph keeps it (another lexical form of the "
                         "same value would be another term here)")


def _as_objects(texts: list[str]) -> list[ox.Quad]:
    """Terms given as N-Triples text, parsed by Oxigraph as the objects of one quad each, in order."""
    lines = "\n".join(f"<urn:x:s> <urn:x:p> {t} ." for t in texts)
    return list(ox.parse(lines, format=ox.RdfFormat.N_TRIPLES))


def _by_predicate(facts: pl.DataFrame) -> dict[int, pl.DataFrame]:
    return {key[0]: frame.drop("p") for key, frame in facts.partition_by("p", as_dict=True).items()}


# --- reasoning ---------------------------------------------------------------------------------------------------

@dataclass
class Application:
    """One evaluation of a rule body: its binding rows, as columns (the provenance `why` reads)."""

    rule_id: str
    rows: pl.DataFrame


@dataclass
class Reasoning:
    """What a columnar run derived; the same reading as engine.Reasoning gives for `sortai infer`."""

    facts: dict[int, pl.DataFrame]
    terms: Terms
    bodies: dict[str, Body]
    derived_facts: dict[int, pl.DataFrame] = field(default_factory=dict)
    applications: list[Application] = field(default_factory=list)
    rounds: int = 0

    @property
    def derived(self) -> int:
        return sum(f.height for f in self.derived_facts.values())

    def inferred_triples(self) -> list[ox.Triple]:
        frames = [f.with_columns(p=pl.lit(p, ID)) for p, f in self.derived_facts.items()]
        if not frames:
            return []
        ids = pl.concat(frames)
        text = self.terms.text
        lines = (text.gather(ids["s"]) + " " + text.gather(ids["p"]) + " " + text.gather(ids["o"]) + " .").to_list()
        return sorted((q.triple for q in ox.parse("\n".join(lines), format=ox.RdfFormat.N_TRIPLES)), key=str)

    def why(self, triple: ox.Triple) -> list[tuple[str, list[ox.Triple]]]:
        """Each rule application that concludes `triple`, with the premises of its first such row."""
        s, p, o = self.terms.ids([str(triple.subject), str(triple.predicate), str(triple.object)])
        found = []
        for application in self.applications:
            body = self.bodies[application.rule_id]
            for template in body.template:
                conditions = [_equals(term, value, self.terms) for term, value in zip(template, (s, p, o))]
                if any(c is None for c in conditions):
                    continue
                rows = application.rows.filter(*conditions) if conditions else application.rows
                if rows.height:
                    found.append((application.rule_id, self._premises(body, rows.row(0, named=True))))
                    break
        return found

    def _premises(self, body: Body, row: dict) -> list[ox.Triple]:
        premises = []
        for pattern in body.patterns:
            ids = [row[value] if kind == "var" else self.terms.ids([value])[0] for kind, value in pattern]
            premises.append(ox.Triple(*self.terms.terms(ids)))
        return premises


def _equals(term: Term, value: int, terms: Terms):
    """A filter on a rows column for a template term equal to `value`; True for a matching constant, None if not."""
    kind, name = term
    if kind == "var":
        return pl.col(name) == value
    return pl.lit(True) if terms.ids([name])[0] == value else None


def infer(description: Description, rule_base: RuleBase, background: bool = False) -> Reasoning:
    """Every stratum to its fixpoint; `NotCovered` if the rule file or a comparison over the data is not decided."""
    strata = compile_rules(rule_base)
    triples = list(description.triples)
    if background:
        triples += [*resources.ontology_triples(), *resources.catalog_triples()]
    facts, terms = encode(triples)
    reasoning = Reasoning(facts, terms, {b.rule_id: b for stratum in strata for b in stratum})
    for stratum, recursive in zip(strata, rule_base.recursive):
        _stratum(reasoning, stratum, recursive)
    return reasoning


def _stratum(reasoning: Reasoning, bodies: list[Body], recursive: bool) -> None:
    terms = reasoning.terms
    writes = set()
    for body in bodies:
        for _, p, _ in body.template:
            writes.add(None if p[0] == "var" else terms.ids([p[1]])[0])
    delta: dict[int, pl.DataFrame] | None = None
    focus_seen: dict[str, pl.DataFrame] = {}
    while True:
        reasoning.rounds += 1
        new: dict[int, list[pl.DataFrame]] = {}
        for body in bodies:
            for rows in _evaluations(reasoning, body, delta, writes, focus_seen):
                if rows.height:
                    reasoning.applications.append(Application(body.rule_id, rows))
                    for p, frame in _conclude(reasoning, body, rows).items():
                        new.setdefault(p, []).append(frame)
        if not recursive or not new:
            return
        delta = {p: pl.concat(frames) for p, frames in new.items()}


def _evaluations(reasoning: Reasoning, body: Body, delta, writes: set, focus_seen: dict):
    """The body's rows: all of them in the first round; after it, those that join a triple the last round derived."""
    focus = None
    if body.targets is not None:
        focus = _focus_nodes(reasoning, body.targets)
        before = focus_seen.get(body.rule_id)
        focus_seen[body.rule_id] = focus
        if not body.uses_this:  # runs as a whole, once its shape has a focus node
            if not focus.height:
                return
            if delta is not None and (before is None or not before.height):
                yield _join(reasoning, body, None, None)
                return
            focus = None
        elif delta is not None and before is not None:
            fresh = focus.join(before, on="this", how="anti")
            if fresh.height:  # new focus nodes, over every triple
                yield _join(reasoning, body, None, fresh)
    if delta is None:
        yield _join(reasoning, body, None, focus)
        return
    for i, (_, p, _) in enumerate(body.patterns):
        key = None if p[0] == "var" else reasoning.terms.ids([p[1]])[0]
        if None in writes or key is None or key in writes:
            yield _join(reasoning, body, (i, delta), focus)


def _focus_nodes(reasoning: Reasoning, targets) -> pl.DataFrame:
    """A shape's focus nodes now: class members (through subclasses), target nodes, subjects or objects of."""
    terms, facts = reasoning.terms, reasoning.facts
    parts = []
    for kind, term in targets:
        if kind == "node":
            parts.append(pl.DataFrame({"this": terms.ids([term])}, schema={"this": ID}))
        elif kind == "class":
            type_id, sub_id, class_id = terms.ids([RDF_TYPE, SUBCLASS, f"<{term}>"])
            classes = pl.DataFrame({"c": [class_id]}, schema={"c": ID})
            edges = facts.get(sub_id, _empty(("s", "o")))
            while True:  # rdfs:subClassOf* down from the target class
                wider = pl.concat([classes, edges.join(classes, left_on="o", right_on="c").select(c="s")]).unique()
                if wider.height == classes.height:
                    break
                classes = wider
            members = facts.get(type_id, _empty(("s", "o"))).join(classes, left_on="o", right_on="c")
            parts.append(members.select(this="s"))
        else:
            column = "s" if kind == "subjectsOf" else "o"
            frame = facts.get(terms.ids([f"<{term}>"])[0], _empty(("s", "o")))
            parts.append(frame.select(this=column))
    if not parts:
        return _empty(("this",))
    return pl.concat(parts).unique()


def _empty(columns) -> pl.DataFrame:
    return pl.DataFrame(schema={c: ID for c in columns})


def _join(reasoning: Reasoning, body: Body, delta_at, focus) -> pl.DataFrame:
    """The body's binding rows: hash joins, the smallest relation first and then, among those sharing a variable
    with what is bound, the smallest; each filter as soon as its variables are bound."""
    relations = [_match(reasoning, pattern, delta_at[1] if delta_at and delta_at[0] == i else None)
                 for i, pattern in enumerate(body.patterns)]
    if focus is not None and body.uses_this:
        relations.append(focus)
    rows = _one_empty_solution(1)  # what `WHERE { }` has
    pending = list(body.filters)
    while True:
        for f in [f for f in pending if all(kind == "const" or value in rows.columns for kind, value in f[1:])]:
            rows = _filter(rows, f, reasoning.terms, body.rule_id)
            pending.remove(f)
        if not relations:
            break
        if not rows.height:
            return _empty(sorted(_variables(body)))
        bound = set(rows.columns)
        nxt = min([r for r in relations if bound & set(r.columns)] or relations, key=lambda r: r.height)
        relations = [r for r in relations if r is not nxt]
        on = sorted(bound & set(nxt.columns))
        if rows.columns == [EMPTY]:
            rows = nxt
        elif nxt.columns == [EMPTY]:  # a pattern without variables: it holds, or nothing does
            rows = rows if nxt.height else rows.clear()
        else:
            rows = rows.join(nxt, on=on, how="inner") if on else rows.join(nxt, how="cross")
    return rows.drop([c for c in rows.columns if c.startswith(BLANK) or (c == EMPTY and rows.width > 1)])


def _one_empty_solution(height: int) -> pl.DataFrame:
    return pl.DataFrame([pl.Series(EMPTY, [0] * height, pl.UInt8)])


def _variables(body: Body) -> set[str]:
    return {v for pattern in body.patterns for kind, v in pattern if kind == "var" and not v.startswith(BLANK)}


def _match(reasoning: Reasoning, pattern, delta) -> pl.DataFrame:
    """The rows of one triple pattern, a column per variable."""
    source = delta if delta is not None else reasoning.facts
    s, p, o = pattern
    ids = {value: reasoning.terms.ids([value])[0] for kind, value in pattern if kind == "const"}
    if p[0] == "const":
        frame = source.get(ids[p[1]], _empty(("s", "o")))
    else:
        frame = pl.concat([f.with_columns(p=pl.lit(k, ID)) for k, f in source.items()]) if source else _empty("spo")
    conditions, names = [], {}
    for column, (kind, value) in zip(("s", "p", "o"), pattern):
        if column not in frame.columns:
            continue
        if kind == "const":
            conditions.append(pl.col(column) == ids[value])
        elif value in names:
            conditions.append(pl.col(column) == pl.col(names[value]))
        else:
            names[value] = column
    if conditions:
        frame = frame.filter(*conditions)
    if not names:  # a ground pattern: one empty solution if the triple is there
        return _one_empty_solution(min(frame.height, 1))
    return frame.select([pl.col(column).alias(value) for value, column in names.items()])


def _filter(rows: pl.DataFrame, comparison, terms: Terms, rule_id: str) -> pl.DataFrame:
    """SPARQL's value comparison where term ids and numbers decide it; `NotCovered` where a row needs more."""
    op, left, right = comparison
    if not rows.height:
        return rows
    sides = []
    for kind, value in (left, right):
        if kind == "var":
            ids = rows[value]
            sides.append((ids, terms.kind.gather(ids), terms.value.gather(ids)))
        else:
            [i] = terms.ids([value])
            sides.append((pl.Series([i], dtype=ID), terms.kind.gather([i]), terms.value.gather([i])))
    (a, ka, va), (b, kb, vb) = sides
    numbers = (ka == NUMBER) & (kb == NUMBER)
    node = (ka <= BNODE) | (kb <= BNODE)
    if op in ("=", "!="):
        # One term is one value, except for literals of other datatypes: "NaN"^^xsd:double is not equal to itself.
        same = (a == b) & (ka != OTHER_LITERAL)
        equal = _pick(numbers, va == vb, same)
        # A number and a string are unequal for pySHACL (rdflib) and Oxigraph alike, where SPARQL 17.4.1.7 would
        # have a type error; literals of other datatypes are left to the SPARQL engine unless they are one term.
        plain = ((ka == NUMBER) | (ka == STRING)) & ((kb == NUMBER) | (kb == STRING))
        decided = plain | node | same
        keep = equal if op == "=" else ~equal
    else:
        compared = {"<": va < vb, ">": va > vb, "<=": va <= vb, ">=": va >= vb}[op]
        # A node, or a number against a string, is a type error: the row is left out (SPARQL 17.3).
        number_vs_string = ((ka == NUMBER) & (kb == STRING)) | ((ka == STRING) & (kb == NUMBER))
        decided = numbers | node | number_vs_string
        keep = numbers & compared
    if not bool(decided.all()):
        raise NotCovered(f"rule {rule_id}: FILTER {op} over values whose SPARQL comparison this substrate leaves "
                         "to the SPARQL engine (strings ordered, or literals of other datatypes)")
    return rows.filter(keep.fill_null(False))


def _pick(condition: pl.Series, then: pl.Series, otherwise: pl.Series) -> pl.Series:
    return pl.select(pl.when(condition).then(then).otherwise(otherwise)).to_series()


def _conclude(reasoning: Reasoning, body: Body, rows: pl.DataFrame) -> dict[int, pl.DataFrame]:
    """The template's new triples from these rows, added to the facts; RDF's rule that a subject is not a literal
    and a predicate is an IRI leaves out what breaks it, as engine.py does."""
    terms = reasoning.terms
    instantiated = []
    for triple in body.template:
        if any(kind == "var" and value not in rows.columns for kind, value in triple):
            continue  # a variable the body never binds: no such triple
        columns = [pl.col(value) if kind == "var" else pl.lit(terms.ids([value])[0], ID)
                   for kind, value in triple]
        instantiated.append(rows.select(s=columns[0], p=columns[1], o=columns[2]))
    if not instantiated:
        return {}
    candidates = pl.concat(instantiated).unique()
    candidates = candidates.filter((terms.kind.gather(candidates["s"]) <= BNODE)
                                   & (terms.kind.gather(candidates["p"]) == IRI))
    new = {}
    for key, frame in candidates.partition_by("p", as_dict=True).items():
        p = key[0]
        frame = frame.drop("p")
        known = reasoning.facts.get(p)
        if known is not None:
            frame = frame.join(known, on=["s", "o"], how="anti")
        if not frame.height:
            continue
        reasoning.facts[p] = frame if known is None else pl.concat([known, frame], rechunk=False)
        derived = reasoning.derived_facts.get(p)
        reasoning.derived_facts[p] = frame if derived is None else pl.concat([derived, frame], rechunk=False)
        new[p] = frame
    return new


def infer_rule_files(description: Description, rule_base: RuleBase, background: bool, substrate: str = "auto"):
    """What `sortai infer` runs: this substrate where it covers the rule file and the data, else engine.py (or,
    with substrate "columnar", `NotCovered`). Returns the reasoning and why the engine ran, if it did."""
    from . import engine

    if substrate != "oxigraph":
        try:
            return infer(description, rule_base, background), None
        except NotCovered as exc:
            if substrate == "columnar":
                raise
            reason = str(exc)
    else:
        reason = None
    return engine.infer(description, rule_base, background=background), reason
