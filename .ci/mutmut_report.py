"""Report on a finished ``mutmut run`` and hold its survivors to the reviewed allowlist.

Run from the project root, after ``mutmut run`` (``.ci/mutmut`` does both)::

    python .ci/mutmut_report.py [--allowlist .ci/mutmut-allowlist.toml] [--output mutants]

It reads mutmut's results (the ``.meta`` files in ``mutants/``), writes
``mutants/mutmut-report.json`` (every mutant: name, function, status, diff; summary
counts) and ``mutants/mutmut-report.md`` (the same, for a person), and exits

* 0 when every mutant that escaped the tests (``survived``, ``no tests``) is on the
  allowlist and every allowlist entry still matches an escaped mutant;
* 1 otherwise (a new survivor, a stale entry, or mutants that were never run).

The allowlist is keyed by function and by the mutant's *change* (the diff's removed and
added lines, stripped of indentation), never by mutant number: mutmut numbers the
mutants of a function in order, so the numbers shift whenever the function changes.

Every count is computed here from mutmut's exit codes: ``mutmut export-cicd-stats``
leaves out the mutants caught by the type checker, and ``mutmut print-time-estimates``
rewrites the cached stats (never run it before this).

Only :func:`main` and :func:`collect` import mutmut; the rest is plain Python, so the
normal test suite (without mutmut installed) tests it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gcverify.report.wording import fenced_block, inline_code, markdown_cell

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: read with `toml`, a dependency of mutmut there
    tomllib = None

SCHEMA_VERSION = 1
#: The allowlist's reasons: why a mutant may survive.
KINDS = {
    "equivalent": "no valid input can tell the mutant from the original (same results; "
                  "at most speed, memory or a numpy warning differ)",
    "unreachable": "the mutated code cannot run, or its result cannot matter, for any "
                   "valid input",
    "test data only": "the mutated code only makes example data (parameters, batches), "
                      "and any such data is valid",
}
#: mutmut's status names, in the order of the report. Timeouts, crashes and unexpected
#: exit codes (suspicious) count as detected, as in mutmut's own score.
STATUSES = ("killed", "caught by type check", "timeout", "segfault", "suspicious",
            "survived", "no tests", "skipped", "not checked", "check was interrupted by user")
DETECTED = frozenset({"killed", "caught by type check", "timeout", "segfault", "suspicious"})
#: Statuses of mutants that escaped the tests: each must be on the allowlist.
ESCAPED = frozenset({"survived", "no tests"})
#: Statuses that mean the run is incomplete: the report cannot vouch for anything.
UNFINISHED = frozenset({"not checked", "check was interrupted by user", "skipped"})
# mutmut 3.8.1's table (mutmut.stats.status_by_exit_code), for reading results without
# importing mutmut; :func:`collect` uses mutmut's own table.
_STATUS_BY_EXIT_CODE = {1: "killed", 3: "killed", 0: "survived", 5: "no tests",
                        2: "check was interrupted by user", None: "not checked",
                        33: "no tests", 34: "skipped", 35: "suspicious", 36: "timeout",
                        37: "caught by type check", -24: "timeout", 24: "timeout",
                        152: "timeout", 255: "timeout", -11: "segfault", -9: "segfault"}


def status_of(exit_code: int | None) -> str:
    """mutmut's status name for a test run's exit code (unknown codes are suspicious)."""
    return _STATUS_BY_EXIT_CODE.get(exit_code, "suspicious")


# --- names and changes -------------------------------------------------------------------

def function_of(mutant_name: str) -> str:
    """The dotted function a mutant belongs to.

    >>> function_of("gcverify.verdict.x__judge_block__mutmut_12")
    'gcverify.verdict._judge_block'
    >>> function_of("gcverify.models.mlp.xǁMLPǁbackward__mutmut_3")
    'gcverify.models.mlp.MLP.backward'
    """
    module, _, mangled = mutant_name.partition("__mutmut_")[0].rpartition(".")
    if mangled.startswith("xǁ"):
        _, class_name, function = mangled.split("ǁ")
        return f"{module}.{class_name}.{function}"
    if not mangled.startswith("x_"):
        raise ValueError(f"mutant_name={mutant_name!r} is not a mutmut mutant name; "
                         "expected module.x_function__mutmut_N or module.xǁClassǁmethod__mutmut_N")
    return f"{module}.{mangled[2:]}"


def change_of(diff: str) -> str:
    """A diff's removed and added lines, without indentation: the allowlist key.

    >>> print(change_of('''--- a.py
    ... +++ a.py
    ... @@ -1,3 +1,3 @@
    ...  def f(x):
    ... -    return x + 1
    ... +    return x - 1'''))
    - return x + 1
    + return x - 1
    """
    lines = []
    for line in diff.splitlines():
        if line.startswith(("---", "+++")) or not line.startswith(("-", "+")):
            continue
        lines.append(f"{line[0]} {line[1:].strip()}")
    return "\n".join(lines)


# --- the allowlist ----------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    """One reviewed survivor: the function, the change, why it may survive."""

    function: str
    change: str
    kind: str
    reason: str

    def matches(self, mutant: Mutant) -> bool:
        return mutant.function == self.function and mutant.change == self.change


def parse_allowlist(text: str, source: str = "allowlist") -> list[Entry]:
    """The entries of an allowlist's TOML text (``[[survivor]]`` tables).

    Each needs ``function``, ``diff`` (the change: ``- old`` and ``+ new`` lines),
    ``kind`` (one of :data:`KINDS`) and a non-empty ``reason``.
    """
    if tomllib is not None:
        data = tomllib.loads(text)
    else:
        import toml
        data = toml.loads(text)
    unknown = set(data) - {"survivor"}
    if unknown:
        raise ValueError(f"{source}: unknown top-level keys {sorted(unknown)}; "
                         "write each survivor as a [[survivor]] table")
    entries = []
    for number, table in enumerate(data.get("survivor", []), start=1):
        where = f"{source}: survivor {number}"
        missing = [key for key in ("function", "diff", "kind", "reason") if not table.get(key)]
        if missing:
            raise ValueError(f"{where} lacks {', '.join(missing)}; every entry needs "
                             "function, diff, kind and reason")
        extra = set(table) - {"function", "diff", "kind", "reason"}
        if extra:
            raise ValueError(f"{where} has unknown keys {sorted(extra)}; "
                             "use function, diff, kind and reason")
        if table["kind"] not in KINDS:
            raise ValueError(f"{where} has kind={table['kind']!r}; use one of "
                             + ", ".join(repr(kind) for kind in KINDS))
        change = change_of(table["diff"].strip("\n"))
        if not change:
            raise ValueError(f"{where} has a diff without '- ' or '+ ' lines; copy the "
                             "change from mutants/mutmut-report.md")
        entries.append(Entry(table["function"], change, table["kind"],
                             " ".join(table["reason"].split())))
    keys = Counter((entry.function, entry.change) for entry in entries)
    twice = [key for key, count in keys.items() if count > 1]
    if twice:
        raise ValueError(f"{source}: {len(twice)} entries listed twice, e.g. {twice[0][0]}: "
                         f"{twice[0][1]!r}; keep one")
    return entries


# --- results ------------------------------------------------------------------------------

@dataclass
class Mutant:
    """One mutant and what became of it."""

    name: str
    function: str
    status: str
    diff: str
    exit_code: int | None = None
    duration: float | None = None
    allowlisted: str | None = None      # the allowlist's reason, for escaped mutants
    change: str = field(init=False)

    def __post_init__(self) -> None:
        self.change = change_of(self.diff)

    @property
    def escaped(self) -> bool:
        return self.status in ESCAPED


@dataclass
class Review:
    """The mutants held against the allowlist."""

    mutants: list[Mutant]
    entries: list[Entry]
    unlisted: list[Mutant]              # escaped and not on the allowlist
    stale: list[Entry]                  # on the allowlist, yet no escaped mutant matches
    unfinished: list[Mutant]            # never run to the end

    @property
    def ok(self) -> bool:
        return not (self.unlisted or self.stale or self.unfinished) and bool(self.mutants)

    def counts(self) -> dict[str, int]:
        by_status = Counter(mutant.status for mutant in self.mutants)
        counts = {status.replace(" ", "_"): by_status.get(status, 0) for status in STATUSES}
        counts["total"] = len(self.mutants)
        counts["detected"] = sum(by_status[status] for status in DETECTED)
        counts["escaped"] = sum(by_status[status] for status in ESCAPED)
        counts["allowlisted"] = sum(1 for mutant in self.mutants if mutant.allowlisted)
        counts["unlisted"] = len(self.unlisted)
        counts["stale_entries"] = len(self.stale)
        return counts


def review(mutants: Sequence[Mutant], entries: Sequence[Entry]) -> Review:
    """Match the escaped mutants with the allowlist entries (both ways)."""
    used: set[Entry] = set()
    unlisted = []
    for mutant in mutants:
        mutant.allowlisted = None
        if not mutant.escaped:
            continue
        entry = next((entry for entry in entries if entry.matches(mutant)), None)
        if entry is None:
            unlisted.append(mutant)
        else:
            used.add(entry)
            mutant.allowlisted = f"{entry.kind}: {entry.reason}"
    return Review(mutants=list(mutants), entries=list(entries), unlisted=unlisted,
                  stale=[entry for entry in entries if entry not in used],
                  unfinished=[mutant for mutant in mutants if mutant.status in UNFINISHED])


def score(counts: Mapping[str, int]) -> float | None:
    """Detected / (total - skipped), as mutmut's badge counts it (None without mutants)."""
    tested = counts["total"] - counts["skipped"]
    return counts["detected"] / tested if tested else None


def headline(result: Review) -> str:
    counts = result.counts()
    value = score(counts)
    text = (f"Score {100 * value:.1f} %: {counts['detected']} of {counts['total']} mutants "
            "detected" if value is not None else "No mutants")
    if not counts["escaped"]:
        return text + "; no mutant survived."
    text += f"; {counts['escaped']} survived, {counts['allowlisted']} of them reviewed"
    return text + ("." if not result.unlisted else f", {len(result.unlisted)} not reviewed.")


# --- output -------------------------------------------------------------------------------

def to_json(result: Review, meta: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``mutmut-report.json``'s content."""
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": "mutmut",
        **dict(meta or {}),
        "ok": result.ok,
        "summary": {**result.counts(), "score": score(result.counts())},
        "problems": problems(result),
        "mutants": [asdict(mutant) for mutant in result.mutants],
        "allowlist": [asdict(entry) for entry in result.entries],
    }


def problems(result: Review) -> list[str]:
    """What makes the run fail, one line each, each with its fix."""
    lines = [f"{mutant.name} ({mutant.function}) {mutant.status} and is not on the "
             f"allowlist: {mutant.change!r}; kill it with a test, or review it and add it "
             "to the allowlist with its reason" for mutant in result.unlisted]
    lines += [f"allowlist entry for {entry.function} {entry.change!r} matches no surviving "
              "mutant; remove it (a test kills it now, or the code changed)"
              for entry in result.stale]
    lines += [f"{mutant.name} is {mutant.status!r}: the run did not finish; run .ci/mutmut "
              "again from a clean state" for mutant in result.unfinished]
    if not result.mutants:
        lines.append("no mutants: check [mutmut] only_mutate in setup.cfg")
    return lines


# Facts about the run shown in the Markdown report, in this order.
_RUN_FACTS = (("mutmut", "mutmut {}"), ("python", "Python {}"), ("numpy", "numpy {}"),
              ("hypothesis_profile", "Hypothesis profile `{}`"), ("workers", "{} workers"),
              ("cpus", "{} CPUs"), ("wall_time_s", "wall time {} s"))


def _mutant_block(mutant: Mutant, note: str) -> list[str]:
    return [f"#### {inline_code(mutant.name)} ({mutant.status})", "", note, "",
            *fenced_block(mutant.diff, "diff"), ""]


def _functions(mutants: Iterable[Mutant]) -> dict[str, Counter]:
    rows: dict[str, Counter] = {}
    for mutant in mutants:
        rows.setdefault(mutant.function, Counter())[mutant.status] += 1
    return rows


def to_markdown(result: Review, meta: Mapping[str, Any] | None = None) -> str:
    """``mutmut-report.md``: the run for a person, in the mutation report's layout."""
    counts = result.counts()
    meta = dict(meta or {})
    value = score(counts)
    lines = ["## mutmut: gcverify's own tests against mutants of gcverify", "",
             f"**{headline(result)}**", ""]
    if problems(result):
        lines += ["> **Fails.** " + " ".join(f"{label}: {len(items)}." for label, items in (
            ("Survivors not on the allowlist", result.unlisted),
            ("Allowlist entries that no longer survive", result.stale),
            ("Mutants not run to the end", result.unfinished)) if items), ""]
    lines += [
        "| outcome | mutants |", "|---|---:|",
        f"| killed by a failing test | {counts['killed']} |",
        f"| caught by the type checker | {counts['caught_by_type_check']} |",
        f"| timed out | {counts['timeout']} |",
        f"| crashed (segfault, suspicious exit) | {counts['segfault'] + counts['suspicious']} |",
        f"| **survived** | **{counts['survived']}** |",
        f"| no test ran it | {counts['no_tests']} |",
        f"| not run | {counts['not_checked'] + counts['skipped']} |",
        f"| total | {counts['total']} |", "",
        "Score = detected / (total − skipped) = "
        + (f"{100 * value:.1f} %" if value is not None else "n/a")
        + f". Every survivor must be on the reviewed allowlist "
          f"({inline_code(meta.get('allowlist', '.ci/mutmut-allowlist.toml'))}): "
          f"{counts['allowlisted']} of {counts['escaped']} are.", "",
    ]
    details = ", ".join(template.format(meta[key]) for key, template in _RUN_FACTS
                        if key in meta)
    if details:
        lines += [f"Run: {details}.", ""]
    lines += ["### By function", "",
              "| function | mutants | detected | survived | allowlisted |",
              "|---|---:|---:|---:|---:|"]
    allowlisted = Counter(mutant.function for mutant in result.mutants if mutant.allowlisted)
    for function, row in sorted(_functions(result.mutants).items()):
        lines.append(f"| {inline_code(function)} | {sum(row.values())} "
                     f"| {sum(row[s] for s in DETECTED)} | {sum(row[s] for s in ESCAPED)} "
                     f"| {allowlisted[function]} |")
    lines += ["", "### Survivors not on the allowlist", ""]
    if result.unlisted:
        lines += ["Each is a change to gcverify that no selected test notices: kill it with "
                  "a test, or review it and add it to the allowlist with its reason.", ""]
        for mutant in result.unlisted:
            lines += _mutant_block(mutant, f"In {inline_code(mutant.function)}.")
    else:
        lines += ["None.", ""]
    if result.stale:
        lines += ["### Allowlist entries that no longer survive", "",
                  "Remove them: a test kills the mutant now, or the code changed.", ""]
        for entry in result.stale:
            lines += [f"- {inline_code(entry.function)} ({entry.kind}):", "",
                      *fenced_block(entry.change, "diff"), ""]
    reviewed = [mutant for mutant in result.mutants if mutant.allowlisted]
    if reviewed:
        lines += ["### Reviewed survivors", ""]
        for mutant in reviewed:
            note = f"In {inline_code(mutant.function)}. {mutant.allowlisted}"
            lines += _mutant_block(mutant, note)
    lines += ["<details>", f"<summary>All {counts['total']} mutants</summary>", "",
              "| mutant | function | outcome | change |", "|---|---|---|---|"]
    for mutant in result.mutants:
        change = markdown_cell(inline_code(mutant.change)) if mutant.change else ""
        lines.append(f"| {inline_code(mutant.name)} | {inline_code(mutant.function)} "
                     f"| {mutant.status} | {change} |")
    lines += ["", "</details>", ""]
    return "\n".join(lines)


# --- reading mutmut's results ------------------------------------------------------------

def collect() -> list[Mutant]:
    """Every mutant of the last ``mutmut run`` in the current directory, with its diff."""
    from mutmut.mutation.data import SourceFileMutationData
    from mutmut.mutation.diff_apply import get_diff_for_mutant
    from mutmut.stats import status_by_exit_code
    from mutmut.utils.file_utils import walk_mutatable_files

    mutants = []
    for path in sorted(walk_mutatable_files()):
        data = SourceFileMutationData(path=path)
        data.load()
        for name, exit_code in data.exit_code_by_key.items():
            mutants.append(Mutant(name=name, function=function_of(name),
                                  status=status_by_exit_code[exit_code],
                                  diff=get_diff_for_mutant(name, path=path),
                                  exit_code=exit_code,
                                  duration=data.durations_by_key.get(name)))
    return mutants


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--allowlist", default=".ci/mutmut-allowlist.toml",
                        help="the reviewed survivors (default: %(default)s)")
    parser.add_argument("--output", default="mutants",
                        help="folder for mutmut-report.json and .md (default: %(default)s)")
    parser.add_argument("--meta", default="{}",
                        help="JSON object of facts about the run to record (wall time, ...)")
    args = parser.parse_args(argv)
    allowlist = Path(args.allowlist)
    try:
        entries = parse_allowlist(allowlist.read_text(encoding="utf-8"), str(allowlist))
    except (OSError, ValueError) as error:
        print(f"mutmut report: {error}", file=sys.stderr)
        return 2
    result = review(collect(), entries)
    meta = {"allowlist": str(allowlist), **json.loads(args.meta)}
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    (output / "mutmut-report.json").write_text(
        json.dumps(to_json(result, meta), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (output / "mutmut-report.md").write_text(to_markdown(result, meta), encoding="utf-8")
    print(headline(result))
    print(f"Wrote {output / 'mutmut-report.json'} and {output / 'mutmut-report.md'}")
    for line in problems(result):
        print(f"FAIL: {line}", file=sys.stderr)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
