"""Mutation testing of backpropagation code: does the gradient check catch the bugs?

:func:`mutate_function` injects bugs of the notebook's kind (``dW2 * 2``, ``4. / m``,
sign flips, dropped chain-rule factors, ...) into a backward pass, one per
:class:`Mutant`, compiled in memory; a :class:`Target` pairs a backward pass with its
forward and a seeded source of examples.

>>> from gcverify.mutation import mutate_function, notebook_target
>>> mutants = mutate_function(notebook_target().backward)
>>> sorted({m.family for m in mutants})[:3]
['activation', 'chain', 'comparison']
"""

from gcverify.mutation.engine import (
    FunctionSource,
    Mutant,
    combine_mutants,
    compile_source,
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
from gcverify.mutation.targets import Target, file_target, notebook_target

__all__ = [
    "FAMILIES",
    "OPERATORS",
    "CaseExamples",
    "ExampleSource",
    "FunctionSource",
    "Mutant",
    "NetworkExamples",
    "NotebookExamples",
    "Operator",
    "Target",
    "combine_mutants",
    "compile_source",
    "custom_mutant",
    "file_target",
    "mutate",
    "mutate_function",
    "notebook_target",
    "operator_named",
]
