"""A cost limit for GraphQL queries: an estimate of how many objects a query can return, checked before it runs.

Like GitHub's node limit: every object-valued field counts once per parent it is resolved for, and
a field with a page size (`first` or `limit`, or the default page when a variable gives it)
multiplies what is below it. Scalars cost nothing. Depth and aliases are limited by strawberry's
own extensions beside this one.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
)
from strawberry.extensions import AddValidationRules

from kgtwin.api.graphql.loaders import DEFAULT_PAGE

PAGE_ARGUMENTS = ("first", "limit")


def _factor(field: FieldNode) -> int:
    for argument in field.arguments or ():
        if argument.name.value in PAGE_ARGUMENTS:
            if isinstance(argument.value, IntValueNode):
                return max(1, int(argument.value.value))
            return DEFAULT_PAGE
    return 1


def estimate(
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    multiplier: int = 1,
    seen: frozenset[str] = frozenset(),
) -> int:
    if selection_set is None:
        return 0
    total = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            if selection.selection_set is not None:  # an object (or list of them), not a scalar
                total += multiplier + estimate(
                    selection.selection_set, fragments, multiplier * _factor(selection), seen
                )
        elif isinstance(selection, InlineFragmentNode):
            total += estimate(selection.selection_set, fragments, multiplier, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in fragments and name not in seen:
                total += estimate(fragments[name].selection_set, fragments, multiplier, seen | {name})
    return total


def cost_rule(max_cost: int) -> type[ValidationRule]:
    class QueryCost(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            fragments = {
                d.name.value: d for d in self.context.document.definitions if isinstance(d, FragmentDefinitionNode)
            }
            cost = estimate(node.selection_set, fragments)
            if cost > max_cost:
                self.report_error(
                    GraphQLError(
                        f"this query could return about {cost} values, more than the limit of {max_cost}: "
                        "ask for smaller pages (`first`) or fewer nested lists",
                        node,
                    )
                )

    return QueryCost


class QueryCostLimiter(AddValidationRules):
    def __init__(self, max_cost: int) -> None:
        super().__init__([cost_rule(max_cost)])
