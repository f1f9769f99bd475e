"""How close is close enough? The sensitivity of gradient checkers, measured.

:func:`run_study` compares five decision rules (the notebook's, torch.autograd.gradcheck's,
jax's check_grads', scipy's check_grad's and gcverify's) on the same numerical
derivatives and the same planted errors: the step sweep, the detection boundary, the ROC
and a table at each rule's defaults; :func:`write_study` writes ``sensitivity.json``,
``.csv``, ``.md`` and ``.html``.

>>> result = run_study(PRESETS["tiny"], seed=0, jobs=1)
>>> result.table["gcverify"].false_alarms
0
"""

from gcverify.sensitivity.report import (
    STUDY_FILES,
    load_schema,
    render_csv,
    render_html,
    render_json,
    render_markdown,
    study_document,
    write_study,
)
from gcverify.sensitivity.rules import RULES, Rule, rule_named
from gcverify.sensitivity.study import PRESETS, Preset, RuleRow, StudyResult, run_study

__all__ = [
    "PRESETS",
    "RULES",
    "STUDY_FILES",
    "Preset",
    "Rule",
    "RuleRow",
    "StudyResult",
    "load_schema",
    "render_csv",
    "render_html",
    "render_json",
    "render_markdown",
    "rule_named",
    "run_study",
    "study_document",
    "write_study",
]
