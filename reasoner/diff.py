"""What changes between two descriptions of a fleet: diagnoses gained, lost and changed in severity, the key
numbers that moved, and the description facts that differ.

This is the migration-planning view of AI.20 (compare the source and target coupling before moving) and the
review view of any design change. Elements are matched by their id, so the two descriptions should name what
they share alike (a pool that moves keeps its id; the nodes it moves to may be new).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pyoxigraph as ox

from . import resources
from .diagnoses import Diagnosis
from .engine import Reasoning
from .headlines import show_number
from .vocabulary import RDF_TYPE, vocabulary

SAI = resources.SAI
# The serving model's quantities an SRE compares first (they carry the headlines).
KEY_QUANTITIES = (
    "prefillTimeP50Ms", "prefillTimeP99Ms", "decodeStepFloorMs", "decodeStepBatch1Ms", "predictedTPOTMs",
    "predictedTTFTP50Ms", "predictedTTFTP99Ms", "predictedE2EP99Ms", "kvTransferTimeP99Ms", "kvTransferTimeP99UsedMs",
    "kvTransferShareOfTTFT", "bottleneckBandwidthGBps", "kvCapacityTokens", "kvCapacitySequencesP99",
    "replicaCapacityRps", "replicasNeeded", "modelReplicasPresent", "capacityHeadroom", "memoryBandwidthSpread",
    "computeSpread", "tensorCrossingExtraMs", "collectiveStepMs", "tensorCollectiveMs",
    "scaleOutBandwidthPerAcceleratorGBps", "peerBandwidthGBps", "acceleratorTotal", "minMemoryBandwidthGBps",
    "weightBytesPerDeviceGB",
)
TOLERANCE = 0.005  # relative change below which a number has not moved (rounding of the rules' own arithmetic)


@dataclass
class Diff:
    before: str
    after: str
    gained: list[Diagnosis] = field(default_factory=list)
    lost: list[Diagnosis] = field(default_factory=list)
    changed: list[tuple[Diagnosis, Diagnosis]] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    numbers: list[dict] = field(default_factory=list)  # {element, quantity, before, after}
    facts: list[dict] = field(default_factory=list)  # {element, key, before, after}

    @property
    def empty(self) -> bool:
        return not (self.gained or self.lost or self.changed or self.numbers or self.facts)

    def to_json(self) -> dict:
        brief = lambda d: {"id": d.id, "severity": d.severity, "severity_score": d.severity_score,
                           "confidence": d.confidence, "headline": d.headline}
        return {
            "before": self.before, "after": self.after, "identical": self.empty,
            "gained": [brief(d) for d in self.gained], "lost": [brief(d) for d in self.lost],
            "changed": [{"id": a.id, "before": brief(a), "after": brief(b)} for a, b in self.changed],
            "unchanged": self.unchanged, "numbers": self.numbers, "facts": self.facts,
        }


def _numbers(reasoning: Reasoning) -> dict[tuple[str, str], float]:
    wanted = {SAI + q: q for q in KEY_QUANTITIES}
    found: dict[tuple[str, str], float] = {}
    description = reasoning.description
    for graph in (reasoning.inferred_graph, reasoning.asserted_graph):
        for q in reasoning.store.quads_for_pattern(None, None, None, graph):
            name = wanted.get(q.predicate.value)
            if name and isinstance(q.object, ox.Literal) and q.subject.value.startswith(description.base):
                try:
                    found[(description.element_name(q.subject.value), name)] = float(q.object.value)
                except ValueError:
                    pass
    return found


def _facts(reasoning: Reasoning) -> dict[tuple[str, str], list[str]]:
    """The asserted facts as the description writes them: (element, key) → values."""
    vocab = vocabulary()
    description = reasoning.description
    facts: dict[tuple[str, str], list[str]] = {}
    for t in description.triples:
        if t.predicate.value == RDF_TYPE or not t.subject.value.startswith(description.base):
            continue
        key = vocab.key_for(t.predicate.value)
        value = t.object.value
        if isinstance(t.object, ox.NamedNode):
            value = description.element_name(value) if value.startswith(description.base) else vocab.value_name(value)
        facts.setdefault((description.element_name(t.subject.value), key), []).append(value)
    return {k: sorted(v) for k, v in facts.items()}


def diff(before: Reasoning, after: Reasoning, found_before: list[Diagnosis], found_after: list[Diagnosis]) -> Diff:
    result = Diff(before.description.source, after.description.source)
    a, b = {d.id: d for d in found_before}, {d.id: d for d in found_after}
    result.lost = [d for i, d in a.items() if i not in b]
    result.gained = [d for i, d in b.items() if i not in a]
    for i in a:
        if i in b:
            if a[i].severity_score != b[i].severity_score or a[i].confidence != b[i].confidence:
                result.changed.append((a[i], b[i]))
            else:
                result.unchanged.append(i)
    numbers_a, numbers_b = _numbers(before), _numbers(after)
    for key in sorted(set(numbers_a) | set(numbers_b)):
        x, y = numbers_a.get(key), numbers_b.get(key)
        if x is None or y is None or abs(x - y) > TOLERANCE * max(abs(x), abs(y)):
            result.numbers.append({"element": key[0], "quantity": key[1], "before": x, "after": y})
    facts_a, facts_b = _facts(before), _facts(after)
    elements_a, elements_b = {e for e, _ in facts_a}, {e for e, _ in facts_b}
    for element in sorted(elements_a ^ elements_b):  # an element only one side has: one line, not one per key
        result.facts.append({"element": element, "key": "(element)", "before": ["present"] if element in elements_a
                             else [], "after": ["present"] if element in elements_b else []})
    for key in sorted(set(facts_a) | set(facts_b)):
        if key[0] in elements_a and key[0] in elements_b and facts_a.get(key) != facts_b.get(key):
            result.facts.append({"element": key[0], "key": key[1], "before": facts_a.get(key, []),
                                 "after": facts_b.get(key, [])})
    result.gained.sort(key=lambda d: (-d.severity_score, d.id))
    result.lost.sort(key=lambda d: (-d.severity_score, d.id))
    return result


def _num(value: float | None) -> str:
    return "—" if value is None else show_number(value)


def _values(values: list) -> str:
    return "(none)" if not values else values[0] if len(values) == 1 else "[" + ", ".join(values) + "]"


def _severity(d: Diagnosis) -> str:
    return f"{d.severity.split(' ', 1)[0].lower()} {d.severity_score:.2f}"


def diff_text(result: Diff, max_numbers: int = 40, max_facts: int = 40) -> str:
    lines = [f"{result.before} → {result.after}"]
    if result.empty:
        return "\n".join(lines + ["identical: no diagnosis, key number or description fact differs"]) + "\n"
    lines.append(f"diagnoses: {len(result.gained)} gained, {len(result.lost)} lost, {len(result.changed)} changed in "
                 f"severity or confidence, {len(result.unchanged)} unchanged")
    for title, group in (("gained", result.gained), ("lost", result.lost)):
        if group:
            lines += ["", f"{title}:"]
            for d in group:
                lines += [f"  + {d.id} ({_severity(d)})" if title == "gained" else f"  - {d.id} ({_severity(d)})",
                          f"    {d.headline}"]
    if result.changed:
        lines += ["", "changed:"]
        for x, y in result.changed:
            lines.append(f"  ~ {x.id}: {_severity(x)} → {_severity(y)}"
                         + (f", {x.confidence.lower()} → {y.confidence.lower()}" if x.confidence != y.confidence else ""))
    if result.numbers:
        lines += ["", "key numbers that moved:"]
        for n in result.numbers[:max_numbers]:
            lines.append(f"  {n['element']} · {n['quantity']}: {_num(n['before'])} → {_num(n['after'])}")
        if len(result.numbers) > max_numbers:
            lines.append(f"  … and {len(result.numbers) - max_numbers} more (-f json lists them all)")
    if result.facts:
        lines += ["", "description facts that differ:"]
        for f in result.facts[:max_facts]:
            if f["key"] == "(element)":
                lines.append(f"  {'+ added' if f['after'] else '- removed'}: {f['element']}")
            else:
                lines.append(f"  {f['element']} › {f['key']}: {_values(f['before'])} → {_values(f['after'])}")
        if len(result.facts) > max_facts:
            lines.append(f"  … and {len(result.facts) - max_facts} more (-f json lists them all)")
    return "\n".join(lines) + "\n"


def diff_markdown(result: Diff) -> str:
    lines = [f"# `{result.before}` → `{result.after}`", ""]
    if result.empty:
        return "\n".join(lines + ["Identical: no diagnosis, key number or description fact differs."])
    lines += ["| change | diagnosis | severity | headline |", "|---|---|---|---|"]
    for d in result.gained:
        lines.append(f"| gained | `{d.id}` | {_severity(d)} | {d.headline} |")
    for d in result.lost:
        lines.append(f"| lost | `{d.id}` | {_severity(d)} | {d.headline} |")
    for x, y in result.changed:
        lines.append(f"| changed | `{x.id}` | {_severity(x)} → {_severity(y)} | {y.headline} |")
    if result.numbers:
        lines += ["", "## Key numbers that moved", "", "| element | quantity | before | after |", "|---|---|---:|---:|"]
        lines += [f"| `{n['element']}` | `{n['quantity']}` | {_num(n['before'])} | {_num(n['after'])} |"
                  for n in result.numbers]
    if result.facts:
        lines += ["", "## Description facts that differ", "", "| element | key | before | after |", "|---|---|---|---|"]
        lines += [f"| `{f['element']}` | `{f['key']}` | {_values(f['before'])} | {_values(f['after'])} |"
                  for f in result.facts]
    return "\n".join(lines)


def diff_json(result: Diff) -> str:
    return json.dumps(result.to_json(), indent=2)
