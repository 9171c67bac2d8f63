"""Two descriptions' diagnoses side by side: which were gained, lost, or changed between them.

A diagnosis is the same one in both when its id is (mode and component, relative to each description's
base IRI: ``l4-decode/diagnosis/MemoryPathIncoherence``), so a fleet and its revised version compare by
component. "Changed" lists the fields that differ, each as (before, after).
"""

from __future__ import annotations

COMPARED = ("severity", "severity_score", "confidence", "primary_domains", "supporting_domains", "consequences",
            "involves", "compounds_with", "routes", "headline")


def compare(before: list[dict], after: list[dict]) -> dict:
    """``{"gained": [...], "lost": [...], "changed": [{"before", "after", "fields": {name: (old, new)}}],
    "unchanged": [...]}``, each list in the order of the side it comes from (most severe first)."""
    old = {d["id"]: d for d in before}
    new = {d["id"]: d for d in after}
    changed, unchanged = [], []
    for d in after:
        if d["id"] not in old:
            continue
        was = old[d["id"]]
        fields = {name: (was.get(name), d.get(name)) for name in COMPARED if was.get(name) != d.get(name)}
        if fields:
            changed.append({"before": was, "after": d, "fields": fields})
        else:
            unchanged.append(d)
    return {"gained": [d for d in after if d["id"] not in old], "lost": [d for d in before if d["id"] not in new],
            "changed": changed, "unchanged": unchanged}
