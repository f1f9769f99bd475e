"""``report.json``: the campaign as data, in the documented schema ``report.schema.json``.

The document (schema version 3) holds, in this order:

``schema_version``
    3. Readers should refuse a version they do not know. (Version 2 had no
    ``not_reached`` outcome; version 1 called ``failing_examples`` ``detected``.)
``tool``
    ``{"name": "gcverify", "version": ...}``.
``seed``
    The examples' seed (null if the example source has none).
``target``
    ``label``, ``path`` (as shown in diffs), ``function`` (the mutated backward pass),
    ``line`` (its first line), ``forward`` (the forward it is checked against) and
    ``examples`` (what the examples are).
``settings``
    ``examples`` (N, per mutant), ``check`` (every option passed to
    ``check_backprop``, defaults included), ``equivalence`` (``rtol``, ``atol``: gradients
    equal the original's when ``|g - g0| <= rtol |g0| + atol max|g0|`` entrywise),
    ``time_limit`` (seconds per mutant as requested; null: automatic) and ``operators``
    (the operator names that were applied).
``baseline``
    The original backward pass on each example: ``verdicts`` and ``differences``.
``interrupted``, ``lost``, ``not_run``
    Whether Ctrl-C stopped the campaign; null, or why the executor went away (a Dask
    scheduler lost: the campaign stopped early); the ids of the mutants left unrun.
``summary``
    ``total`` (mutants that finished), ``killed``, ``killed_by_error``, ``timeout``,
    ``survived``, ``not_reached`` (the examples do not reach the change: neither
    detected nor survived), ``equivalent``, ``score`` = (killed + killed_by_error +
    timeout) / (total - equivalent - not_reached) and ``check_score`` = killed / (total -
    equivalent - not_reached - killed_by_error - timeout); a score is null when its
    denominator is 0.
``families``
    The same counts and scores per operator family, with a ``description``.
``mutants``
    One object per finished mutant: ``id`` (stable across runs), ``operator``,
    ``family``, ``line``, ``description``, ``diff`` (unified), ``outcome`` (one of
    ``killed``, ``killed_by_error``, ``timeout``, ``survived``, ``not_reached``,
    ``equivalent``),
    ``evidence`` (one sentence), ``error``, ``difference`` (on the killing example),
    ``detection_rate`` (share of examples whose check FAILs; null if none ran),
    ``failing_examples``, ``examples_run``, ``verdicts`` (per example: pass, fail,
    inconclusive or error) and ``killing_example`` (null unless killed): ``index``,
    ``columns`` kept by shrinking, ``batch_size`` before shrinking, ``difference``,
    ``diagnosis``, ``summary``, mismatched ``blocks``, and the arrays ``X``, ``Y``,
    ``parameters`` to replay the kill.
``timing``
    ``total_seconds``, ``baseline_seconds``, ``time_limit_seconds`` (the limit used),
    ``jobs``, ``memory_limit_bytes`` (each child's memory limit) and per-mutant
    ``mutants`` seconds. The only part that changes between
    two runs with the same seed: drop it before comparing.

Non-finite numbers are written as null (JSON has no NaN), as in every JSON document
gcverify writes (``gcverify check --json`` too).

>>> sorted(load_schema()["properties"])[:4]
['baseline', 'families', 'interrupted', 'lost']
"""

from __future__ import annotations

import json
import math
import re
from importlib import resources
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from gcverify.mutation.results import CampaignResult, Counts, KillingExample, MutantResult

__all__ = ["SCHEMA_VERSION", "load_schema", "render_json", "report_document"]

SCHEMA_VERSION = 3


def load_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of ``report.json``, shipped with gcverify.

    >>> load_schema()["properties"]["schema_version"]
    {'const': 3, 'description': 'Version of this schema.'}
    """
    text = resources.files("gcverify.report").joinpath("report.schema.json").read_text(
        encoding="utf-8")
    return json.loads(text)


def _number(value: Any) -> float | int | None:
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        raise TypeError("a boolean is not a number here")
    if isinstance(value, (int, np.integer)):
        return int(value)
    value = float(value)
    return value if math.isfinite(value) else None


def _array(value: Any) -> Any:
    """An array as nested lists of numbers, with null for NaN and inf."""
    return _nulls(np.asarray(value).tolist())


def _nulls(value: Any) -> Any:
    if isinstance(value, list):
        return [_nulls(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _killing(example: KillingExample | None) -> dict[str, Any] | None:
    if example is None:
        return None
    return {
        "index": example.index,
        "columns": list(example.columns),
        "batch_size": example.batch_size,
        "difference": _number(example.difference),
        "diagnosis": example.diagnosis,
        "summary": example.summary,
        "blocks": list(example.blocks),
        "X": _array(example.X),
        "Y": _array(example.Y),
        "parameters": {name: _array(value)
                       for name, value in example.parameters.items()},
    }


def _mutant(result: MutantResult) -> dict[str, Any]:
    mutant = result.mutant
    return {
        "id": mutant.id,
        "operator": mutant.operator,
        "family": mutant.family,
        "line": mutant.line,
        "description": mutant.description,
        "diff": mutant.diff,
        "outcome": result.outcome.value,
        "evidence": result.evidence,
        "error": result.error,
        "difference": _number(result.difference),
        "detection_rate": _number(result.detection_rate),
        "failing_examples": result.failing_examples,
        "examples_run": len(result.runs),
        "verdicts": [run.status.value for run in result.runs],
        "killing_example": _killing(result.killing_example),
    }


def _counts(counts: Counts) -> dict[str, Any]:
    return {**counts.as_dict(), "score": _number(counts.score),
            "check_score": _number(counts.check_score)}


def report_document(result: CampaignResult) -> dict[str, Any]:
    """The report as a JSON-ready dict (see the module docstring for the fields).

    >>> from gcverify.mutation import mutate_function, notebook_target, run_campaign
    >>> target = notebook_target()
    >>> pick = [m for m in mutate_function(target.backward) if m.description == "db3 × 0.5"]
    >>> document = report_document(run_campaign(target, examples=2, mutants=pick, jobs=1))
    >>> document["summary"]["killed"], document["mutants"][0]["detection_rate"]
    (1, 1.0)
    """
    target = result.target
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "gcverify", "version": result.tool_version},
        "seed": result.seed,
        "target": {
            "label": target.label,
            "path": target.source.path,
            "function": target.function_names,
            "line": target.source.first_line,
            "forward": target.forward_name,
            "examples": target.example_description,
        },
        "settings": {
            "examples": result.n_examples,
            "check": {name: (_number(value) if isinstance(value, float) else value)
                      for name, value in result.check_options.as_dict().items()},
            "equivalence": {"rtol": result.equivalence.rtol, "atol": result.equivalence.atol},
            "time_limit": _number(result.time_limit),
            "operators": list(result.operators),
        },
        "baseline": {
            "verdicts": [run.status.value for run in result.baseline],
            "differences": [_number(run.difference) for run in result.baseline],
        },
        "interrupted": result.interrupted,
        "lost": result.lost,
        "not_run": [mutant.id for mutant in result.not_run],
        "summary": _counts(result.counts),
        "families": {family: {"description": result.family_description(family),
                              **_counts(counts)}
                     for family, counts in result.families.items()},
        "mutants": [_mutant(r) for r in result.results],
        "timing": {
            "total_seconds": _number(result.timing.get("total")),
            "baseline_seconds": _number(result.timing.get("baseline")),
            "time_limit_seconds": _number(result.timing.get("time_limit")),
            "jobs": _number(result.timing.get("jobs")),
            "memory_limit_bytes": _number(result.timing.get("memory_limit")),
            "mutants": {r.mutant.id: round(r.seconds, 6) for r in result.results},
        },
    }


# An innermost list of numbers (or of plain words such as verdicts), as json.dumps writes
# it with an indent: one item per line. JSON strings cannot hold a raw newline, so only
# the layout between items is touched.
_FLAT_LIST = re.compile(r'\[(?:\s*(?:-?[\d.eE+-]+|null|true|false|"[a-z_]*")\s*,?)*\s*\]')


def _one_line(match: re.Match[str]) -> str:
    return re.sub(r"\n\s*", "", match.group(0)).replace(",", ", ").replace(",  ", ", ")


def render_json(result: CampaignResult) -> str:
    """``report.json``'s text: indented, UTF-8, keys in a fixed order, no NaN; lists of
    numbers and of verdicts are kept on one line.

    >>> from gcverify.mutation import mutate_function, notebook_target, run_campaign
    >>> target = notebook_target()
    >>> pick = [m for m in mutate_function(target.backward) if m.description == "db3 × 0.5"]
    >>> text = render_json(run_campaign(target, examples=2, mutants=pick, jobs=1))
    >>> '"verdicts": ["fail", "fail"],' in text
    True
    """
    text = json.dumps(report_document(result), indent=2, ensure_ascii=False, allow_nan=False)
    return _FLAT_LIST.sub(_one_line, text) + "\n"
