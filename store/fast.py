"""``run(conn, Prepared(statement), params)``: a hot statement compiled once and run straight on
the driver's cursor.

A statement takes a few microseconds to run on SQLite and a fraction of a millisecond on a local
Postgres, and SQLAlchemy's work around each execution (the compiled cache lookup, processing
every parameter, building the result) costs several times the first and about as much as the
second: a resume runs about 25 statements. ``Prepared`` does that work once per statement and
dialect: the SQL, the order of its parameters with their bind processors, the defaults of
columns an insert leaves out, and the result columns with their processors. Types behave exactly
as through SQLAlchemy (its own processors are used: JSON, booleans, floats), the statement runs
in the connection's transaction, and driver errors are raised as SQLAlchemy's (an
``IntegrityError`` is one). The caller gets ``Rows``.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Insert, Select
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.schema import ScalarElementColumnDefault

Params = Mapping[str, Any]
Statement = Select[Any] | UpdateBase
Processor = Callable[[Any], Any] | None


class Rows:
    """What a statement returned: the part of SQLAlchemy's ``Result`` the store uses. Each
    row is a named tuple (``row.status``, ``row._asdict()``, unpacking)."""

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self.rows, self.rowcount = rows, rowcount

    def __iter__(self) -> Iterator[Any]:
        return iter(self.rows)

    def all(self) -> list[Any]:
        return self.rows

    def first(self) -> Any:
        return self.rows[0] if self.rows else None

    def one(self) -> Any:
        if len(self.rows) != 1:
            raise LookupError(f"expected one row, got {len(self.rows)}")
        return self.rows[0]

    def scalar(self) -> Any:
        return self.rows[0][0] if self.rows else None

    def scalars(self) -> list[Any]:
        return [row[0] for row in self.rows]


@dataclass
class _Compiled:
    sql: str
    binds: tuple[tuple[str, Processor], ...]  # the parameters in their positional order
    fixed: Mapping[str, Any]  # parameters with a value of their own (constants, defaults)
    row: Any  # the named tuple class of a returned row (None: returns none)
    impls: tuple[Any, ...]  # the type of each returned column, as the dialect has it
    # the returned columns that have a result processor, as (position, processor), known at
    # the first execution: one may depend on the type the driver reports (Postgres: a float
    # column as float8 or numeric)
    results: tuple[tuple[int, Callable[[Any], Any]], ...] | None = None


class Prepared:
    """A Core statement, compiled once per dialect (per set of columns, for an insert)."""

    def __init__(self, statement: Statement) -> None:
        self.statement = statement
        self._compiled: dict[tuple[str, tuple[str, ...]], _Compiled] = {}

    def compiled(self, dialect: Dialect, keys: tuple[str, ...]) -> _Compiled:
        found = self._compiled.get((dialect.name, keys))
        if found is None:
            found = self._compiled[dialect.name, keys] = self._compile(dialect, keys)
        return found

    def _compile(self, dialect: Dialect, keys: tuple[str, ...]) -> _Compiled:
        statement, fixed = self.statement, {}
        if isinstance(statement, Insert):  # the columns given, and those with a default
            for column in statement.table.columns:
                default = column.default
                if column.key not in keys and isinstance(default, ScalarElementColumnDefault):
                    fixed[column.key] = default.arg
        # as SQLAlchemy does: a parameter named as a column is a value an insert or an
        # update writes to it
        compiled = statement.compile(dialect=dialect, column_keys=[*keys, *fixed])
        names = tuple(compiled.positiontup or ())
        binds = []
        for name in names:
            bind = compiled.binds[name]
            if bind.expanding:
                raise ValueError(f"{name!r} expands per execution: use store.lists.one_of")
            if name not in keys and name not in fixed:
                if bind.required:  # as SQLAlchemy refuses it: a NULL nobody meant
                    raise ValueError(f"no value for the parameter {name!r}")
                fixed[name] = bind.effective_value
            binds.append(bind.type.dialect_impl(dialect).bind_processor(dialect))
        if "POSTCOMPILE" in compiled.string:
            raise ValueError("a parameter rendered per execution: bind it as a value")
        returned = list(statement.exported_columns)
        make: Any = (
            namedtuple("Row", [str(c.key) for c in returned], rename=True) if returned else None
        )
        impls = tuple(c.type.dialect_impl(dialect) for c in returned)
        return _Compiled(compiled.string, tuple(zip(names, binds, strict=True)), fixed, make, impls)


def run(
    conn: Connection, prepared: Prepared, params: Params | Sequence[Params] | None = None
) -> Rows:
    """Run ``prepared`` with ``params`` (one mapping, or a list of them with the same keys: one
    execution each, none if the list is empty) in ``conn``'s transaction."""
    many = params is not None and not isinstance(params, Mapping)
    batch: Sequence[Params] = params if many else [params or {}]  # type: ignore[assignment,list-item]
    if not batch:
        return Rows([], 0)
    dialect = conn.dialect
    keys = batch[0].keys()
    if many and any(p.keys() != keys for p in batch):  # one statement serves them all
        raise ValueError(f"rows with other columns than the first's ({sorted(keys)})")
    compiled = prepared.compiled(dialect, tuple(keys))
    values = [_values(compiled, p) for p in batch]
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        if len(values) > 1:
            cursor.executemany(compiled.sql, values)
            return Rows([], cursor.rowcount)
        cursor.execute(compiled.sql, values[0])
        if compiled.row is None:
            return Rows([], cursor.rowcount)
        return Rows(_rows(compiled, dialect, cursor), cursor.rowcount)
    except dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(
            compiled.sql, None, exc, dialect.loaded_dbapi.Error, hide_parameters=True
        ) from exc
    finally:
        cursor.close()


def _values(compiled: _Compiled, params: Params) -> list[Any]:
    given = {**compiled.fixed, **params} if compiled.fixed else params
    return [given[name] if bind is None else bind(given[name]) for name, bind in compiled.binds]


def _rows(compiled: _Compiled, dialect: Dialect, cursor: Any) -> list[Any]:
    raw = cursor.fetchall()
    make, results = compiled.row, compiled.results
    if results is None:
        kinds = [d[1] for d in cursor.description]
        processors = (
            impl.result_processor(dialect, kind)
            for impl, kind in zip(compiled.impls, kinds, strict=True)
        )
        results = compiled.results = tuple((i, p) for i, p in enumerate(processors) if p)
    if not results:
        return [make._make(r) for r in raw]
    found = []
    for r in raw:
        values = list(r)
        for i, process in results:
            values[i] = process(values[i])
        found.append(make._make(values))
    return found
