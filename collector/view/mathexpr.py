"""CloudWatch metric math, as the User Guide documents it (using-metric-math.md), and nothing else.

Arithmetic where a missing value in a time series counts as 0 and a division by zero drops the
datapoint; comparison and logical operators (`== != <= >= < >`, `AND && OR ||`) with the same
missing-as-0 rule; `IF` with the documented cases for a missing true or false value;
`FILL(series, number)`. Any other function (or `^`) is refused with `Unsupported`, never guessed.

Whether FILL produces values for a metric with no datapoint at all in the range is not documented;
`fill_absent` chooses. A series maps a period index to its value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

Series = dict[int, float]  # period index -> value
Value = float | Series


class Unsupported(ValueError):
    """The expression or configuration uses something this evaluator does not implement."""


TOKENS = re.compile(
    r"\s*(?:(?P<number>\d+(?:\.\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>==|!=|<=|>=|&&|\|\||[-+*/<>(),^]))"
)
FUNCTIONS = frozenset({"IF", "FILL"})


def tokenize(expression: str) -> list[str]:
    tokens, position = [], 0
    while position < len(expression.rstrip()):
        match = TOKENS.match(expression, position)
        if match is None:
            raise Unsupported(f"cannot read {expression[position:]!r}")
        token = match.group("number") or match.group("name") or match.group("op")
        if token == "^":
            raise Unsupported("the ^ operator")
        tokens.append(token)
        position = match.end()
    return tokens


Node = tuple[Any, ...]


class Parser:
    """Recursive descent: OR < AND < comparison < + - < * / < unary minus."""

    def __init__(self, expression: str) -> None:
        self.tokens = tokenize(expression)
        self.at = 0

    def parse(self) -> Node:
        node = self.logical("OR", ("OR", "||"))
        if self.at != len(self.tokens):
            raise Unsupported(f"unexpected {self.tokens[self.at]!r}")
        return node

    def peek(self) -> str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise Unsupported(f"expected {expected or 'more'}, got {token!r}")
        self.at += 1
        return token

    def logical(self, kind: str, ops: tuple[str, str]) -> Node:
        node = self._operand(kind)
        while self.peek() in ops:
            self.take()
            node = (kind, node, self._operand(kind))
        return node

    def _operand(self, kind: str) -> Node:
        return self.logical("AND", ("AND", "&&")) if kind == "OR" else self.comparison()

    def comparison(self) -> Node:
        node = self.additive()
        if self.peek() in ("==", "!=", "<=", ">=", "<", ">"):
            op = self.take()
            node = (op, node, self.additive())
        return node

    def additive(self) -> Node:
        node = self.multiplicative()
        while self.peek() in ("+", "-"):
            op = self.take()
            node = (op, node, self.multiplicative())
        return node

    def multiplicative(self) -> Node:
        node = self.unary()
        while self.peek() in ("*", "/"):
            op = self.take()
            node = (op, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.peek() == "-":
            self.take()
            return ("neg", self.unary())
        return self.primary()

    def primary(self) -> Node:
        token = self.take()
        if token == "(":
            node = self.logical("OR", ("OR", "||"))
            self.take(")")
            return node
        if re.fullmatch(r"\d+(\.\d+)?", token):
            return ("num", float(token))
        if token[0].isupper():
            if token not in FUNCTIONS:
                raise Unsupported(f"metric-math function {token}")
            self.take("(")
            args = [self.logical("OR", ("OR", "||"))]
            while self.peek() == ",":
                self.take()
                args.append(self.logical("OR", ("OR", "||")))
            self.take(")")
            return ("call", token, args)
        return ("ref", token)


def _binary(op: str, left: Value, right: Value) -> Value:
    def apply(a: float, b: float) -> float | None:
        if op == "/":
            return None if b == 0 else a / b
        results: dict[str, float] = {
            "+": a + b,
            "-": a - b,
            "*": a * b,
            "==": float(a == b),
            "!=": float(a != b),
            "<=": float(a <= b),
            ">=": float(a >= b),
            "<": float(a < b),
            ">": float(a > b),
            "AND": float(bool(a) and bool(b)),
            "OR": float(bool(a) or bool(b)),
        }
        return results[op]

    if isinstance(left, float) and isinstance(right, float):
        value = apply(left, right)
        if value is None:
            raise Unsupported("a scalar division by zero")
        return value
    if isinstance(left, dict) and isinstance(right, dict):
        keys = sorted(set(left) | set(right))
        pairs = {k: (left.get(k, 0.0), right.get(k, 0.0)) for k in keys}  # missing counts as 0
    elif isinstance(left, dict):
        pairs = {k: (v, float(right)) for k, v in left.items()}  # type: ignore[arg-type]
    else:
        pairs = {k: (float(left), v) for k, v in right.items()}  # type: ignore[union-attr]
    out: Series = {}
    for k, (a, b) in pairs.items():
        value = apply(a, b)
        if value is not None:
            out[k] = value
    return out


def _if(cond: Value, true: Value, false: Value | None) -> Value:
    if isinstance(cond, float):
        if cond:
            return true
        return {} if false is None else false
    out: Series = {}
    for k, c in cond.items():
        if c:
            out[k] = true if isinstance(true, float) else true.get(k, 0.0)
        elif isinstance(false, float):
            out[k] = false
        elif isinstance(false, dict) and k in false:
            out[k] = false[k]
    return out


def evaluate_expression(node: Node, env: Mapping[str, Value], grid: range, fill_absent: bool) -> Value:
    kind = node[0]
    if kind == "num":
        return float(node[1])
    if kind == "ref":
        if node[1] not in env:
            raise Unsupported(f"unknown id {node[1]}")
        return env[node[1]]
    if kind == "neg":
        return _binary("*", -1.0, evaluate_expression(node[1], env, grid, fill_absent))
    if kind == "call":
        name, args = node[1], [evaluate_expression(a, env, grid, fill_absent) for a in node[2]]
        if name == "IF":
            if len(args) not in (2, 3):
                raise Unsupported("IF takes 2 or 3 arguments")
            return _if(args[0], args[1], args[2] if len(args) == 3 else None)
        series, filler = args if len(args) == 2 else (None, None)
        if not isinstance(series, dict) or not isinstance(filler, float):
            raise Unsupported("only FILL(series, number) is implemented")
        if not series and not fill_absent:
            return {}
        return {k: series.get(k, filler) for k in grid}
    left = evaluate_expression(node[1], env, grid, fill_absent)
    right = evaluate_expression(node[2], env, grid, fill_absent)
    return _binary(kind, left, right)


def refs(node: Node) -> list[str]:
    """The ids an expression reads."""
    if node[0] == "ref":
        return [node[1]]
    if node[0] == "num":
        return []
    if node[0] == "call":
        return [r for a in node[2] for r in refs(a)]
    return [r for child in node[1:] for r in refs(child)]


def evaluate_all(
    expressions: Mapping[str, str], env: dict[str, Value], grid: range, fill_absent: bool
) -> dict[str, Value]:
    """Every expression, in dependency order (expressions may use each other, in any order);
    `env` holds the metrics' series by id and gains each result."""
    pending = dict(expressions)
    parsed = {key: Parser(text).parse() for key, text in pending.items()}
    while pending:
        ready = [k for k in pending if set(refs(parsed[k])) <= set(env)]
        if not ready:
            raise Unsupported(f"unresolvable ids in {pending}")
        for key in ready:
            pending.pop(key)
            env[key] = evaluate_expression(parsed[key], env, grid, fill_absent)
    return env
