"""Data the serving model shows cannot be right, as warnings a user can act on.

Rules W01 (a measurement below its physical floor) and W02 (telemetry showing a pool saturated under a stated load
that leaves it ample headroom) derive `sai:DataWarning` facts; this module turns them into `Problem`s that name the
element, its line, the figures compared, and what to check. `validate` and `diagnose` print them.
"""

from __future__ import annotations

from .engine import Reasoning
from .problems import Location, Problem
from .resources import SAI

_QUERY = """
PREFIX sai: <https://w3id.org/sortai/ontology#>
PREFIX sosa: <http://www.w3.org/ns/sosa/>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?warning ?kind ?subject ?value ?floor ?floorLabel ?metricLabel ?percentile ?headroom ?kvUsage ?waiting WHERE {
    ?warning a sai:DataWarning ; sai:warningKind ?kind ; sai:concerns ?subject .
    OPTIONAL { ?warning sai:valueMs ?value }
    OPTIONAL { ?warning sai:floorMs ?floor }
    OPTIONAL { ?warning sai:floorKind ?floorKind . ?floorKind rdfs:label ?floorLabel }
    OPTIONAL { ?subject sosa:observedProperty ?metric . ?metric rdfs:label ?metricLabel }
    OPTIONAL { ?subject sai:percentile ?percentile }
    OPTIONAL { ?warning sai:observedRatio ?headroom }
    OPTIONAL { ?usage sosa:hasFeatureOfInterest ?subject ; sosa:observedProperty sai:KVCacheUsage ;
                      sosa:hasSimpleResult ?kvUsage }
    OPTIONAL { ?queue sosa:hasFeatureOfInterest ?subject ; sosa:observedProperty sai:RequestsWaiting ;
                      sosa:hasSimpleResult ?waiting }
}
ORDER BY ?warning
"""


def _number(term) -> str:
    return f"{float(term.value):g}"


def data_warnings(reasoning: Reasoning) -> list[Problem]:
    description = reasoning.description
    problems: dict[str, Problem] = {}
    for row in reasoning.query(_QUERY):
        warning = row["warning"].value
        if warning in problems:
            continue
        subject = row["subject"].value
        element = description.element_name(subject)
        where = description.location_of(subject) or Location(description.source)
        if row["kind"].value == SAI + "BelowPhysicalFloor":
            what = row["metricLabel"].value if row["metricLabel"] else "value"
            if row["percentile"]:
                what = f"p{_number(row['percentile'])} {what}"
            floor = row["floorLabel"].value if row["floorLabel"] else "physical floor"
            problems[warning] = Problem(
                f"the measured {what} of {_number(row['value'])} ms is below its {floor} of "
                f"{_number(row['floor'])} ms, which no serving engine can beat; it is not used as evidence",
                where, element=element, severity="warning", code="below-physical-floor",
                fix="check the measurement's unit (ms, s, us), its component, its percentile, or whether a counter "
                    "was read as a latency")
        else:
            shown = []
            if row["kvUsage"]:
                shown.append(f"KV-cache usage {_number(row['kvUsage'])} %")
            if row["waiting"]:
                shown.append(f"{_number(row['waiting'])} requests waiting")
            telemetry = f" ({', '.join(shown)})" if shown else ""
            headroom = float(row["headroom"].value)
            withheld = "; the over-provisioning finding is withheld" if headroom >= 3 else ""
            problems[warning] = Problem(
                f"telemetry shows the pool saturated{telemetry}, but at the stated load it has "
                f"{headroom:g} × the capacity it needs{withheld}",
                where, element=element, severity="warning", code="unexplained-saturation",
                fix="check the arrivalRateRps and output lengths of the workloads it serves (the stated demand is "
                    "probably too low) and how many replicas actually serve")
    return list(problems.values())
