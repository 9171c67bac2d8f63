"""Focus paths (reasoner/focus_paths.py): the chain from each body pattern to ?this that lets an incremental update
re-run a rule for the focus nodes an edit reaches, and the patterns that must have none (the rule then re-runs in
full). Each case is a small CONSTRUCT whose chains are read off by hand."""

from __future__ import annotations

from rdflib.plugins.sparql import prepareQuery

from sortai.reasoner.focus_paths import NARROW_ENOUGH, Either, analyse, reached

EX = "http://example.org/"


def _paths(where: str, template: str = "?this :out ?x", base: str = ""):
    """The focus paths of a rule `CONSTRUCT { template } WHERE { where }` whose focus is `?this a :Thing`."""
    parsed = prepareQuery(f"{base}PREFIX : <{EX}> CONSTRUCT {{ {template} }} WHERE {{ {where} }}")
    return analyse(parsed.algebra.p, parsed.algebra.template, EX + "Thing", parsed.prologue.base)


def _local(steps: tuple) -> tuple:
    """Steps with local names; a step through a UNION as ("either", chain of each branch...)."""
    return tuple(("either", *(_local(b) for b in s.branches)) if isinstance(s, Either) else (s[0].replace(EX, ":"), s[1])
                 for s in steps)


def _chains(where: str) -> dict[str, tuple | None]:
    """Body predicate (local name) -> its chain, as (start, ((predicate, forward), ...)) or None."""
    paths = _paths(where)
    chains: dict[str, tuple | None] = {}
    for reach in paths.body:
        name = reach.predicate.replace(EX, ":")
        steps = None if reach.steps is None else (reach.start, _local(reach.steps))
        assert chains.get(name, steps) == steps, f"{name} given two chains"
        chains[name] = steps
    return chains


def test_a_pattern_joined_to_this_walks_back_along_the_join():
    chains = _chains("?this :a ?x . ?x :b ?y")
    assert chains[":a"] == ("s", ())
    assert chains[":b"] == ("s", ((":a", False),))  # from ?x back along :a to ?this


def test_an_optional_pattern_is_reached_through_its_left_side_but_does_not_carry_a_chain_itself():
    chains = _chains("?this :a ?x . OPTIONAL { ?x :b ?y } OPTIONAL { ?this :c ?z } ?q :d ?z")
    assert chains[":b"] == ("s", ((":a", False),))
    # ?z is bound by :d on every row, by the OPTIONAL :c only on some: :d has no chain through :c
    assert chains[":d"] is None


def test_a_pattern_inside_not_exists_is_reached_through_the_outer_solution():
    assert _chains("?this :a ?x . FILTER NOT EXISTS { ?x :b ?y }")[":b"] == ("s", ((":a", False),))


def test_a_union_is_one_step_with_a_way_through_each_branch():
    chains = _chains("{ ?this :a ?x } UNION { ?this :b ?w . ?w :d ?x } ?x :c ?y")
    assert chains[":a"] == ("s", ()) and chains[":b"] == ("s", ())
    # ?x comes from one branch or the other: back along :a, or back along :d then :b
    assert chains[":c"] == ("s", (("either", ((":a", False),), ((":d", False), (":b", False))),))


def test_a_union_one_of_whose_branches_does_not_bind_the_path_carries_no_chain():
    chains = _chains("{ ?this :a ?x } UNION { ?this :b ?z } ?x :c ?y")
    assert chains[":c"] is None  # a row of the second branch leaves ?x unbound: :c joins it to anything


def test_an_alias_is_a_step_of_length_zero():
    # C02's shape: a loop's nodes, those of the pools it governs or a node it governs itself
    where = ("?this :governs ?t . { ?t :servesFrom ?n } UNION { ?t :kind :Node . BIND (?t AS ?n) } "
             "?n :bandwidth ?bw")
    chains = _chains(where)
    assert chains[":bandwidth"] == ("s", (("either", ((":servesFrom", False),), ()), (":governs", False)))
    assert _chains("?this :a ?x . BIND (?x AS ?y) ?y :b ?z")[":b"] == ("s", ((":a", False),))


def test_a_computed_value_is_no_alias():
    assert _chains("?this :a ?x . BIND (STR(?x) AS ?y) ?z :b ?y")[":b"] is None
    # rdflib binds an aggregate's result by BIND (?__agg_1__ AS ?m): no pattern binds ?__agg_1__
    grouped = "{ SELECT ?k (MAX(?v) AS ?m) WHERE { ?k :v ?v } GROUP BY ?k }"
    assert _chains(f"?this :a ?k . {grouped} ?q :b ?m")[":b"] is None
    assert _chains(f"?this :a ?x . {grouped} ?x :b ?k")[":b"] == ("s", ((":a", False),))


def test_a_subquery_is_co_matched_by_what_it_projects():
    # S06's shape: the workloads of a measurement, the measured one or those whose path holds the measured component
    where = ("?this :foi ?m . { SELECT ?this ?w WHERE { { ?this :foi ?w . ?w :kind :Workload } UNION "
             "{ ?this :foi ?on . ?on :onPath ?w } } } ?c :pathOf ?w")
    chains = _chains(where)
    assert chains[":pathOf"] == ("o", (("either", ((":foi", False),), ((":onPath", False), (":foi", False))),))
    # what it does not project (?on, renamed in the subquery's scope) is not the outer one of the same name
    assert _chains("?this :a ?on . { SELECT ?this WHERE { ?this :b ?on } } ?on :c ?y")[":c"] == ("s", ((":a", False),))
    assert _chains("?this :z ?q . { SELECT ?this WHERE { ?this :b ?on } } ?on :c ?y")[":c"] is None


def test_an_aggregate_over_the_whole_fleet_reaches_every_focus_node():
    chains = _chains("?this :a ?x . { SELECT (MAX(?v) AS ?m) WHERE { ?n :v ?v } }")
    assert chains[":v"] is None


def test_an_aggregate_grouped_by_this_reaches_its_own_group():
    chains = _chains("?this :a ?x . { SELECT ?this (SUM(?v) AS ?s) WHERE { ?this :p ?n . ?n :v ?v } GROUP BY ?this }")
    assert chains[":v"] == ("s", ((":p", False),))


def test_a_subquery_variable_it_does_not_project_is_not_the_outer_one_of_the_same_name():
    chains = _chains("?this :a ?x . { SELECT ?this WHERE { ?this :b ?z . ?x :c ?k } }")
    assert chains[":c"] is None  # the inner ?x joins nothing outside: merged with the outer one it would walk :a


def test_a_pattern_under_limit_has_no_chain():
    assert _chains("?this :a ?x . { SELECT ?this WHERE { ?this :b ?y } LIMIT 3 }")[":b"] is None


def test_the_chain_is_followed_in_the_data_and_gives_up_past_the_limit():
    chains = _paths("?this :a ?x . ?x :b ?y", "?this :out ?y").body
    a_edges = {"x1": ["t1", "t2"], "x2": ["t3"]}  # ?this :a ?x, walked backwards: x -> the focus nodes
    step = lambda term, predicate, forward: a_edges.get(term, []) if predicate == EX + "a" and not forward else []
    edited = {EX + "b": [_Triple("x1", EX + "b", "y1"), _Triple("x2", EX + "b", "y2")]}
    assert reached(chains, edited, step, lambda t: t, limit=10) == {"t1", "t2", "t3"}
    assert reached(chains, edited, step, lambda t: t, limit=2) is None
    assert reached(chains, {EX + "c": [_Triple("x1", EX + "c", "y")]}, step, lambda t: t, limit=10) == set()


class _Triple:
    def __init__(self, subject, predicate, object_):
        self.subject, self.predicate, self.object = subject, predicate, object_


def test_an_optional_is_co_matched_with_its_left_side_only_not_with_what_is_joined_after_it():
    # A new :c triple binds ?w, and then `?w :d ?this` can fail: the row is lost though no row holds that triple.
    # The chain goes through the left side (?x, shared with it), never through ?w or an outer ?z.
    assert _chains("?this :a ?x . OPTIONAL { ?w :c ?x } ?w :d ?this")[":c"] == ("o", ((":a", False),))
    assert _chains("?this :a ?z . { ?this :b ?x OPTIONAL { ?z :c ?x } }")[":c"] == ("o", ((":b", False),))
    assert _chains("?this :a ?z . { ?this :b ?x MINUS { ?z :c ?x } }")[":c"] == ("o", ((":b", False),))


def test_a_distinct_subquery_shares_only_what_it_projects():
    assert _chains("?this :a ?x . { SELECT DISTINCT ?this WHERE { ?this :b ?z . ?x :c ?k } }")[":c"] is None


def test_a_blank_node_in_the_body_leaves_the_rule_to_full_re_runs():
    assert _paths("?this :has [ :v ?x ]") is None


def _restrictable(where: str) -> bool:
    return _paths(where).restrict_subqueries


def test_a_subquery_may_be_restricted_to_the_focus_nodes_only_where_it_cannot_change_their_rows():
    grouped = "{ SELECT ?this (SUM(?v) AS ?s) WHERE { ?this :p ?v } GROUP BY ?this }"
    assert _restrictable(f"?this :a ?x . {grouped}")
    assert _restrictable(f"?this :a ?x . OPTIONAL {{ {grouped} ?this :b ?y }}")  # joined on ?this all the same
    # ?this bound on some of its rows only: restricted, an unbound row would be bound to each focus node
    assert not _restrictable("?this :a ?x . { SELECT ?this WHERE { { ?this :p ?v } UNION { ?w :q ?v } } }")
    # LIMIT picks among all its rows
    assert not _restrictable("?this :a ?x . { SELECT ?this WHERE { ?this :p ?v } LIMIT 5 }")
    # inside a subquery that does not project ?this, its ?this is any node: a count over all of them
    assert not _restrictable("?this :a ?x . { SELECT (COUNT(?this) AS ?n) WHERE { { SELECT ?this WHERE "
                             "{ ?this :p ?v } } } }")


def test_an_iri_minted_on_every_row_names_the_strings_it_contains():
    def minted(where: str, base: str = "") -> dict:
        return dict(_paths(where, "?c :about ?this", base).minted)

    assert minted('?this :a ?m . BIND (IRI(CONCAT(STR(?this), "/condition/", STR(?m), "/x")) AS ?c)') == {
        "c": ("/condition/", "/x")}
    # bound in one branch only: a row of the other branch may bind ?c to anything
    assert minted('?this :a ?m . { BIND (IRI(CONCAT(STR(?this), "/c")) AS ?c) } UNION { ?this :b ?c }') == {}
    assert minted('?this :a ?m . OPTIONAL { ?this :b ?n BIND (IRI(CONCAT(STR(?n), "/c")) AS ?c) }') == {}
    # under a BASE, IRI("../c/x") resolves the dot segments away: the string is not in the IRI
    assert minted('?this :a ?m . BIND (IRI(CONCAT("../c/", STR(?m))) AS ?c)', f"BASE <{EX}base/x/> ") == {}


def test_a_subquery_that_starts_with_a_union_is_restricted_only_where_each_branch_binds_this():
    assert _restrictable("{ SELECT ?this ?w WHERE { { ?this :a ?w } UNION { ?this :b ?x . ?x :c ?w } } }")
    assert not _restrictable("{ SELECT ?this ?w WHERE { { ?this :a ?w } UNION { ?x :c ?w } } }")


def test_a_subquery_is_restricted_only_where_the_triples_it_starts_with_bind_this():
    # VALUES ?this goes first in the subquery's group: before an OPTIONAL, MINUS or BIND that comes first, it would
    # change what they see; after triples that bind ?this it only filters them.
    assert _restrictable("?this :a ?x . { SELECT ?this ?v WHERE { ?this :p ?v OPTIONAL { ?this :q ?w } } }")
    assert not _restrictable("?this :a ?x . { SELECT ?this ?v WHERE { OPTIONAL { ?this :q ?w } ?this :p ?v } }")
    assert not _restrictable("?this :a ?x . { SELECT ?this ?s WHERE { BIND (STR(?this) AS ?s) ?this :p ?v } }")
    assert not _restrictable("?this :a ?x . { SELECT ?this ?v WHERE { MINUS { ?this :q ?w } ?this :p ?v } }")
    assert not _restrictable("?this :a ?x . { SELECT ?this ?x WHERE { ?x :kind :K OPTIONAL { ?this :q ?x } "
                             "?this :r ?x } }")


def test_the_focused_body_restricts_subqueries_only_where_its_text_shows_them_as_the_analysis_counted():
    from dataclasses import replace as replaced

    import pyoxigraph as ox

    from sortai.reasoner.incremental import _focused_select
    from sortai.reasoner.rules import Pattern, Rule

    def rule(where: str) -> Rule:
        paths = _paths(where, "?this :out ?v")
        return Rule(iri=EX + "r", rule_id="X", label="", comment="", sections=(), layer=None, source_domain=None,
                    formula=None, target_class=EX + "Thing", construct="",
                    select=f"PREFIX : <{EX}>\nSELECT * WHERE {{ ?this a <{EX}Thing> . {where} }}",
                    template=(Pattern(None, None, None, "template"),), patterns=(), aggregates=False, file="",
                    focus_paths=paths)

    focus = {ox.NamedNode(EX + "f")}
    grouped = rule("{ SELECT ?this (COUNT(?v) AS ?n) WHERE { ?this :p ?v } GROUP BY ?this }")
    assert _focused_select(grouped, focus).count("VALUES ?this") == 2
    # `?This` is another variable: its subquery is not the focus node's
    other = rule("?this :r ?This . { SELECT ?This (COUNT(?v) AS ?n) WHERE { ?This :p ?v } GROUP BY ?This }")
    assert _focused_select(other, focus).count("VALUES ?this") == 1
    # the text says it once more than the algebra has it (a string): nothing but the top is restricted
    quoted = rule('?this :p ?v ; :name ?n FILTER (?n != "SELECT ?this WHERE {") '
                  "{ SELECT ?this WHERE { ?this :p ?w } }")
    assert _focused_select(quoted, focus).count("VALUES ?this") == 1
    assert _focused_select(replaced(quoted, focus_paths=None), focus).count("VALUES ?this") == 1


def test_every_chain_of_a_pattern_narrows_what_it_reaches():
    # D05's shape: two diagnoses joined by their modes (through the ontology, where a mode has many diagnoses) and
    # by a shared serving path. The :omode pattern has a chain along each, and a focus node must be on both.
    where = "?this :mode ?m ; :on ?w . ?other :on ?w ; :omode ?om . ?m :intensifies ?om"
    entry = next(r for r in _paths(where, "?this :with ?other").body if r.predicate == EX + "omode")
    chains = {(entry.start, entry.steps), *entry.others}
    assert chains == {("s", ((EX + "on", True), (EX + "on", False))),
                      ("o", ((EX + "intensifies", False), (EX + "mode", False)))}
    # Along the serving path o1 reaches more focus nodes than NARROW_ENOUGH (then the next chain is followed too).
    on_path = [f"t{i}" for i in range(1, NARROW_ENOUGH + 3)] + ["o1"]
    edges = {(EX + "on", True): {"o1": ["w1"]}, (EX + "on", False): {"w1": on_path},
             (EX + "intensifies", False): {"M2": ["M1"]}, (EX + "mode", False): {"M1": ["t1", "t99"]}}
    step = lambda term, predicate, forward: edges.get((predicate, forward), {}).get(term, [])  # noqa: E731
    edited = {EX + "omode": [_Triple("o1", EX + "omode", "M2")]}
    assert reached([entry], edited, step, lambda t: t, limit=100) == {"t1"}
    # A chain that passes the limit narrows nothing; the others still do.
    assert reached([entry], edited, step, lambda t: t, limit=len(on_path) - 1) == {"t1", "t99"}
    assert reached([entry], edited, step, lambda t: t, limit=1) is None  # both past it
    # A first chain that reaches a handful is enough: the others are not followed.
    edges[EX + "on", False]["w1"] = ["t1", "t2", "o1"]
    assert reached([entry], edited, step, lambda t: t, limit=100) == {"t1", "t2", "o1"}


def test_a_step_through_a_union_reaches_what_either_branch_reaches():
    where = "{ ?this :a ?x } UNION { ?this :b ?w . ?w :d ?x } ?x :c ?y"
    entry = next(r for r in _paths(where, "?this :out ?y").body if r.predicate == EX + "c")
    edges = {(EX + "a", False): {"x1": ["t1"]}, (EX + "d", False): {"x1": ["w1", "w2"]},
             (EX + "b", False): {"w1": ["t2"], "w2": ["t3"]}}
    step = lambda term, predicate, forward: edges.get((predicate, forward), {}).get(term, [])  # noqa: E731
    edited = {EX + "c": [_Triple("x1", EX + "c", "y1")]}
    assert reached([entry], edited, step, lambda t: t, limit=10) == {"t1", "t2", "t3"}
    assert reached([entry], edited, step, lambda t: t, limit=2) is None  # a branch past the limit: all of them


def test_a_subquery_that_starts_with_a_subquery_projecting_this_is_restricted_with_it():
    inner = "{ SELECT ?this ?r (MAX(?v) AS ?m) WHERE { ?this :p ?v ; :role ?r } GROUP BY ?this ?r }"
    paths = _paths(f"{{ SELECT ?this (MAX(?m) AS ?worst) WHERE {{ {inner} }} GROUP BY ?this }} ?this :a ?x")
    assert paths.restrict_subqueries and paths.subqueries_of_this == 2
    # the inner one groups by ?role only: the outer one's ?this is not bound by what it starts with
    loose = "{ SELECT ?r (MAX(?v) AS ?m) WHERE { ?this :p ?v ; :role ?r } GROUP BY ?r }"
    assert not _restrictable(f"{{ SELECT ?this (MAX(?m) AS ?worst) WHERE {{ {loose} ?this :role ?r }} "
                             "GROUP BY ?this } ?this :a ?x")


def test_the_iri_made_from_a_variable_tells_what_the_variable_may_be():
    from sortai.reasoner.focus_paths import made_from

    def made(where: str) -> tuple:
        return _paths(where, "?c :about ?x").minted_from

    assert made('?this :a ?x . BIND (IRI(CONCAT(STR(?this), "/c")) AS ?c)') == (("c", "this", "/c", True),)
    # from a variable the first triples have as their subject (no literal): what precedes each "/g/"
    assert made('?this :a ?o . ?o :name ?n . BIND (IRI(CONCAT(STR(?o), "/g/", ?n)) AS ?c)') == (
        ("c", "o", "/g/", False),)
    # ?o only an object: a literal "http://..." would make the same IRI as the node <http://...>
    assert made('?this :a ?o . BIND (IRI(CONCAT(STR(?o), "/g/")) AS ?c)') == ()
    assert made('?this :a ?o . BIND (IRI(CONCAT("x:", STR(?this))) AS ?c)') == ()
    assert made_from(EX + "i/c", "/c", True) == [EX + "i"]
    assert made_from(EX + "i/c/d", "/c", True) == []  # made as the two and no more: the text ends it
    assert made_from(EX + "o/g/a/g/b", "/g/", False) == [EX + "o", EX + "o/g/a"]
    assert made_from(EX + "o", "/g/", False) == []


def test_the_variables_of_the_first_triples_open_the_body():
    assert _paths("?this :a ?x . ?x :b ?y . OPTIONAL { ?y :c ?z } BIND (1 AS ?w)").leading == ("this", "x", "y")
    assert _paths("?this :a ?x . FILTER (?x > 1)").leading == ("this", "x")
    assert _paths("{ ?this :a ?x } UNION { ?this :b ?x } ?x :c ?y").leading == ()
    assert _paths("{ SELECT ?this ?x WHERE { ?this :a ?x } } ?x :c ?y").leading == ()


def test_an_iri_is_minted_only_where_nothing_else_binds_its_variable():
    def minted(where: str) -> tuple:
        paths = _paths(where, "?c :about ?this")
        return paths.minted, paths.minted_from

    made = 'BIND (IRI(CONCAT(STR(?this), "/c")) AS ?c)'
    assert minted(f"?this :a ?m . {made}") == ((("c", ("/c",)),), (("c", "this", "/c", True),))
    # where the BIND fails, a pattern after it may bind ?c to any node: the IRI tells nothing then
    assert minted(f"?this :a ?m . {made} OPTIONAL {{ ?c :made ?x }}") == ((), ())
    assert minted(f"?this :a ?m . {{ {made} }} ?c :made ?x") == ((), ())
    assert minted(f"?this :a ?m . {made} {{ SELECT ?c WHERE {{ ?c :made ?x }} }}") == ((), ())
    assert minted(f"?this :a ?m . VALUES ?c {{ :k }} {made}") == ((), ())
