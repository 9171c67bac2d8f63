"""Substrate candidates for issue 13, point 2, measured on the anchor workload: the same rules, compiled once to
SQL over one integer-encoded triple table, run by DuckDB, DataFusion and Polars; beside our engine (Oxigraph)
and the hand-indexed baseline, interleaved in one run.

    pip install -e '.[bench]'                                # duckdb, datafusion, polars, pyarrow
    python -m benchmarks.substrates                          # 10k, 100k, 1M triples; 3 runs each; medians
    python -m benchmarks.substrates --nodes 1800 --runs 1

What each candidate does, in a fresh process, after the same load (N-Triples parsed by pyoxigraph, every term
given an integer id in Python; not in the reasoning time):
- every rule body is one SQL `SELECT` of its variables: a self-join of the triple table per triple pattern,
  its filters (`!=` on term ids, `<` on a numeric side table) in the WHERE clause;
- a recursive stratum runs semi-naively: after its first round, one query per recursive pattern reads only
  the triples derived in the previous round;
- the binding rows of every rule application are kept (columnar provenance, as issue 13's point 3 asks), and the
  new conclusions are the distinct template triples not yet in the table (`EXCEPT`), appended to it.
The derived counts are asserted for every candidate (11,194 / 112,805 / 1,116,647), as in anchor_run.

This is a measurement of substrates, not a product engine: the compiler covers the anchor rules' forms only
(basic graph patterns and comparison filters), which is what makes the comparison fair. The product's rules
(OPTIONAL, BIND, aggregates, subqueries) are what the DuckDB branch `engine` compiled, at 400× Oxigraph's cost.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ANCHOR = HERE / "anchor"
EXPECTED = {180: 11_194, 1800: 112_805, 18_000: 1_116_647}
CANDIDATES = ("duckdb", "datafusion", "polars")
NUMERIC = ("integer", "decimal", "double", "float", "int", "long")


# --- the rules as SQL ----------------------------------------------------------------------------------------

@dataclass
class Body:
    patterns: list[tuple]  # (s, p, o): ("var", name) or ("id", term id)
    filters: list[tuple]  # (op, left, right), each side ("var", name) or ("id", term id)
    template: list[tuple]  # (s, p, o) as patterns


def _term(node, ids: dict) -> tuple:
    import rdflib

    if isinstance(node, rdflib.Variable):
        return ("var", f"v_{node}")  # a prefix: no variable name can be an SQL keyword
    return ("id", ids.setdefault(node.n3(), len(ids)))


def compile_rules(rule_base, ids: dict) -> list[list[tuple[str, Body, bool]]]:
    """The rule base's strata, each rule as (id, Body, recursive): the rules' own text, parsed by rdflib."""
    from rdflib.plugins.sparql import algebra, parser

    strata = []
    for stratum, recursive in zip(rule_base.strata, rule_base.recursive):
        compiled = []
        for rule in stratum:
            query = algebra.translateQuery(parser.parseQuery(rule.select))  # the body, with its prefixes
            template = [tuple(_term(t, ids) for t in (p.s, p.p, p.o)) for p in rule.template]
            patterns, filters = [], []

            def walk(node):
                if node.name == "BGP":
                    patterns.extend(tuple(_term(t, ids) for t in triple) for triple in node.triples)
                elif node.name == "Filter":
                    expression = node.expr
                    if expression.name != "RelationalExpression" or expression.op not in ("!=", "<", ">"):
                        raise ValueError(f"{rule.rule_id}: a filter the substrate benchmark does not compile")
                    filters.append((expression.op, _term(expression.expr, ids), _term(expression.other, ids)))
                    walk(node.p)
                elif node.name in ("Project", "ConstructQuery", "Join", "SelectQuery"):
                    for part in ("p", "p1", "p2"):
                        if part in node and node[part] is not None:
                            walk(node[part])
                else:
                    raise ValueError(f"{rule.rule_id}: {node.name} is not compiled by the substrate benchmark")

            walk(query.algebra)
            compiled.append((rule.rule_id, Body(patterns, filters, template), recursive))
        strata.append(compiled)
    return strata


def body_sql(body: Body, delta_at: int | None = None) -> tuple[str, list[str]]:
    """SELECT of the body's variables; the pattern at `delta_at` reads `delta` instead of `facts`."""
    columns: dict[str, str] = {}
    conditions, tables = [], []
    for i, pattern in enumerate(body.patterns):
        alias = f"t{i}"
        tables.append(f"{'delta' if i == delta_at else 'facts'} AS {alias}")
        for position, (kind, value) in zip("spo", pattern):
            column = f"{alias}.{position}"
            if kind == "id":
                conditions.append(f"{column} = {value}")
            elif value in columns:
                conditions.append(f"{column} = {columns[value]}")
            else:
                columns[value] = column
    numbers = 0
    for op, left, right in body.filters:
        sides = []
        for kind, value in (left, right):
            if op == "!=":
                sides.append(columns[value] if kind == "var" else str(value))
                continue
            numbers += 1
            alias = f"n{numbers}"
            tables.append(f"numbers AS {alias}")
            conditions.append(f"{alias}.id = {columns[value] if kind == 'var' else value}")
            sides.append(f"{alias}.v")
        conditions.append(f"{sides[0]} {op} {sides[1]}")
    names = sorted(columns)
    select = ", ".join(f"{columns[n]} AS {n}" for n in names)
    return f"SELECT {select} FROM {', '.join(tables)} WHERE {' AND '.join(conditions)}", names


def conclusions_sql(body: Body) -> str:
    """The distinct template triples of the rows in `rows`, without those already in `facts`."""
    parts = []
    for triple in body.template:
        terms = [value if kind == "var" else str(value) for kind, value in triple]
        parts.append(f"SELECT {terms[0]} AS s, {terms[1]} AS p, {terms[2]} AS o FROM rows")
    union = " UNION ".join(parts)
    return f"SELECT s, p, o FROM ({union}) AS c EXCEPT SELECT s, p, o FROM facts"


# --- the candidates: one way to run a query over Arrow tables each -----------------------------------------------

class Substrate:
    def __init__(self, name: str):
        self.name = name
        if name == "duckdb":
            import duckdb

            self.connection = duckdb.connect()
            self.connection.execute("SET threads TO 2")
        elif name == "datafusion":
            import datafusion

            self.context = datafusion.SessionContext()
        else:
            import polars

            self.polars = polars
            self.context = polars.SQLContext()

    def register(self, name: str, table) -> None:
        """`table` is a pyarrow Table."""
        if self.name == "duckdb":
            self.connection.register(name, table)
        elif self.name == "datafusion":
            if self.context.table_exist(name):
                self.context.deregister_table(name)
            self.context.register_record_batches(name, [table.to_batches()])
        else:
            self.context.register(name, self.polars.from_arrow(table))

    def query(self, sql: str):
        """The result as a pyarrow Table."""
        if self.name == "duckdb":
            return self.connection.sql(sql).to_arrow_table()
        if self.name == "datafusion":
            import pyarrow as pa

            batches = self.context.sql(sql).collect()
            return pa.Table.from_batches(batches) if batches else None
        return self.context.execute(sql, eager=True).to_arrow()


def reason(substrate: Substrate, strata, facts, numbers) -> tuple[int, int]:
    """Every stratum to its fixpoint; (derived triples, binding rows kept as provenance)."""
    import pyarrow as pa

    substrate.register("numbers", numbers)
    provenance = []
    derived = 0
    for stratum in strata:
        recursive = stratum[0][2]
        writes = {triple[1] for _, body, _ in stratum for triple in body.template}
        delta = None
        first = True
        while first or (recursive and delta is not None and delta.num_rows):
            new_tables = []
            for _, body, _ in stratum:
                if first:
                    queries = [body_sql(body)]
                else:
                    queries = [body_sql(body, i) for i, pattern in enumerate(body.patterns) if pattern[1] in writes]
                for sql, names in queries:
                    substrate.register("facts", facts)
                    if delta is not None:
                        substrate.register("delta", delta)
                    rows = substrate.query(sql)
                    if rows is None or rows.num_rows == 0:
                        continue
                    rows = rows.rename_columns(names)
                    provenance.append(rows)
                    substrate.register("rows", rows)
                    new = substrate.query(conclusions_sql(body))
                    if new is not None and new.num_rows:
                        new = new.rename_columns(["s", "p", "o"]).cast(facts.schema)
                        facts = pa.concat_tables([facts, new])
                        new_tables.append(new)
                        derived += new.num_rows
            first = False
            delta = pa.concat_tables(new_tables) if new_tables else None
    return derived, sum(t.num_rows for t in provenance)


def load(data: Path) -> tuple[object, object, dict]:
    """The triple table (s, p, o as int64 term ids), the numeric values of literals (id, v), the term ids."""
    import pyarrow as pa
    import pyoxigraph as ox

    ids: dict[str, int] = {}
    s, p, o = [], [], []
    values: dict[int, float] = {}
    for quad in ox.parse(path=str(data), format=ox.RdfFormat.N_TRIPLES):
        t = quad.triple
        for column, term in ((s, t.subject), (p, t.predicate), (o, t.object)):
            key = str(term)
            number = ids.get(key)
            if number is None:
                number = ids[key] = len(ids)
                if isinstance(term, ox.Literal) and term.datatype.value.rsplit("#", 1)[-1] in NUMERIC:
                    values[number] = float(term.value)
            column.append(number)
    facts = pa.table({"s": pa.array(s, pa.int64()), "p": pa.array(p, pa.int64()), "o": pa.array(o, pa.int64())})
    numbers = pa.table({"id": pa.array(list(values), pa.int64()), "v": pa.array(list(values.values()), pa.float64())})
    return facts, numbers, ids


def measure(data: Path, candidate: str) -> dict:
    from sortai.reasoner.rules import load_rule_files

    started = time.perf_counter()
    facts, numbers, ids = load(data)
    strata = compile_rules(load_rule_files([ANCHOR / "rules.shacl.ttl"]), ids)
    loaded = time.perf_counter()
    derived, rows = reason(Substrate(candidate), strata, facts, numbers)
    return {"load": loaded - started, "reason": time.perf_counter() - loaded, "derived": derived,
            "provenance_rows": rows, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _child(data: Path, candidate: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "benchmarks.substrates", "--measure", str(data), "--candidate",
                           candidate], capture_output=True, text=True, cwd=HERE.parent)
    if done.returncode:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    from benchmarks import in_a_fresh_process
    from benchmarks.anchor_run import anchor_fleet, baseline

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, nargs="+", default=sorted(EXPECTED))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--candidates", nargs="+", default=list(CANDIDATES) + ["oxigraph"])
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--candidate", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.candidate)))
        return
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for nodes in args.nodes:
            data = anchor_fleet(nodes, Path(tmp))
            runs: dict[str, list] = {c: [] for c in [*args.candidates, "baseline"]}
            for _ in range(args.runs):  # interleaved: every candidate sees the same machine load
                for candidate in args.candidates:
                    if candidate == "oxigraph":
                        runs[candidate].append(in_a_fresh_process("benchmarks.anchor_run", data, "--substrate",
                                                                  "oxigraph"))
                    else:
                        runs[candidate].append(_child(data, candidate))
                runs["baseline"].append(baseline(data))
            row = {"nodes": nodes, "runs": args.runs}
            for candidate, measured in runs.items():
                errors = [m["error"] for m in measured if "error" in m]
                if errors:
                    row[candidate] = {"error": errors[0]}
                    continue
                for m in measured:
                    if nodes in EXPECTED:
                        assert m["derived"] == EXPECTED[nodes], (candidate, nodes, m["derived"])
                row[candidate] = {k: statistics.median(m[k] for m in measured)
                                  for k in ("load", "reason", "peak_rss_mb") if k in measured[0]}
            base = row["baseline"]["reason"]
            line = [f"{nodes:>6} nodes"]
            for candidate in [*args.candidates, "baseline"]:
                r = row[candidate]
                if "error" in r:
                    line.append(f"{candidate}: {r['error']}")
                    continue
                r["ratio_to_baseline"] = r["reason"] / base
                line.append(f"{candidate} {r['reason']:.2f}s ({r['ratio_to_baseline']:.1f}×)")
            print("  ".join(line), flush=True)
            results.append(row)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "substrates.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
