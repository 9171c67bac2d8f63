"""A hostile corpus of descriptions: the named attacks of issue 10 and seeded mutations of the examples.

`named_cases()` are the inputs that once crashed the loader or cost minutes (NaN, nesting 250 deep, a
5,000-digit integer, a 10 MB string, an alias bomb, YAML tags, ill-typed literals, empty files…).
`mutated_cases(n)` are n mutations of the shipped examples, in every syntax: type confusion, deletions,
huge and non-finite values, deep nesting, aliases, tags, odd Unicode, truncation, binary bytes,
broken references. The same seed always gives the same corpus, so a failure can be reproduced by name.

tests/test_hostile.py runs a sample in the normal suite and the whole corpus under `-m hostile`
(.ci/run does both). Any other consumer (the HTTP API's tests) may feed the same cases.
"""

from __future__ import annotations

import copy
import json
import random
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox
from ruamel.yaml import YAML

from .conftest import MINIMAL as _MINIMAL

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*/description.yaml"))
CONTEXT_IRI = "https://w3id.org/sortai/context.jsonld"
SEED = 10
MINIMAL = _MINIMAL.lstrip("\n")


@dataclass(frozen=True)
class Case:
    name: str  # also the file name the case is written under: its suffix tells the format
    data: bytes


TTL_PREFIXES = ("@prefix sai: <https://w3id.org/sortai/ontology#> .\n"
                "@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .\n")


def _alias_bomb(levels: int = 9, width: int = 9) -> str:
    """Chained anchors, each a list of `width` aliases of the previous one, used as `hostedOn: *l8`."""
    anchors = "".join(f"    x{i}: &l{i} [" + ", ".join([f"*l{i - 1}" if i else "gpu-nodes"] * width) + "]\n"
                      for i in range(levels))
    return MINIMAL.replace("    hostedOn: [gpu-nodes]\n", f"{anchors}    hostedOn: *l{levels - 1}\n")


def _merge_bomb(levels: int = 6, width: int = 20) -> str:
    """The same with merge keys: each mapping merges the previous one and lists it `width` times."""
    lines = ["x0: &m0 {a: 1}"] + [f"x{i}: &m{i} {{<<: *m{i - 1}, k: [{', '.join([f'*m{i - 1}'] * width)}]}}"
                                  for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def named_cases() -> list[Case]:
    deep_list = "[" * 250 + "]" * 250
    deep_map = "{a: " * 250 + "1" + "}" * 250
    jsonld_node = '{"@context": "%s", "id": "https://w3id.org/sortai/data/j", "type": "Deployment", %s}'
    cases = {
        "nan.yaml": MINIMAL.replace("parametersB: 8", "parametersB: .nan"),
        "inf.yaml": MINIMAL.replace("parametersB: 8", "parametersB: -.inf"),
        "nan.json": json.dumps({"id": "x", "nodes": [{"id": "a", "acceleratorsPerNode": float("nan")}]}),
        "nan.jsonld": jsonld_node % (CONTEXT_IRI, '"nodes": [{"id": "a", "acceleratorsPerNode": NaN}]'),
        "overflow.jsonld": jsonld_node % (CONTEXT_IRI, '"nodes": [{"id": "a", "acceleratorsPerNode": 1e999}]'),
        "nan.ttl": TTL_PREFIXES + '<f> a sai:Deployment ; sai:hasNode <n> .\n<n> sai:replicaCount "NaN"^^xsd:double .\n',
        "deep-list.yaml": f"id: x\nlabel: {deep_list}\n",
        "deep-map.yaml": f"id: x\nlabel: {deep_map}\n",
        "deep.json": '{"id": "x", "label": ' + deep_list + "}",
        "deep.jsonld": jsonld_node % (CONTEXT_IRI, '"label": ' + deep_list),
        "very-deep.json": '{"id": "x", "label": ' + "[" * 100_000 + "]" * 100_000 + "}",
        "huge-integer.yaml": MINIMAL.replace("parametersB: 8", "parametersB: " + "9" * 5000),
        "huge-integer.json": '{"id": "x", "nodes": [{"id": "a", "count": ' + "9" * 5000 + "}]}",
        "huge-integer.jsonld": jsonld_node % (CONTEXT_IRI, '"nodes": [{"id": "a", "count": ' + "9" * 5000 + "}]"),
        "huge-integer.ttl": TTL_PREFIXES + "<f> a sai:Deployment ; sai:hasNode <n> .\n<n> sai:replicaCount "
                            + "9" * 5000 + " .\n",
        "huge-string.yaml": MINIMAL.replace("kind: on-prem\n", "kind: on-prem\n    label: " + "a" * (10 * 1024 * 1024) + "\n"),
        "long-line.yaml": MINIMAL.replace("kind: on-prem\n", "kind: on-prem\n    label: " + "a" * 200_000 + "\n"),
        "huge-string.jsonld": jsonld_node % (CONTEXT_IRI, '"label": "' + "a" * (10 * 1024 * 1024) + '"'),
        "long-string.ttl": TTL_PREFIXES + '<f> a sai:Deployment ; sai:label "' + "a" * 200_000 + '" .\n',
        "long-list.jsonld": jsonld_node % (CONTEXT_IRI, '"label": [' + ", ".join(['"a"'] * 100_001) + "]"),
        "alias-bomb.yaml": _alias_bomb(),
        "recursive-alias.yaml": MINIMAL + "label: &a [*a]\n",
        "merge-bomb.yaml": MINIMAL + _merge_bomb(),
        "binary-tag.yaml": MINIMAL.replace("kind: on-prem\n", "kind: on-prem\n    label: !!binary aGVsbG8=\n"),
        "set-tag.yaml": MINIMAL + "description: !!set {a, b}\n",
        "omap-tag.yaml": MINIMAL + "description: !!omap [a: 1, b: 2]\n",
        "custom-tag.yaml": MINIMAL.replace("kind: on-prem\n", "kind: !foo on-prem\n"),
        "python-tag.yaml": MINIMAL + "description: !!python/object/apply:os.system ['true']\n",
        "mistyped-tag.yaml": MINIMAL.replace("model: llama-8b\n", "model: !!float llama-8b\n"),
        "date.yaml": MINIMAL.replace("kind: on-prem\n", "kind: on-prem\n    label: 2001-12-14\n"),
        "ill-typed.ttl": TTL_PREFIXES + '<f> a sai:Deployment ; sai:hasNode <n> .\n'
                         '<n> sai:replicaCount "abc"^^xsd:integer ; sai:acceleratorsPerNode "yes"^^xsd:boolean ;'
                         ' sai:label "x"^^xsd:dateTime .\n',
        "ill-typed.jsonld": jsonld_node % (CONTEXT_IRI, '"nodes": [{"id": "a", "count": "many"}]'),
        "empty.ttl": "",
        "empty.nt": "",
        "empty.jsonld": "{}",
        "empty.yaml": "",
        "comments-only.yaml": "# nothing here\n",
        "only-id.yaml": "id:\n",
        "only-id-value.yaml": "id: x\n",
        "no-deployment.ttl": TTL_PREFIXES + "<n1> a sai:Node .\n",
        "unknown-predicates.ttl": TTL_PREFIXES + "<f> a sai:Deployment ; sai:hasNode <n1> .\n"
                                  + "".join(f"<n1> sai:unknownProperty{i} {i} .\n" for i in range(5000)),
        "unknown-keys.yaml": "id: x\nnodes:\n  - id: n1\n" + "".join(f"    acceleratorCount{i}: {i}\n" for i in range(3000)),
        "surrogate.yaml": 'id: x\nlabel: "\\ud800"\n',
        "nul.yaml": 'id: x\nlabel: "a\\0b"\n',
        "bidi.yaml": MINIMAL.replace("id: mini", "id: mini\nlabel: \"\u202egnp.exe\u200b\U0001F600\""),
        "binary.yaml": "id: x\n\x00\x01\x02",
        "latin1.yaml": "id: caf\xe9\n",
        "bom.json": "\ufeff" + json.dumps({"id": "x"}),
        "remote-context.jsonld": '{"@context": "http://127.0.0.1:9/ctx.jsonld", "@id": "x"}',
        "context-list.jsonld": '{"@context": [{"@vocab": 5}], "@id": "x"}',
    }
    return [Case(name, text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text)
            for name, text in cases.items()]


# --- mutations ---------------------------------------------------------------------------------------

HOSTILE_VALUES = [
    None, True, False, 0, -1, -0.0, 1e-320, 10**30, -(10**30), 1e308, float("nan"), float("inf"), "", " ",
    "0", "1e999", "NaN", "null", "true", "x" * 5000, [], {}, [[[]]], [None], {"id": None}, {"a": {"b": {"c": 1}}},
    "\u202e\u200b\U0001F600", "日本語", "a\nb", "../../etc/passwd", "http://127.0.0.1:9/x", "<script>", "'\"\\",
    "@id", "_:b0", "H100-SXM", "gpu-nodes",
]


def _paths(tree, prefix=()):
    """Every (container, key) in a tree, for picking a place to mutate."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield tree, key
            yield from _paths(value, (*prefix, key))
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            yield tree, index
            yield from _paths(value, (*prefix, index))


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 2:
        return word + "x"
    i = rng.randrange(len(word) - 1)
    return rng.choice([word[:i] + word[i + 1] + word[i] + word[i + 2:], word[:i] + word[i + 1:],
                       word[:i] + rng.choice("xyz_-") + word[i:], word.upper()])


def _mutate_tree(tree, rng: random.Random) -> str:
    """Apply one mutation in place; return its name."""
    container, key = rng.choice(list(_paths(tree)))
    kind = rng.choice(["value", "value", "delete", "typo", "nest", "duplicate", "listify", "reference"])
    if kind == "value":
        container[key] = copy.deepcopy(rng.choice(HOSTILE_VALUES))
    elif kind == "delete":
        del container[key]
    elif kind == "typo" and isinstance(container, dict):
        container[_typo(str(key), rng)] = container.pop(key)
    elif kind == "nest":
        value = container[key]
        for _ in range(rng.choice([5, 40, 300])):
            value = rng.choice([[value], {"x": value}])
        container[key] = value
    elif kind == "duplicate" and isinstance(container, list):
        container.append(copy.deepcopy(container[key]))
    elif kind == "listify":
        container[key] = [container[key]] * rng.choice([2, 50])
    elif isinstance(container, dict) and isinstance(container.get(key), str):
        container[key] = rng.choice(["missing-element", container.get("id", "self"), ""])
    else:
        container[key] = None
    return kind


def _mutate_text(text: str, rng: random.Random, yaml: bool) -> tuple[bytes, str]:
    lines = text.splitlines(keepends=True) or [""]
    kind = rng.choice(["truncate", "bytes", "drop-line", "swap-lines", "repeat-line", "digits"]
                      + (["tag", "anchor", "indent"] if yaml else []))
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    if kind == "truncate":
        data = text.encode()[: rng.randrange(max(1, len(text.encode())))]
        return data, kind
    if kind == "bytes":
        raw = bytearray(text.encode())
        at = rng.randrange(len(raw) + 1)
        raw[at:at] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 8)))
        return bytes(raw), kind
    if kind == "drop-line":
        del lines[i]
    elif kind == "swap-lines":
        lines[i], lines[j] = lines[j], lines[i]
    elif kind == "repeat-line":
        lines[i:i] = [lines[i]] * rng.choice([2, 100])
    elif kind == "digits":
        lines[i] = "".join(rng.choice(["9" * 5000, "9" * 400, "-0", ".5e9999", "NaN", ".inf"]) if c.isdigit() else c
                           for c in lines[i])
    elif kind == "tag":
        lines[i] = lines[i].replace(": ", ": " + rng.choice(["!!binary ", "!!set ", "!x ", "!!str ", "!!float ",
                                                               "!!python/name:os.system ", "!!timestamp "]), 1)
    elif kind == "anchor":
        lines[i] = lines[i].replace(": ", ": &a ", 1)
        lines[j] = lines[j].replace(": ", ": *a #", 1) if j > i else lines[j]
    elif kind == "indent":
        lines[i] = " " * rng.choice([1, 3, 8]) + lines[i]
    return "".join(lines).encode("utf-8", "surrogatepass"), kind


def _jsonld(tree) -> str:
    document = {"@context": CONTEXT_IRI, **tree, "type": "Deployment"}
    document["id"] = f"https://w3id.org/sortai/data/{tree.get('id', 'x') if isinstance(tree, dict) else 'x'}"
    return json.dumps(document, indent=1, allow_nan=True, default=str)


def _turtle(path: Path) -> str:
    from sortai.reasoner.description import load_file

    return ox.serialize(load_file(path).triples, format=ox.RdfFormat.TURTLE).decode()


def _mutate_turtle(text: str, rng: random.Random) -> tuple[bytes, str]:
    lines = text.splitlines(keepends=True)
    i = rng.randrange(len(lines))
    kind = rng.choice(["literal", "datatype", "predicate", "text"])
    if kind == "literal":
        lines[i] = lines[i].replace('"', '"' + rng.choice(["abc", "NaN", "INF", "-", "9" * 300, "1e99999", ""]) + "\u00a0", 1)
    elif kind == "datatype":
        lines[i] = lines[i].replace("XMLSchema#decimal", "XMLSchema#" + rng.choice(["boolean", "dateTime", "int",
                                                                                      "gYear", "hexBinary"]))
        lines[i] = lines[i].replace("XMLSchema#integer", "XMLSchema#" + rng.choice(["boolean", "byte", "double"]))
    elif kind == "predicate":
        lines[i] = lines[i].replace("ontology#", "ontology#x" if rng.random() < 0.5 else "ontology#", 1)
    else:
        return _mutate_text(text, rng, yaml=False)
    return "".join(lines).encode(), kind


def mutated_cases(count: int, seed: int = SEED) -> list[Case]:
    """`count` mutations of the shipped examples, spread over YAML, JSON, JSON-LD and Turtle."""
    rng = random.Random(seed)
    yaml = YAML(typ="safe", pure=True)
    sources = [(p.parent.name, p.read_text(), yaml.load(p.read_text())) for p in EXAMPLES]
    turtles = {name: None for name, _, _ in sources}
    cases = []
    for index in range(count):
        name, text, tree = sources[index % len(sources)]
        form = rng.choice(["yaml-tree", "yaml-tree", "yaml-text", "json-tree", "jsonld-tree", "turtle"])
        if form == "turtle":
            if turtles[name] is None:
                turtles[name] = _turtle(next(p for p in EXAMPLES if p.parent.name == name))
            data, kind = _mutate_turtle(turtles[name], rng)
            suffix = ".ttl"
        elif form == "yaml-text":
            data, kind = _mutate_text(text, rng, yaml=True)
            suffix = ".yaml"
        else:
            mutated = copy.deepcopy(tree)
            kinds = [_mutate_tree(mutated, rng) for _ in range(rng.choice([1, 1, 2, 4]))]
            kind = "+".join(kinds)
            if form == "json-tree":
                data, suffix = json.dumps(mutated, default=str).encode(), ".json"
            elif form == "jsonld-tree":
                data, suffix = _jsonld(mutated if isinstance(mutated, dict) else {}).encode(), ".jsonld"
            else:
                data, suffix = _dump_yaml(mutated), ".yaml"
        cases.append(Case(f"{index:04d}-{name}-{form}-{kind}{suffix}", data))
    return cases


def _dump_yaml(tree) -> bytes:
    import io

    out = io.StringIO()
    try:
        YAML(typ="safe", pure=True).dump(tree, out)
    except RecursionError:  # ruamel.yaml's writer recurses; JSON is YAML too
        return json.dumps(tree, default=str).encode("utf-8", "surrogatepass")
    return out.getvalue().encode("utf-8", "surrogatepass")
