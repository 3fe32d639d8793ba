"""A small SOQL interpreter for the Salesforce sandbox.

It covers the subset the connector (and a curious admin) sends: ``SELECT f, ... FROM Obj
[WHERE ...] [ORDER BY f [ASC|DESC], ...] [LIMIT n] [OFFSET n]`` with ``= != < <= > >=``,
``IN`` / ``NOT IN``, ``LIKE``, ``AND`` / ``OR`` / ``NOT`` and parentheses; string, number,
boolean, null, date and datetime literals. Keywords and field names are case-insensitive and
ids compare on their 15-character case-sensitive form, as in Salesforce. Child-to-parent
relationship fields (``Parent.ContactId``, ``CreatedBy.UserType``) work in SELECT, WHERE and
ORDER BY when the caller passes a ``lookup`` that follows references; in the result they come
back nested under the relationship name, as the REST API returns them. Statements longer than
100,000 characters are refused (Salesforce's default SOQL statement limit). Anything else raises
``SoqlError`` with Salesforce's error code (MALFORMED_QUERY, INVALID_FIELD, INVALID_TYPE).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from ..base import as_utc

MAX_CONDITION_DEPTH = 20
# "Maximum length of SOQL statements: by default, 100,000 characters" (Salesforce App Limits
# cheatsheet, SOQL and SOSL limits). The exact error code for a longer statement is not documented
# there; MALFORMED_QUERY is what the query resource answers for statements it refuses to parse.
MAX_SOQL_LENGTH = 100_000


class SoqlError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


_TOKEN = re.compile(r"""
    \s*(?:
      (?P<string>'(?:[^'\\]|\\.)*')
    | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
    | (?P<date>\d{4}-\d{2}-\d{2})
    | (?P<number>-?\d+(?:\.\d+)?)
    | (?P<op><=|>=|!=|<>|=|<|>)
    | (?P<punct>[(),])
    | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
    )""", re.VERBOSE)

KEYWORDS = {"select", "from", "where", "and", "or", "not", "in", "like", "order", "by", "asc", "desc",
            "limit", "offset", "null", "true", "false", "nulls", "first", "last"}


@dataclass(frozen=True)
class Token:
    kind: str
    value: Any
    text: str


@dataclass
class Query:
    fields: list[str]
    sobject: str
    where: Any = None
    order_by: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)
    limit: int | None = None
    offset: int = 0


def tokenize(soql: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    text = soql.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise SoqlError("MALFORMED_QUERY", f"unexpected token near '{text[position:position + 20]}'")
        position = match.end()
        kind = match.lastgroup or ""
        raw = match.group(kind)
        tokens.append(Token(kind, _literal(kind, raw), raw))
    return tokens


def _literal(kind: str, raw: str) -> Any:
    if kind == "string":
        return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), raw[1:-1])
    if kind == "number":
        return float(raw) if "." in raw else int(raw)
    if kind == "datetime":
        return parse_datetime(raw)
    if kind == "date":
        return date.fromisoformat(raw)
    return raw


def parse_datetime(text: str) -> datetime:
    value = text.replace("Z", "+00:00")
    value = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", value)
    parsed = datetime.fromisoformat(value)
    return as_utc(parsed)


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.index = 0

    def peek(self) -> Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def next(self) -> Token:
        token = self.peek()
        if token is None:
            raise SoqlError("MALFORMED_QUERY", "unexpected end of query")
        self.index += 1
        return token

    def keyword(self, *words: str) -> bool:
        token = self.peek()
        if token and token.kind == "word" and token.value.lower() in words:
            self.index += 1
            return True
        return False

    def expect(self, word: str) -> None:
        if not self.keyword(word):
            found = self.peek()
            raise SoqlError("MALFORMED_QUERY", f"expecting '{word.upper()}', found '{found.text if found else 'end'}'")

    def name(self) -> str:
        token = self.next()
        if token.kind != "word" or token.value.lower() in KEYWORDS:
            raise SoqlError("MALFORMED_QUERY", f"expecting a field name, found '{token.text}'")
        return token.value

    def parse(self) -> Query:
        self.expect("select")
        fields = [self.name()]
        while self.peek() and self.peek().text == ",":  # type: ignore[union-attr]
            self.next()
            fields.append(self.name())
        self.expect("from")
        query = Query(fields=fields, sobject=self.name())
        if self.keyword("where"):
            query.where = self.condition(0)
        if self.keyword("order"):
            self.expect("by")
            while True:
                column = self.name()
                descending = self.keyword("desc")
                if not descending:
                    self.keyword("asc")
                if self.keyword("nulls"):
                    self.keyword("first", "last")
                query.order_by.append((column, descending))
                if not (self.peek() and self.peek().text == ","):  # type: ignore[union-attr]
                    break
                self.next()
        if self.keyword("limit"):
            query.limit = self.integer()
        if self.keyword("offset"):
            query.offset = self.integer()
        if self.peek() is not None:
            raise SoqlError("MALFORMED_QUERY", f"unexpected token '{self.peek().text}'")  # type: ignore[union-attr]
        return query

    def integer(self) -> int:
        token = self.next()
        if token.kind != "number" or not isinstance(token.value, int) or token.value < 0:
            raise SoqlError("MALFORMED_QUERY", f"expecting a non-negative integer, found '{token.text}'")
        return token.value

    def condition(self, depth: int) -> Any:
        if depth > MAX_CONDITION_DEPTH:
            raise SoqlError("MALFORMED_QUERY", "condition nests too deeply")
        left = self.term(depth)
        while True:
            if self.keyword("and"):
                left = ("and", left, self.term(depth))
            elif self.keyword("or"):
                left = ("or", left, self.term(depth))
            else:
                return left

    def term(self, depth: int) -> Any:
        if self.keyword("not"):
            return ("not", self.term(depth + 1))
        token = self.peek()
        if token and token.text == "(":
            self.next()
            inner = self.condition(depth + 1)
            if self.next().text != ")":
                raise SoqlError("MALFORMED_QUERY", "missing ')'")
            return inner
        column = self.name()
        if self.keyword("not"):
            self.expect("in")
            return ("notin", column, self.value_list())
        if self.keyword("in"):
            return ("in", column, self.value_list())
        if self.keyword("like"):
            return ("like", column, self.value())
        op = self.next()
        if op.kind != "op":
            raise SoqlError("MALFORMED_QUERY", f"expecting an operator after {column}, found '{op.text}'")
        return ("cmp", op.value.replace("<>", "!="), column, self.value())

    def value_list(self) -> list[Any]:
        if self.next().text != "(":
            raise SoqlError("MALFORMED_QUERY", "expecting '(' after IN")
        values = [self.value()]
        while True:
            token = self.next()
            if token.text == ")":
                return values
            if token.text != ",":
                raise SoqlError("MALFORMED_QUERY", f"expecting ',' or ')', found '{token.text}'")
            values.append(self.value())

    def value(self) -> Any:
        token = self.next()
        if token.kind in ("string", "number", "date", "datetime"):
            return token.value
        if token.kind == "word" and token.value.lower() in ("null", "true", "false"):
            return {"null": None, "true": True, "false": False}[token.value.lower()]
        raise SoqlError("MALFORMED_QUERY", f"expecting a value, found '{token.text}'")


def parse(soql: str) -> Query:
    if len(soql) > MAX_SOQL_LENGTH:
        raise SoqlError("MALFORMED_QUERY", f"SOQL statements cannot be longer than {MAX_SOQL_LENGTH:,} characters "
                                           f"(this one has {len(soql):,}).")
    return _Parser(tokenize(soql)).parse()


# -- evaluation ------------------------------------------------------------------------------
Resolver = Callable[[str], str]  # case-insensitive field name -> canonical name (raises SoqlError)
Lookup = Callable[[Mapping[str, Any], str], Any]  # (record, canonical name, maybe dotted) -> value


def _own_field(record: Mapping[str, Any], name: str) -> Any:
    return record.get(name)


def _is_id_field(name: str) -> bool:
    return name == "Id" or name.endswith("Id")


def _comparable(name: str, value: Any, literal: Any) -> tuple[Any, Any]:
    if value is None or literal is None:
        return value, literal
    if isinstance(literal, datetime) and isinstance(value, str):
        return parse_datetime(value), literal
    if isinstance(literal, date) and not isinstance(literal, datetime) and isinstance(value, str):
        return date.fromisoformat(value[:10]), literal
    if _is_id_field(name) and isinstance(value, str) and isinstance(literal, str):
        return value[:15], literal[:15]
    if isinstance(value, str) and isinstance(literal, str):
        return value.lower(), literal.lower()  # SOQL string comparison is case-insensitive
    return value, literal


def _matches(node: Any, record: Mapping[str, Any], resolve: Resolver, lookup: Lookup) -> bool:
    kind = node[0]
    if kind == "and":
        return _matches(node[1], record, resolve, lookup) and _matches(node[2], record, resolve, lookup)
    if kind == "or":
        return _matches(node[1], record, resolve, lookup) or _matches(node[2], record, resolve, lookup)
    if kind == "not":
        return not _matches(node[1], record, resolve, lookup)
    if kind in ("in", "notin"):
        name = resolve(node[1])
        value = lookup(record, name)
        found = any(_equal(name, value, item) for item in node[2])
        return found if kind == "in" else not found
    if kind == "like":
        name = resolve(node[1])
        value = lookup(record, name)
        pattern = "^" + re.escape(str(node[2])).replace("%", ".*").replace("_", ".") + "$"
        return value is not None and re.match(pattern, str(value), re.IGNORECASE | re.DOTALL) is not None
    _, op, column, literal = node
    name = resolve(column)
    value, other = _comparable(name, lookup(record, name), literal)
    if op == "=":
        return value == other
    if op == "!=":
        return value != other
    if value is None or other is None:
        return False
    try:
        return {"<": value < other, "<=": value <= other, ">": value > other, ">=": value >= other}[op]
    except TypeError as exc:
        raise SoqlError("INVALID_QUERY_FILTER_OPERATOR", f"cannot compare {column} with {literal!r}") from exc


def _equal(name: str, value: Any, literal: Any) -> bool:
    left, right = _comparable(name, value, literal)
    return left == right


def execute(query: Query, records: Sequence[Mapping[str, Any]], resolve: Resolver,
            lookup: Lookup = _own_field) -> list[dict[str, Any]]:
    """Filter, order and cut ``records``; returns the selected fields of each, canonical names.

    A dotted column (``Parent.ContactId``) comes back nested: ``{"Parent": {"attributes": ...,
    "ContactId": ...}}``, or ``{"Parent": None}`` when the reference is empty; ``lookup`` answers
    ``Parent.attributes`` with the parent's type and URL."""
    columns = [resolve(name) for name in query.fields]
    selected = [r for r in records if query.where is None or _matches(query.where, r, resolve, lookup)]
    for column, descending in reversed(query.order_by):
        name = resolve(column)
        # nulls first ascending, last descending (Salesforce's default)
        selected.sort(key=lambda r, n=name: (lookup(r, n) is not None, _sort_key(n, lookup(r, n))),
                      reverse=descending)
    selected = selected[query.offset:]
    if query.limit is not None:
        selected = selected[: query.limit]
    return [_row(record, columns, lookup) for record in selected]


def _row(record: Mapping[str, Any], columns: Sequence[str], lookup: Lookup) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for column in columns:
        if "." not in column:
            row[column] = record.get(column)
            continue
        path = column.split(".")
        target: dict[str, Any] | None = row
        for depth, relationship in enumerate(path[:-1]):
            assert target is not None
            if relationship not in target:
                # the lookup describes the parent record (type and URL) or says the reference is empty
                described = lookup(record, ".".join(path[:depth + 1]) + ".attributes")
                target[relationship] = {"attributes": described} if described is not None else None
            target = target[relationship]
            if target is None:
                break  # an empty reference: the whole relationship is null
        if target is not None:
            target[path[-1]] = lookup(record, column)
    return row


def _sort_key(name: str, value: Any) -> Any:
    if isinstance(value, str):
        return value[:15] if _is_id_field(name) else value.lower()
    if value is None:
        return ""
    return value
