"""Mutation testing of backpropagation code: does the gradient check catch the bugs?

:func:`mutate_function` injects bugs of the notebook's kind (``dW2 * 2``, ``4. / m``,
sign flips, dropped chain-rule factors, ...) into a backward pass, one per
:class:`Mutant`; :func:`run_campaign` checks each mutant with
:func:`gcverify.check_backprop` on seeded examples, each in its own process, and
returns a :class:`CampaignResult`; :func:`gcverify.report.write_reports` renders it
as Markdown, HTML, JSON and JUnit XML.

>>> from gcverify.mutation import mutate_function, notebook_target, run_campaign
>>> target = notebook_target(seed=0)
>>> mutants = [m for m in mutate_function(target.backward) if m.family == "sign"]
>>> print(run_campaign(target, examples=4, mutants=mutants, jobs=2).summary())
score 100.0 %: 3 mutants, 3 killed by the check, 0 by an error, 0 timed out,
0 survived, 0 probably equivalent
"""

from gcverify.mutation.campaign import DEFAULT_EXAMPLES, run_campaign
from gcverify.mutation.engine import (
    Mutant,
    combine_mutants,
    custom_mutant,
    mutate,
    mutate_function,
)
from gcverify.mutation.examples import (
    CaseExamples,
    ExampleSource,
    NetworkExamples,
    NotebookExamples,
)
from gcverify.mutation.operators import FAMILIES, OPERATORS, Operator, operator_named
from gcverify.mutation.results import (
    CampaignResult,
    Counts,
    Equivalence,
    ExampleRun,
    ExampleStatus,
    KillingExample,
    MutantResult,
    Outcome,
)
from gcverify.mutation.source import FunctionSource, compile_source
from gcverify.mutation.targets import Target, file_target, notebook_target

__all__ = [
    "DEFAULT_EXAMPLES",
    "FAMILIES",
    "OPERATORS",
    "CampaignResult",
    "CaseExamples",
    "Counts",
    "Equivalence",
    "ExampleRun",
    "ExampleSource",
    "ExampleStatus",
    "FunctionSource",
    "KillingExample",
    "Mutant",
    "MutantResult",
    "NetworkExamples",
    "NotebookExamples",
    "Operator",
    "Outcome",
    "Target",
    "combine_mutants",
    "compile_source",
    "custom_mutant",
    "file_target",
    "mutate",
    "mutate_function",
    "notebook_target",
    "operator_named",
    "run_campaign",
]
