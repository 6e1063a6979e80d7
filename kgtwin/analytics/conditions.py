"""Users' conditions on the properties of elements and spaces (`spindleRpm > 10000`), evaluated whenever
a property they read changes, with the detectors' hysteresis: true opens an alert and a condition
anomaly, false again (or the `clear` expression) ends it.

Expressions are parsed here, never evaluated by Python: numbers, 'text', true/false, property names
(letters, digits, `_` and `.`; anything else in `backticks`), + - * /, comparisons
(< <= > >= == != =), and, or, not, parentheses. A property without a value makes a comparison
unknown; `and`/`or` follow three-valued logic, and an unknown condition neither opens nor ends.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kgtwin.analytics.anomalies.config import ConditionSpec
from kgtwin.analytics.anomalies.episodes import Change, EpisodeTracker, Verdict
from kgtwin.errors import ConfigError

MAX_LENGTH = 500
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)
      | (?P<string>'[^']*'|"[^"]*")
      | (?P<quoted>`[^`]+`)
      | (?P<name>[A-Za-z_][A-Za-z0-9_.]*)
      | (?P<op><=|>=|==|!=|<|>|=|\+|-|\*|/|\(|\)|&&|\|\|)
    )""",
    re.VERBOSE,
)
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "=": operator.eq,
    "!=": operator.ne,
}
_ARITHMETIC: dict[str, Callable[[float, float], float]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
}
Node = tuple[Any, ...]


@dataclass(frozen=True)
class Expression:
    text: str
    tree: Node
    properties: frozenset[str]

    def evaluate(self, values: Mapping[str, Any]) -> Any:
        """True, False, or None when a property it needs has no value (or the types do not compare)."""
        return _evaluate(self.tree, values)


def parse_expression(text: str, where: str = "condition") -> Expression:
    if len(text) > MAX_LENGTH:
        raise ConfigError(f"{where}: longer than {MAX_LENGTH} characters")
    tokens = _tokenize(text, where)
    parser = _Parser(tokens, text, where)
    tree = parser.expression()
    if parser.position < len(tokens):
        parser.fail("unexpected", tokens[parser.position])
    return Expression(text, tree, frozenset(_names(tree)))


def _tokenize(text: str, where: str) -> list[tuple[str, str, int]]:
    tokens, position = [], 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise ConfigError(f"{where}: cannot read {text[position:].strip()[:20]!r} in {text!r}")
        group = match.lastgroup or ""
        kind, value = group, match.group(group)
        if kind == "name" and value.lower() in ("and", "or", "not", "true", "false"):
            kind, value = "keyword", value.lower()
        elif kind == "op" and value in ("&&", "||"):
            kind, value = "keyword", "and" if value == "&&" else "or"
        tokens.append((kind, value, match.start(group)))
        position = match.end()
    return tokens


class _Parser:
    """Recursive descent: or < and < not < comparison < + - < * / < unary minus < operand."""

    def __init__(self, tokens: list[tuple[str, str, int]], text: str, where: str) -> None:
        self.tokens, self.text, self.where, self.position, self.depth = tokens, text, where, 0, 0

    def fail(self, what: str, token: tuple[str, str, int] | None = None) -> None:
        at = f" {token[1]!r} at {token[2] + 1}" if token else " the end"
        raise ConfigError(f"{self.where}: {what}{at} in {self.text!r}")

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, *values: str) -> str | None:
        token = self.peek()
        if token and token[0] in ("keyword", "op") and token[1] in values:
            self.position += 1
            return token[1]
        return None

    def expression(self) -> Node:
        self.depth += 1
        if self.depth > 50:
            self.fail("nested too deeply near", self.peek())
        node = self.conjunction()
        while self.take("or"):
            node = ("or", node, self.conjunction())
        self.depth -= 1
        return node

    def conjunction(self) -> Node:
        node = self.negation()
        while self.take("and"):
            node = ("and", node, self.negation())
        return node

    def negation(self) -> Node:
        if self.take("not"):
            return ("not", self.negation())
        return self.comparison()

    def comparison(self) -> Node:
        node = self.sum()
        symbol = self.take(*_COMPARE)
        if symbol:
            node = ("compare", symbol, node, self.sum())
            if self.take(*_COMPARE):
                self.fail("chain comparisons with `and`:", self.tokens[self.position - 1])
        return node

    def sum(self) -> Node:
        node = self.product()
        while symbol := self.take("+", "-"):
            node = ("arith", symbol, node, self.product())
        return node

    def product(self) -> Node:
        node = self.unary()
        while symbol := self.take("*", "/"):
            node = ("arith", symbol, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.take("-"):
            return ("arith", "-", ("value", 0.0), self.unary())
        return self.operand()

    def operand(self) -> Node:
        token = self.peek()
        if token is None:
            self.fail("expected a value at")
        assert token is not None
        kind, value, _ = token
        self.position += 1
        if kind == "number":
            return ("value", float(value))
        if kind == "string":
            return ("value", value[1:-1])
        if kind == "name":
            return ("property", value)
        if kind == "quoted":
            return ("property", value[1:-1])
        if kind == "keyword" and value in ("true", "false"):
            return ("value", value == "true")
        if value == "(":
            node = self.expression()
            if not self.take(")"):
                self.fail("expected ')' at", self.peek())
            return node
        self.fail("unexpected", token)
        raise AssertionError  # fail raised


def _names(tree: Node) -> Iterable[str]:
    if tree[0] == "property":
        yield tree[1]
    for part in tree[1:]:
        if isinstance(part, tuple):
            yield from _names(part)


def _evaluate(tree: Node, values: Mapping[str, Any]) -> Any:
    kind = tree[0]
    if kind == "value":
        return tree[1]
    if kind == "property":
        return values.get(tree[1])
    if kind == "not":
        inner = _evaluate(tree[1], values)
        return None if inner is None else not _truth(inner)
    if kind in ("and", "or"):
        left, right = _truth(_evaluate(tree[1], values)), _truth(_evaluate(tree[2], values))
        if kind == "and":
            return False if left is False or right is False else (None if left is None or right is None else True)
        return True if left is True or right is True else (None if left is None or right is None else False)
    left, right = _evaluate(tree[2], values), _evaluate(tree[3], values)
    if left is None or right is None:
        return None
    try:
        if kind == "compare":
            if isinstance(left, str) != isinstance(right, str) and tree[1] not in ("==", "=", "!="):
                return None
            return _COMPARE[tree[1]](left, right)
        if isinstance(left, (str, bool)) or isinstance(right, (str, bool)):
            return None
        result = _ARITHMETIC[tree[1]](left, right)
        return result if math.isfinite(result) else None
    except (TypeError, ZeroDivisionError):
        return None


def _truth(value: Any) -> bool | None:
    return None if value is None else bool(value)


@dataclass(frozen=True)
class Condition:
    """A declared condition with its parsed expressions."""

    spec: ConditionSpec
    when: Expression
    clear: Expression | None
    critical: Expression | None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def detector(self) -> str:
        return f"condition:{self.spec.name}"

    @property
    def properties(self) -> frozenset[str]:
        parts = [self.when, self.clear, self.critical]
        return frozenset().union(*(p.properties for p in parts if p is not None))

    def applies_to(self, target: Target) -> bool:
        s = self.spec
        return (
            (s.model is None or s.model == target.model)
            and (s.ifc_class is None or s.ifc_class == target.ifc_class)
            and (s.element is None or s.element in (target.uid, target.global_id))
            and (s.space is None or (target.label == "Space" and s.space in (target.uid, target.global_id)))
        )


@dataclass
class Target:
    """An element or space that conditions may read, with the values they need."""

    uid: str
    label: str
    model: str | None = None
    ifc_class: str | None = None
    global_id: str | None = None
    values: dict[str, Any] = field(default_factory=dict)


def compile_conditions(specs: Sequence[ConditionSpec]) -> list[Condition]:
    def optional(text: str | None, where: str) -> Expression | None:
        return parse_expression(text, where) if text else None

    return [
        Condition(
            spec,
            parse_expression(spec.when, f"condition {spec.name}"),
            optional(spec.clear, f"condition {spec.name}.clear"),
            optional(spec.critical, f"condition {spec.name}.critical"),
        )
        for spec in specs
    ]


class ConditionEngine:
    """Evaluates conditions as properties change; keeps what each target's conditions need to know."""

    def __init__(self, specs: Sequence[ConditionSpec]) -> None:
        self.conditions = compile_conditions(specs)
        self.properties = (
            frozenset().union(*(c.properties for c in self.conditions)) if self.conditions else frozenset()
        )
        self.targets: dict[str, Target] = {}
        self.tracker = EpisodeTracker(lambda _: "condition", self._describe)

    def __bool__(self) -> bool:
        return bool(self.conditions)

    def missing(self, uids: Iterable[str]) -> list[str]:
        return [u for u in uids if u not in self.targets]

    async def load_targets(self, store: Any, label: str, uids: Sequence[str]) -> None:
        """Read what conditions need of these elements or spaces (their class, model, current values)."""
        keys = sorted(self.properties)
        for start in range(0, len(uids), 5_000):
            rows = await store.execute(
                "anomalies/targets", {"uids": list(uids[start : start + 5_000]), "keys": keys}, label=label
            )
            for row in rows:
                values = {k: v for k, v in zip(keys, row["values"], strict=True) if v is not None}
                self.targets[row["uid"]] = Target(
                    row["uid"], label, row["model"], row["ifcClass"], row["globalId"], values
                )

    def observe(self, target: str, changed: Mapping[str, Any], ts: int) -> None:
        """Properties of one target changed (a bound sensor's reading, a field update): evaluate the
        conditions that read them. Targets not loaded yet are skipped (load them first)."""
        known = self.targets.get(target)
        if known is None or not self.properties.intersection(changed):
            return
        known.values.update({k: v for k, v in changed.items() if k in self.properties})
        for condition in self.conditions:
            if condition.properties.isdisjoint(changed) or not condition.applies_to(known):
                continue
            holds = condition.when.evaluate(known.values)
            if holds is None:
                continue
            cleared = condition.clear.evaluate(known.values) if condition.clear else not holds
            critical = bool(condition.critical.evaluate(known.values)) if condition.critical else False
            key = (target, condition.detector)
            read = {p: known.values.get(p) for p in sorted(condition.when.properties)}
            first = next(iter(read.values()), None)
            self.tracker.step(
                key,
                ts,
                float(first) if isinstance(first, (int, float)) and not isinstance(first, bool) else math.nan,
                [
                    Verdict(
                        condition.detector,
                        condition.spec.episode,
                        hot=bool(holds),
                        critical=bool(holds) and critical,
                        cool=bool(cleared),
                        score=1.0 if holds else 0.0,
                    )
                ],
            )
            episode = self.tracker.open.get(key)
            if episode is not None and "condition" not in episode.extra:
                episode.extra.update(
                    {
                        "condition": condition.name,
                        "expression": condition.when.text,
                        "target_label": known.label,
                        "properties": sorted(condition.properties),
                        "values": read,
                    }
                )

    def _describe(self, subject: str, verdict: Verdict, value: float) -> str:
        condition = next(c for c in self.conditions if c.detector == verdict.detector)
        known = self.targets.get(subject)
        read = ", ".join(f"{p} = {known.values.get(p) if known else None}" for p in sorted(condition.when.properties))
        return f"{condition.when.text} ({read})"

    def drain(self, now: int | None = None) -> list[Change]:
        return self.tracker.drain(now)
