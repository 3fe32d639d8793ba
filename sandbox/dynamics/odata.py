"""The subset of OData 4.0 query options the Dataverse sandbox understands.

``$filter`` with ``eq ne gt ge lt le``, ``and`` / ``or`` / ``not``, parentheses, string / number /
GUID / datetime / ``null`` / ``true`` / ``false`` literals, the lambda ``nav/any(x:x/prop eq v)`` and
the Dataverse query function ``Microsoft.Dynamics.CRM.In(PropertyName='col',PropertyValues=['a','b'])``
(learn.microsoft.com webapi/reference/in). Like Dataverse, ``In`` takes a column's logical name:
lookups are named ``regardingobjectid``; the OData form ``_regardingobjectid_value`` or an unknown
name is refused (Dataverse: "entity doesn't contain attribute with Name = ..."). Query functions
inside a lambda are not documented, so the sandbox refuses them rather than guess.
``$select``, ``$orderby`` (several keys, ``asc`` / ``desc``), ``$top`` and ``$count``. Anything else
raises ``ODataError`` so the sandbox answers 400 the way Dataverse does, instead of quietly returning
the wrong rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from typing import Any

Row = Mapping[str, Any]
# Resolves a navigation collection (e.g. email_activity_parties) of a row to its related rows.
Navigate = Callable[[Row, str], list[Row]]
Predicate = Callable[[Row], bool]

_TOKEN = re.compile(r"""
    \s*(?:
      (?P<string>'(?:[^']|'')*')
    | (?P<punct>[(),:=\[\]])
    | (?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\b
    | (?P<word>[A-Za-z_][A-Za-z0-9_./]*)
    | (?P<number>-?\d[\d.:TZ+-]*)
    )""", re.X)
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_COMPARE = {"eq", "ne", "gt", "ge", "lt", "le"}
_FUNCTION_PREFIX = "Microsoft.Dynamics.CRM."


class ODataError(ValueError):
    """A query the sandbox (like Dataverse) refuses: answered with 400 and code 0x80060888."""


def parse_datetime(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise ODataError(f"Syntax error at position {position} in $filter expression.")
        out.append(match.group().strip())
        position = match.end()
    return out


class _Parser:
    def __init__(self, text: str, navigate: Navigate, columns: Collection[str] | None, entity: str) -> None:
        self.tokens = _tokens(text)
        self.index = 0
        self.navigate = navigate
        self.columns = columns  # the table's stored column names, to resolve query-function PropertyNames
        self.entity = entity
        self.variables: set[str] = set()

    def peek(self) -> str | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token.lower() != expected):
            raise ODataError(f"Expected '{expected or 'an operand'}' in $filter expression, got '{token}'.")
        self.index += 1
        return token

    def parse(self) -> Predicate:
        predicate = self.parse_or()
        if self.peek() is not None:
            raise ODataError(f"Unexpected '{self.peek()}' in $filter expression.")
        return predicate

    def parse_or(self) -> Predicate:
        left = self.parse_and()
        while (self.peek() or "").lower() == "or":
            self.take()
            right = self.parse_and()
            left = _merged_equalities(left, right) or (lambda a, b: lambda row: a(row) or b(row))(left, right)
        return left

    def parse_and(self) -> Predicate:
        left = self.parse_unary()
        while (self.peek() or "").lower() == "and":
            self.take()
            right = self.parse_unary()
            left = (lambda a, b: lambda row: a(row) and b(row))(left, right)
        return left

    def parse_unary(self) -> Predicate:
        if (self.peek() or "").lower() == "not":
            self.take()
            inner = self.parse_unary()
            return lambda row: not inner(row)
        if self.peek() == "(":
            self.take("(")
            inner = self.parse_or()
            self.take(")")
            return inner
        return self.parse_comparison()

    def parse_comparison(self) -> Predicate:
        name = self.take()
        if name.endswith("/any") and self.peek() == "(":
            return self.parse_any(name[: -len("/any")])
        if name.startswith(_FUNCTION_PREFIX) and self.peek() == "(":
            return self.parse_function(name[len(_FUNCTION_PREFIX):])
        operator = self.take().lower()
        if operator not in _COMPARE:
            raise ODataError(f"Unsupported operator '{operator}' in $filter expression.")
        literal = self.literal(self.take())
        return _comparison(name, operator, literal, self.variables)

    def parse_any(self, navigation: str) -> Predicate:
        self.take("(")
        variable = self.take()
        self.take(":")
        self.variables.add(variable)
        inner = self.parse_or()
        self.variables.discard(variable)
        self.take(")")
        navigate = self.navigate

        def any_related(row: Row) -> bool:
            return any(inner({"__lambda__": related}) for related in navigate(row, navigation))

        return any_related

    def parse_function(self, function: str) -> Predicate:
        if function != "In":
            raise ODataError(f"The query function '{_FUNCTION_PREFIX}{function}' is not supported by the sandbox.")
        if self.variables:
            raise ODataError("Query functions inside a lambda expression are not supported by the sandbox.")
        self.take("(")
        self.take("propertyname")
        self.take("=")
        property_name = self.literal(self.take())
        self.take(",")
        self.take("propertyvalues")
        self.take("=")
        self.take("[")
        values: set[str] = set()
        while self.peek() != "]":
            token = self.take()
            if not token.startswith("'"):
                raise ODataError("PropertyValues must be a list of string literals.")
            values.add(token[1:-1].replace("''", "'").lower())
            if self.peek() == ",":
                self.take(",")
        self.take("]")
        self.take(")")
        if not values:
            raise ODataError("PropertyValues must not be empty.")
        column = self.resolve_column(str(property_name))

        def is_in(row: Row) -> bool:
            value = row.get(column)
            return value is not None and str(value).lower() in values

        return is_in

    def resolve_column(self, name: str) -> str:
        """A column's logical name onto the name rows store it under (lookups as ``_<name>_value``)."""
        if self.columns is None:
            return name
        if not name.startswith("_") and name in self.columns:
            return name
        if f"_{name}_value" in self.columns:
            return f"_{name}_value"
        raise ODataError(f"'{self.entity}' entity doesn't contain attribute with Name = '{name}'.")

    @staticmethod
    def literal(token: str) -> Any:
        lowered = token.lower()
        if token.startswith("'"):
            return token[1:-1].replace("''", "'")
        if lowered == "null":
            return None
        if lowered in ("true", "false"):
            return lowered == "true"
        if _GUID.match(token):
            return token.lower()
        if re.match(r"^\d{4}-\d{2}-\d{2}T", token):
            return parse_datetime(token)
        try:
            return int(token) if re.match(r"^-?\d+$", token) else float(token)
        except ValueError:
            raise ODataError(f"Could not read the literal '{token}' in $filter expression.") from None


class _OneOf:
    """``name eq a or name eq b or ...`` as one set lookup: a batch query names a hundred ids, and
    testing them one comparison at a time made every row cost a hundred (index for issue 14)."""

    def __init__(self, name: str, value_of: Callable[[Row], Any], values: frozenset[Any]) -> None:
        self.name, self.value_of, self.values = name, value_of, values

    def __call__(self, row: Row) -> bool:
        try:
            return self.value_of(row) in self.values
        except TypeError:  # an unhashable column value equals no literal
            return False


def _merged_equalities(left: Predicate, right: Predicate) -> Predicate | None:
    if isinstance(left, _OneOf) and isinstance(right, _OneOf) and left.name == right.name:
        return _OneOf(left.name, left.value_of, left.values | right.values)
    return None


def _comparison(name: str, operator: str, literal: Any, variables: set[str]) -> Predicate:
    head, _, rest = name.partition("/")
    in_lambda = head in variables and rest

    def value_of(row: Row) -> Any:
        source = row.get("__lambda__", row) if in_lambda else row
        value = source.get(rest if in_lambda else name)
        if isinstance(value, str) and isinstance(literal, datetime):
            return parse_datetime(value)
        if isinstance(value, str) and _GUID.match(value):
            return value.lower()
        return value

    if operator == "eq" and isinstance(literal, str | int | bool | float | None):
        return _OneOf(name, value_of, frozenset([literal]))

    def compare(row: Row) -> bool:
        value = value_of(row)
        if operator == "eq":
            return bool(value == literal)
        if operator == "ne":
            return bool(value != literal)
        if value is None or literal is None:
            return False
        try:
            return {"gt": value > literal, "ge": value >= literal, "lt": value < literal,
                    "le": value <= literal}[operator]
        except TypeError:
            raise ODataError(f"Cannot compare '{name}' with {literal!r}.") from None

    return compare


def compile_filter(text: str | None, navigate: Navigate, columns: Collection[str] | None = None,
                   entity: str = "") -> Predicate:
    """``columns`` (stored names of the table's columns) lets query functions check their PropertyName."""
    if not text:
        return lambda row: True
    return _Parser(text, navigate, columns, entity).parse()


def sort_rows(rows: list[Row], orderby: str | None) -> list[Row]:
    if not orderby:
        return rows
    keys = [part.strip().split() for part in orderby.split(",") if part.strip()]
    for key in reversed(keys):  # stable sorts, last key first
        column, descending = key[0], len(key) > 1 and key[1].lower() == "desc"
        rows = sorted(rows, key=lambda row, c=column: (row.get(c) is not None, row.get(c) or ""),
                      reverse=descending)
    return rows


def select_columns(row: Row, select: str | None, always: tuple[str, ...]) -> dict[str, Any]:
    if not select:
        return {k: v for k, v in row.items() if not k.startswith("__")}
    wanted = [c.strip() for c in select.split(",") if c.strip()]
    return {**{c: row.get(c) for c in wanted}, **{c: row.get(c) for c in always}}
