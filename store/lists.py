"""``one_of(column, name)``: ``column`` is one of the values in the list parameter ``name``,
as one bound value. SQLAlchemy's ``in_`` with an expanding parameter rewrites the statement on
every execution (one placeholder per value); this compiles once: ``IN (SELECT value FROM
json_each(?))`` on SQLite (the list sent as JSON) and ``= ANY($1)`` on Postgres (an array)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    BindParameter,
    Boolean,
    ColumnElement,
    Integer,
    String,
    bindparam,
    literal_column,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import TypeDecorator, TypeEngine


class _List(TypeDecorator[Sequence[Any]]):
    """A list parameter: JSON text on SQLite, an array on Postgres."""

    impl = String
    cache_ok = True

    def __init__(self, item: TypeEngine[Any]) -> None:
        super().__init__()
        self.item = item

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(ARRAY(self.item))
        return dialect.type_descriptor(String())

    def process_bind_param(self, value: Sequence[Any] | None, dialect: Dialect) -> Any:
        items = list(value or ())
        return items if dialect.name == "postgresql" else json.dumps(items)


class OneOf(ColumnElement[bool]):
    type = Boolean()
    _is_implicitly_boolean = True  # a condition as it is, never compared with 1
    inherit_cache = True
    _traverse_internals = [  # what the statement cache keys on: compiled once, run often
        ("column", InternalTraversal.dp_clauseelement),
        ("param", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: ColumnElement[Any], param: BindParameter[Any]) -> None:
        self.column = column
        self.param = param


@compiles(OneOf)
def _in_json(element: OneOf, compiler: SQLCompiler, **kw: Any) -> str:
    column, param = compiler.process(element.column, **kw), compiler.process(element.param, **kw)
    return f"{column} IN (SELECT value FROM json_each({param}))"


@compiles(OneOf, "postgresql")
def _any(element: OneOf, compiler: SQLCompiler, **kw: Any) -> str:
    column, param = compiler.process(element.column, **kw), compiler.process(element.param, **kw)
    return f"{column} = ANY({param})"


def one_of(column: ColumnElement[Any], name: str) -> OneOf:
    """``column`` is one of the list bound as ``name`` (strings or integers, as ``column``)."""
    item: TypeEngine[Any] = Integer() if isinstance(column.type, Integer) else String()
    return OneOf(column, bindparam(name, type_=_List(item)))


def any_of(column: ColumnElement[Any], values: Iterable[str]) -> ColumnElement[bool]:
    """``column`` is one of these constants (the code's own words, never input), written into
    the statement: no parameter to expand at each execution."""
    return column.in_([_constant(v) for v in sorted(values)])


def none_of(column: ColumnElement[Any], values: Iterable[str]) -> ColumnElement[bool]:
    return column.not_in([_constant(v) for v in sorted(values)])


def _constant(value: str) -> ColumnElement[Any]:
    if not value.isidentifier():
        raise ValueError(f"not a constant word: {value!r}")
    return literal_column(f"'{value}'")
