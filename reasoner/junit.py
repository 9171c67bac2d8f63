"""Diagnoses as JUnit XML (the format CI systems show as a test report): one test case per diagnosis, failing
when its severity is at or above the threshold (every diagnosis without one), data warnings as system-out."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from .diagnoses import Diagnosis, severity_rank
from .engine import Reasoning
from .problems import Problem


def junit_xml(reasoning: Reasoning, found: list[Diagnosis], warnings: list[Problem] = (),
              threshold: int = 1, seconds: float = 0.0) -> str:
    source = reasoning.description.source
    failing = [d for d in found if severity_rank(d) >= threshold]
    suites = ET.Element("testsuites", name="sortai", tests=str(len(found)), failures=str(len(failing)),
                        errors="0", time=f"{seconds:.3f}")
    suite = ET.SubElement(suites, "testsuite", name=f"sortai diagnose {source}", tests=str(len(found)),
                          failures=str(len(failing)), errors="0", skipped="0", time=f"{seconds:.3f}")
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", name="description", value=source)
    ET.SubElement(properties, "property", name="deployment", value=reasoning.description.deployment)
    for d in found:
        case = ET.SubElement(suite, "testcase", classname=f"sortai.{d.kind}.{d.mode}", name=d.id, file=source,
                             time="0")
        where = reasoning.description.location_of(d.component_iri)
        if where and where.line:
            case.set("line", str(where.line))
        text = f"{d.headline}\nEffect: {d.effect}\nConfirm: {d.confirm}\nExplain: sortai explain {source} {d.id}"
        if d in failing:
            failure = ET.SubElement(case, "failure", message=d.headline, type=d.severity)
            failure.text = text
        else:
            ET.SubElement(case, "system-out").text = f"below the failure threshold ({d.severity})\n{text}"
    if warnings:
        ET.SubElement(suite, "system-out").text = "\n".join(w.render() for w in warnings)
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
