"""Users' conditions: a small language of their own, parsed safely and evaluated with unknowns."""

from __future__ import annotations

import re

import pytest

from kgtwin.analytics.conditions import parse_expression
from kgtwin.errors import KgtwinError


@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        ("spindleRpm > 10000", {"spindleRpm": 10250}, True),
        ("spindleRpm > 10000", {"spindleRpm": 9000}, False),
        ("spindleRpm > 10000", {}, None),  # no value yet: unknown, neither opens nor ends
        ("supplyTemp - returnTemp >= 5 and pumpOn", {"supplyTemp": 45, "returnTemp": 39, "pumpOn": True}, True),
        ("a > 1 or b > 1", {"a": 2}, True),  # true or unknown is true
        ("a > 1 and b > 1", {"a": 0}, False),  # false and unknown is false
        ("a > 1 and b > 1", {"a": 2}, None),
        ("not (co2 < 1000)", {"co2": 1200}, True),
        ("1 + 2 * 3 == 7", {}, True),  # * before +
        ("-x < -5", {"x": 6}, True),
        ("status == 'issue' && crack.width >= 0.3", {"status": "issue", "crack.width": 0.3}, True),
        (
            "`pset.Pset_ConcreteElementGeneral.StrengthClass` = 'C30/37'",
            {"pset.Pset_ConcreteElementGeneral.StrengthClass": "C30/37"},
            True,
        ),
        ("name > 3", {"name": "wall"}, None),  # text against a number: unknown, not an error
        ("x / y > 1", {"x": 1, "y": 0}, None),
        ("A > 1 OR a > 1", {"A": 0, "a": 2}, True),  # keywords in any case; names as written
    ],
)
def test_expressions_evaluate_with_three_valued_logic(text: str, values: dict, expected: bool | None) -> None:
    assert parse_expression(text).evaluate(values) is expected


def test_properties_read_are_known_before_evaluating() -> None:
    assert parse_expression("(a > 1 or b.c < 2) and not d").properties == {"a", "b.c", "d"}


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("__import__('os')", "unexpected '('"),  # no calls
        ("__import__('os').system('true')", "cannot read"),
        ("temp >", "expected a value"),
        ("temp > 30 30", "unexpected '30'"),
        ("1 < x < 3", "chain comparisons"),
        ("temp ; drop", "cannot read"),
        ("(temp > 1", "expected ')'"),
        ("x" + " + x" * 300, "longer than"),
        ("(" * 60 + "1" + ")" * 60, "nested too deeply"),
    ],
)
def test_anything_else_is_refused_with_where_it_went_wrong(text: str, says: str) -> None:
    with pytest.raises(KgtwinError, match=re.escape(says)):
        parse_expression(text, "condition test")
