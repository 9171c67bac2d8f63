"""The `sortai` command line.

Exit codes:
  0  success (valid description; diagnoses printed; query answered)
  1  `diagnose --fail-on LEVEL` found a diagnosis at or above LEVEL
  2  the description is invalid: the validation report says what to fix
  3  the input could not be read (missing file, syntax error, unknown format) or the query was refused
  4  usage error (unknown command or option, bad option value, unknown diagnosis id)
  5  a limit stopped the command (--timeout, --max-memory)
 70  internal error (a bug)
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import sys
from contextlib import contextmanager
from enum import Enum
from pathlib import Path

import pyoxigraph as ox
import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from .description import Description, load_file
from .limits import LimitExceeded, default_memory, parse_size, run_limited, show_size
from .problems import InputError, Problem

EXIT_OK, EXIT_FINDINGS, EXIT_INVALID, EXIT_INPUT, EXIT_USAGE, EXIT_LIMIT, EXIT_INTERNAL = 0, 1, 2, 3, 4, 5, 70
PROGRESS_THRESHOLD = 50_000  # triples; below this reasoning is too quick to need a progress display
DEFAULT_TIMEOUT = 600.0  # seconds; the 1M-triple benchmark fleet diagnoses in about a minute
UsageError = typer.BadParameter.__base__  # click's, as typer ships it


class _Group(TyperGroup):
    """Usage errors exit 4 (EXIT_USAGE): click's own code for them, 2, means "invalid description" here."""

    def parse_args(self, ctx, args):
        with _usage_errors():
            return super().parse_args(ctx, args)

    def invoke(self, ctx):
        with _usage_errors():
            return super().invoke(ctx)


@contextmanager
def _usage_errors():
    try:
        yield
    except UsageError as exc:
        exc.exit_code = EXIT_USAGE
        raise


app = typer.Typer(
    cls=_Group,
    name="sortai",
    help="Diagnose structural instability in heterogeneous AI inference infrastructure (SORT-AI).",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish, PowerShell
    pretty_exceptions_enable=False,
)
out = Console(highlight=False, emoji=False, soft_wrap=True,
              width=None if sys.stdout.isatty() or "COLUMNS" in os.environ else 160)  # rich reads COLUMNS itself
err = Console(stderr=True, highlight=False, emoji=False, soft_wrap=True)

FILE_ARG = typer.Argument(..., help="Description file (.yaml, .yml, .json, .jsonld, .ttl, .nt).")
INPUT_FORMAT = typer.Option(None, "--input-format", help="Override the format told by the file suffix.")
MOST_SEVERE = typer.Option(20, "--most", min=0, help="Verify the remedies of this many diagnoses that have remedies, "
                           "the most severe (as `diagnose` ranks them) first; 0 for all. Each remedy costs a "
                           "re-diagnosis; the rest are named.")
TIMEOUT = typer.Option(DEFAULT_TIMEOUT, "--timeout", min=0, max=1e6, metavar="SECONDS",
                       help="Stop after this many seconds (0: no limit).")
MAX_MEMORY = typer.Option(None, "--max-memory", metavar="SIZE", show_default="half the machine's memory",
                          help="Stop when the command's address space passes this size, e.g. 8G or 512M (0: no limit).")
OUTPUT = typer.Option(None, "--output", "-o", metavar="FILE", help="Write the output to FILE instead of stdout.",
                      dir_okay=False)


from sortai.importers.cli import app as _import_app  # noqa: E402

app.add_typer(_import_app, name="import")


def _print_version(value: bool) -> None:
    if value:
        from .html_report import sortai_version

        out.print(f"sortai {sortai_version()}", markup=False)
        raise typer.Exit(EXIT_OK)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """Diagnose structural instability in heterogeneous AI inference infrastructure (SORT-AI)."""


class ReportFormat(str, Enum):
    text = "text"
    json = "json"
    ttl = "ttl"


class Substrate(str, Enum):
    auto = "auto"
    columnar = "columnar"
    oxigraph = "oxigraph"


class DiagnoseFormat(str, Enum):
    text = "text"
    json = "json"
    ttl = "ttl"
    md = "md"
    sarif = "sarif"  # SARIF 2.1.0, for code-scanning views
    junit = "junit"  # JUnit XML, for CI test reports


class ExplainFormat(str, Enum):
    text = "text"
    json = "json"
    ttl = "ttl"
    dot = "dot"


class QueryFormat(str, Enum):
    table = "table"
    json = "json"
    xml = "xml"
    csv = "csv"
    tsv = "tsv"
    ttl = "ttl"
    nt = "nt"


class RecommendFormat(str, Enum):  # also diff's
    text = "text"
    json = "json"
    md = "md"


class Level(str, Enum):
    low = "low"
    moderate = "moderate"
    high = "high"
    critical = "critical"


def limited(command):
    """Give a command `--timeout` and `--max-memory`, and run it in a child process under those limits."""
    signature = inspect.signature(command)
    extra = [inspect.Parameter("timeout", inspect.Parameter.KEYWORD_ONLY, annotation="float", default=TIMEOUT),
             inspect.Parameter("max_memory", inspect.Parameter.KEYWORD_ONLY, annotation="str", default=MAX_MEMORY),
             inspect.Parameter("output", inspect.Parameter.KEYWORD_ONLY, annotation="Path", default=OUTPUT)]

    @functools.wraps(command)
    def run(*args, timeout: float, max_memory: str | None, output: Path | None = None, **kwargs):
        try:
            memory = default_memory() if max_memory is None else parse_size(max_memory)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--max-memory") from None
        try:
            with _output_to(output):
                code = run_limited(functools.partial(_exit_code, command, *args, **kwargs), timeout, memory)
        except LimitExceeded as exc:
            limit = f"{exc.limit:g} s (--timeout)" if exc.kind == "time" else f"{show_size(exc.limit)} (--max-memory)"
            err.print(f"stopped: the command reached its {exc.kind} limit of {limit}. Raise the limit, or narrow "
                      "the query (LIMIT, fewer variables) or the description.", markup=False)
            code = EXIT_LIMIT
        raise typer.Exit(code)

    run.__signature__ = signature.replace(parameters=[*signature.parameters.values(), *extra])
    run.__annotations__ = {**command.__annotations__, "timeout": "float", "max_memory": "str", "output": "Path"}
    return run


@contextmanager
def _output_to(path: Path | None):
    """`-o FILE`: what the command prints goes to FILE (messages still go to stderr)."""
    if path is None:
        yield
        return
    try:
        handle = open(path, "w", encoding="utf-8")
    except OSError as exc:
        raise typer.BadParameter(f"cannot write {path}: {exc.strerror}", param_hint="--output") from None
    saved = sys.stdout
    sys.stdout = handle
    try:
        yield
    finally:
        sys.stdout = saved
        handle.close()


def _exit_code(command, *args, **kwargs) -> int:
    """Run a command's body and say how it ended, as an exit code (in the child process of `limited`)."""
    try:
        command(*args, **kwargs)
    except typer.Exit as exc:
        return exc.exit_code
    except MemoryError:
        raise  # `run_limited` reports it as the memory limit
    except BrokenPipeError:  # the reader went away (`sortai diagnose … | head`): nothing more to say
        sys.stdout = open(os.devnull, "w")
        return EXIT_OK
    except Exception as exc:  # noqa: BLE001 — worded by `_failure`, never a traceback
        return _failure(exc)
    return EXIT_OK


def _failure(exc: Exception) -> int:
    """Say in one line why a command failed and return its exit code."""
    if isinstance(exc, InputError):  # e.g. an edited rule file that no longer parses
        _print_problems(exc.problems)
        return EXIT_INPUT
    err.print(f"internal error ({type(exc).__name__}): {exc}. Please report it with the input that caused it.",
              markup=False)
    return EXIT_INTERNAL


def _print_problems(problems: list[Problem], console: Console = err) -> None:
    for problem in problems:
        console.print(problem.render(), markup=False)


def _load(file: Path, input_format: str | None) -> Description:
    try:
        return load_file(file, input_format)
    except InputError as exc:
        _print_problems(exc.problems)
        raise typer.Exit(EXIT_INPUT) from None


def _load_valid(file: Path, input_format: str | None, overlays: list[Path] | None = None,
                warnings: list[Problem] | None = None) -> Description:
    """Load and validate; an invalid description stops here with the validator's report. Its warnings are
    appended to `warnings` when given."""
    from .validation import validate as run_validation

    description = _load(file, input_format) if not (overlays or file.is_dir()) else _import(file, overlays or [])
    report = run_validation(description)
    if warnings is not None:
        warnings.extend(p for p in report.problems if p.severity != "violation")
    if not report.conforms:
        _print_problems(report.problems)
        err.print(f"{file}: invalid — {sum(p.severity == 'violation' for p in report.problems)} violation(s); "
                  "nothing was reasoned over.", markup=False)
        raise typer.Exit(EXIT_INVALID)
    return description


def _import(file: Path, overlays: list[Path]) -> Description:
    """Artefacts (manifests, nvidia-smi, metrics) plus hand-written overlays, imported in memory."""
    from sortai.importers.cli import description_from

    try:
        return description_from([file], overlays)
    except InputError as exc:
        _print_problems(exc.problems)
        raise typer.Exit(EXIT_INPUT) from None


def _reason(description: Description):
    from .engine import infer

    if len(description.triples) < PROGRESS_THRESHOLD:
        return infer(description)
    with err.status("reasoning…") as status:
        return infer(description, progress=lambda rules: status.update(f"reasoning: rules {rules}"))


@app.command()
@limited
def validate(
    file: Path = FILE_ARG,
    format: ReportFormat = typer.Option(ReportFormat.text, "--format", "-f", help="Report format."),
    input_format: str = INPUT_FORMAT,
) -> None:
    """Validate a description against the SORT-AI shapes; exit 2 on violations."""
    from .validation import validate as run_validation

    try:
        description = load_file(file, input_format)
    except InputError as exc:
        if format is ReportFormat.json:
            out.print(json.dumps({"description": str(file), "conforms": False,
                                  "problems": [p.to_json() for p in exc.problems]}, indent=2), markup=False)
        else:
            _print_problems(exc.problems)
        raise typer.Exit(EXIT_INPUT) from None
    report = run_validation(description)
    if report.conforms:  # what only the serving model can tell: measurements that cannot be right
        from .data_warnings import data_warnings

        report.problems.extend(data_warnings(_reason(description)))
    if format is ReportFormat.json:
        out.print(json.dumps(report.to_json(), indent=2), markup=False)
    elif format is ReportFormat.ttl:
        out.print(report.report_graph.serialize(format="turtle"), markup=False)
    else:
        _print_problems(report.problems, out)
        violations = sum(p.severity == "violation" for p in report.problems)
        if report.conforms:
            out.print(f"{file}: valid ({len(description.triples)} triples)", markup=False)
        else:
            out.print(f"{file}: {violations} violation(s)", markup=False)
    raise typer.Exit(EXIT_OK if report.conforms else EXIT_INVALID)


@app.command()
@limited
def diagnose(
    file: Path = FILE_ARG,
    format: DiagnoseFormat = typer.Option(DiagnoseFormat.text, "--format", "-f", help="Output format."),
    fail_on: Level = typer.Option(None, "--fail-on", help="Exit 1 if a diagnosis is at or above this level."),
    input_format: str = INPUT_FORMAT,
    overlay: list[Path] = typer.Option(None, "--overlay", help="With artefacts (a directory of manifests, nvidia-smi, "
                                       "metrics): hand-written YAML merged on top (SLOs, workloads); repeatable."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Text: each diagnosis's proof tree after the table."),
) -> None:
    """Validate, reason to a fixpoint, and list the instability diagnoses ranked by severity, each with its headline."""
    from . import report
    from .diagnoses import diagnoses as read_diagnoses
    from .diagnoses import severity_rank

    from .data_warnings import data_warnings

    warnings: list[Problem] = []
    description = _load_valid(file, input_format, overlay, warnings)
    reasoning = _reason(description)
    found = read_diagnoses(reasoning)
    warnings += data_warnings(reasoning)
    if format is DiagnoseFormat.json:
        out.print(json.dumps(report.diagnoses_json(reasoning, found, warnings), indent=2), markup=False)
    elif format is DiagnoseFormat.ttl:
        _print_problems(warnings)
        out.print(report.diagnoses_turtle(reasoning, found), markup=False, end="")
    elif format is DiagnoseFormat.md:
        out.print(report.diagnoses_markdown(reasoning, found, warnings), markup=False)
    elif format is DiagnoseFormat.sarif:
        from .html_report import sortai_version
        from .sarif import sarif_log

        out.print(json.dumps(sarif_log(reasoning, found, warnings, sortai_version()), indent=2), markup=False)
    elif format is DiagnoseFormat.junit:
        from .junit import junit_xml

        threshold = 1 if fail_on is None else ["low", "moderate", "high", "critical"].index(fail_on.value) + 1
        sys.stdout.write(junit_xml(reasoning, found, warnings, threshold))
    else:
        _print_problems(warnings)
        _diagnosis_table(description, found)
        if verbose:
            from .explain import Explainer, render_text

            explainer = Explainer(reasoning)
            for d in found:
                out.print(f"\n--- {d.id}\n" + render_text(explainer.explain_diagnosis(d.iri), verbose=False,
                                                          source=description.source), markup=False)
    if fail_on is not None:
        threshold = ["low", "moderate", "high", "critical"].index(fail_on.value) + 1
        if any(severity_rank(d) >= threshold for d in found):
            raise typer.Exit(EXIT_FINDINGS)
    raise typer.Exit(EXIT_OK)


def _diagnosis_table(description: Description, found) -> None:
    from .report import diagnoses_text

    for part in diagnoses_text(description.source, found):
        with out.capture() as captured:  # rich pads table cells to the table's width: drop the trailing blanks
            out.print(part, soft_wrap=False)
        sys.stdout.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))


@app.command(name="diff")
@limited
def diff_command(
    before: Path = typer.Argument(..., help="The description as it is (or the migration's source)."),
    after: Path = typer.Argument(..., help="The description as planned (or the migration's target)."),
    format: RecommendFormat = typer.Option(RecommendFormat.text, "--format", "-f", help="Output format."),
    fail_on: Level = typer.Option(None, "--fail-on", help="Exit 1 if AFTER gains a diagnosis at or above this level, "
                                  "or one gets that severe."),
    input_format: str = INPUT_FORMAT,
) -> None:
    """Compare two descriptions: diagnoses gained, lost and changed in severity, key numbers, description facts."""
    from . import diff as diffs
    from .diagnoses import diagnoses as read_diagnoses
    from .diagnoses import severity_rank

    first, second = _load_valid(before, input_format), _load_valid(after, input_format)
    reasoned = [_reason(first), _reason(second)]
    result = diffs.diff(*reasoned, read_diagnoses(reasoned[0]), read_diagnoses(reasoned[1]))
    if format is RecommendFormat.json:
        out.print(diffs.diff_json(result), markup=False)
    elif format is RecommendFormat.md:
        out.print(diffs.diff_markdown(result), markup=False)
    else:
        sys.stdout.write(diffs.diff_text(result))
    if fail_on is not None:
        threshold = ["low", "moderate", "high", "critical"].index(fail_on.value) + 1
        worse = [d for d in result.gained] + [y for x, y in result.changed if y.severity_score > x.severity_score]
        if any(severity_rank(d) >= threshold for d in worse):
            raise typer.Exit(EXIT_FINDINGS)


@app.command()
@limited
def report(
    file: Path = FILE_ARG,
    input_format: str = INPUT_FORMAT,
    overlay: list[Path] = typer.Option(None, "--overlay", help="With artefacts: hand-written YAML merged on top."),
    no_remedies: bool = typer.Option(False, "--no-remedies", help="Leave out the verified remedies (each costs a "
                                     "re-diagnosis)."),
    most: int = MOST_SEVERE,
) -> None:
    """A self-contained HTML page (no CDN): the fleet's topology, the diagnoses ranked with their headlines, numbers,
    explanation graphs and verified remedies. Write it with -o report.html."""
    from .data_warnings import data_warnings
    from .diagnoses import diagnoses as read_diagnoses
    from .html_report import render
    from .pictures import GraphvizMissing

    warnings: list[Problem] = []
    description = _load_valid(file, input_format, overlay, warnings)
    reasoning = _reason(description)
    found = read_diagnoses(reasoning)
    warnings += data_warnings(reasoning)
    recommendations = None
    if not no_remedies:
        from .remedies import recommend as verified_remedies

        recommendations = verified_remedies(description, most=most)
    try:
        page = render(reasoning, found, recommendations, warnings)
    except GraphvizMissing as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(EXIT_INPUT) from None
    sys.stdout.write(page)


@app.command()
@limited
def recommend(
    file: Path = FILE_ARG,
    format: RecommendFormat = typer.Option(RecommendFormat.text, "--format", "-f", help="Output format."),
    diagnosis: str = typer.Option(None, "--diagnosis", "-d", help="Only the remedies of this diagnosis id."),
    most: int = MOST_SEVERE,
    write: Path = typer.Option(None, "--write", metavar="DIR", help="Write each changed description (Turtle) under "
                               "DIR/<n>-<remedy>/, to diagnose or diff it yourself."),
    input_format: str = INPUT_FORMAT,
) -> None:
    """Remedies as concrete edits of the description, each applied to a copy and re-diagnosed: what it removes,
    leaves and introduces, how the key numbers move, what it costs."""
    from . import remedies

    description = _load_valid(file, input_format)
    recs = remedies.recommend(description, only=diagnosis, most=most)
    if diagnosis and not recs.results:
        err.print(f"no structural diagnosis '{diagnosis}' in {file}. Diagnoses: "
                  + ", ".join(d.id for d in recs.baseline), markup=False)
        raise typer.Exit(EXIT_USAGE)
    if write is not None:
        written = {}
        for verified in (v for vs in recs.results.values() for v in vs):
            if id(verified) not in written:
                folder = write / f"{len(written) + 1}-{verified.remedy.kind}"
                folder.mkdir(parents=True, exist_ok=True)
                (folder / f"{description.name}.ttl").write_bytes(verified.turtle)
                written[id(verified)] = folder
        err.print(f"wrote {len(written)} changed description(s) under {write}", markup=False)
    if format is RecommendFormat.json:
        out.print(json.dumps(remedies.recommendations_json(description.source, recs), indent=2), markup=False)
    elif format is RecommendFormat.md:
        out.print(remedies.recommendations_markdown(description.source, recs), markup=False)
    else:
        sys.stdout.write(remedies.recommendations_text(description.source, recs))


@app.command()
@limited
def explain(
    file: Path = FILE_ARG,
    diagnosis: str = typer.Argument(..., help="Diagnosis id as `diagnose` prints it (or a unique part of it)."),
    format: ExplainFormat = typer.Option(ExplainFormat.text, "--format", "-f", help="Output format."),
    input_format: str = INPUT_FORMAT,
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Text: every source of every fact (file, element, "
                                 "datasheet URL, paper sections), and repeated rule applications."),
) -> None:
    """Show why a diagnosis holds: the headline, then the rules and numbers down to the asserted facts."""
    from . import report
    from .diagnoses import diagnoses as read_diagnoses
    from .explain import Explainer, render_text

    description = _load_valid(file, input_format)
    reasoning = _reason(description)
    found = read_diagnoses(reasoning)
    matches = [d for d in found if d.id == diagnosis] or [d for d in found if diagnosis in d.id]
    if len(matches) != 1:
        what = "no diagnosis matches" if not matches else "several diagnoses match"
        err.print(f"{what} '{diagnosis}'. Diagnoses of {file}:", markup=False)
        for d in found:
            err.print(f"  {d.id}", markup=False)
        raise typer.Exit(EXIT_USAGE)
    tree = Explainer(reasoning).explain_diagnosis(matches[0].iri)
    if format is ExplainFormat.json:
        out.print(json.dumps(tree.to_json(), indent=2), markup=False)
    elif format is ExplainFormat.ttl:
        out.print(report.explanation_turtle(reasoning, matches[0]), markup=False, end="")
    elif format is ExplainFormat.dot:
        out.print(report.explanation_dot(tree), markup=False)
    else:
        d = matches[0]
        if not verbose:
            out.print("\n".join(x for x in (d.headline, f"Effect: {d.effect}" if d.effect else "",
                                               f"Confirm: {d.confirm}" if d.confirm else "") if x) + "\n",
                      markup=False)
        out.print(render_text(tree, verbose=verbose, source=description.source), markup=False)


@app.command()
@limited
def query(
    file: Path = FILE_ARG,
    sparql: str = typer.Argument(..., help="A SPARQL 1.1 query (SELECT, ASK, CONSTRUCT or DESCRIBE)."),
    format: QueryFormat = typer.Option(QueryFormat.table, "--format", "-f", help="Result format."),
    input_format: str = INPUT_FORMAT,
) -> None:
    """Query asserted + inferred facts, the ontology and the catalog with SPARQL (read-only)."""
    from .sparql import QueryRefused, run

    description = _load_valid(file, input_format)
    reasoning = _reason(description)
    try:
        form, results = run(reasoning.store, sparql)
        answer = _answer(form, results, format, description)
    except QueryRefused as exc:
        _print_problems([exc.problem])
        raise typer.Exit(EXIT_INPUT) from None
    except (SyntaxError, ValueError, OSError, RuntimeError) as exc:  # raised by Oxigraph while evaluating
        err.print(f"query failed: {exc}", markup=False)
        raise typer.Exit(EXIT_INPUT) from None
    if isinstance(answer, str):
        sys.stdout.write(answer)
    else:
        out.print(answer)
        out.print(f"{answer.row_count} row(s)", markup=False)


def _answer(form: str, results, format: QueryFormat, description: Description) -> str | Table:
    """The whole answer, text or a table: Oxigraph evaluates lazily, so its errors surface here, before output."""
    from .sparql import GRAPH_FORMATS, RESULT_FORMATS

    if form in ("CONSTRUCT", "DESCRIBE"):
        chosen = format.value if format.value in GRAPH_FORMATS else "ttl"
        return results.serialize(format=GRAPH_FORMATS[chosen][0]).decode("utf-8")
    if format.value in RESULT_FORMATS:
        return results.serialize(format=RESULT_FORMATS[format.value][0]).decode("utf-8")
    if form == "ASK":
        return "true\n" if bool(results) else "false\n"
    names = [v.value for v in results.variables]
    table = Table(*names)
    for solution in results:
        table.add_row(*[_show(solution[n], description) for n in names])
    return table


def _show(term, description: Description) -> str:
    if term is None:
        return ""
    if hasattr(term, "datatype"):
        return term.value
    return description.element_name(term.value) if term.value.startswith(description.base) else term.value


@app.command(name="infer")
def infer_command(
    data: Path = typer.Argument(..., help="RDF data: Turtle (.ttl), N-Triples (.nt) or RDF/XML (.rdf, .owl)."),
    rules: list[Path] = typer.Option(..., "--rules", "-r", help="A SHACL-AF rule file (sh:SPARQLRule); repeatable."),
    output: Path = typer.Option(None, "--output", "-o", metavar="FILE", dir_okay=False,
                                help="Write the derived triples to FILE (N-Triples, sorted)."),
    with_ontology: bool = typer.Option(False, "--with-ontology",
                                       help="Load the SORT-AI ontology and catalog beside the data."),
    substrate: Substrate = typer.Option(
        Substrate.auto, "--substrate",
        help="columnar: Polars joins, for rule bodies that are basic graph patterns with comparison filters; "
             "oxigraph: the SPARQL engine, for any rule; auto: columnar where it covers the rules and the data."),
) -> None:
    """Run any SHACL-AF rule file over any RDF data to the fixpoint, as pySHACL does; the last line says `derived N`."""
    from .columnar import NotCovered, infer_rule_files
    from .description import load_graph
    from .rules import load_rule_files

    try:
        rule_base = load_rule_files(rules)
        reasoning, fallback = infer_rule_files(load_graph(data), rule_base, with_ontology, substrate.value)
    except InputError as exc:
        _print_problems(exc.problems)
        raise typer.Exit(EXIT_INPUT) from None
    except NotCovered as exc:
        err.print(f"--substrate columnar: {exc}; run it with --substrate oxigraph (or auto).", markup=False)
        raise typer.Exit(EXIT_INPUT) from None
    if fallback:
        err.print(f"ran on Oxigraph: {fallback}", markup=False)
    if output is not None:
        try:
            output.write_bytes(ox.serialize(reasoning.inferred_triples(), format=ox.RdfFormat.N_TRIPLES))
        except OSError as exc:
            err.print(f"cannot write {output}: {exc.strerror}", markup=False)
            raise typer.Exit(EXIT_INPUT) from None
    out.print(f"derived {reasoning.derived}", markup=False)


@app.command(name="rules")
def list_rules(
    format: ReportFormat = typer.Option(ReportFormat.text, "--format", "-f",
                                        help="text, json, or ttl (the SHACL-AF rules themselves, as one graph)."),
    output: Path = OUTPUT,
) -> None:
    """List the inference rules with the paper sections they encode, in evaluation order."""
    with _output_to(output):
        _list_rules(format)


def _list_rules(format: ReportFormat) -> None:
    from .rules import load_rule_base

    if format is ReportFormat.ttl:
        from . import resources
        from .report import PREFIXES

        triples = []
        for path in sorted((resources.rules_dir() / "inference").glob("*.ttl")):
            with path.open("rb") as handle:
                triples += [q.triple for q in ox.parse(handle, format=ox.RdfFormat.TURTLE)]
        prefixes = {**PREFIXES, "sh": "http://www.w3.org/ns/shacl#", "rdfs": "http://www.w3.org/2000/01/rdf-schema#"}
        sys.stdout.write(ox.serialize(sorted(set(triples), key=str), format=ox.RdfFormat.TURTLE,
                                      prefixes=prefixes).decode("utf-8"))
        return
    base = load_rule_base()
    if format is ReportFormat.json:
        out.print(json.dumps([{"id": r.rule_id, "label": r.label, "sections": list(r.sections),
                               "layer": r.layer, "sourceDomain": r.source_domain, "formula": r.formula,
                               "file": r.file, "stratum": i}
                              for i, stratum in enumerate(base.strata) for r in stratum], indent=2), markup=False)
        return
    table = Table("stratum", "id", "rule", "sections", "file")
    for i, stratum in enumerate(base.strata):
        for r in stratum:
            table.add_row(str(i), r.rule_id, r.label, ", ".join(r.sections), r.file)
    out.print(table)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    data_dir: Path = typer.Option(Path("./sortai-data"), "--data-dir", help="Where the embedded store lives."),
    allow_open_writes: bool = typer.Option(False, "--allow-open-writes",
                                           help="Accept writes without a token (local use only)."),
    token_file: Path = typer.Option(None, "--token-file",
                                    help="File holding the bearer token for writes (else SORTAI_TOKEN)."),
) -> None:
    """Run the HTTP API (REST + SPARQL 1.1 Protocol) over an embedded on-disk store."""
    from sortai.api.server import run_server

    run_server(host=host, port=port, data_dir=data_dir, allow_open_writes=allow_open_writes, token_file=token_file)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 — a bug: say so in one line, never a traceback
        sys.exit(_failure(exc))


if __name__ == "__main__":
    main()
