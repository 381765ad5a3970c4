"""Read what a warehouse build produced and compare two builds row for row.

The engines return the same values in different Python types (uuid.UUID or str, aware or naive
UTC datetimes, Decimal, int or float), so every value is first brought to one form. Numbers must
agree up to float rounding; everything else exactly. Row order is no part of a table's contents.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from decimal import Decimal

import psycopg

Rows = list[dict[str, object]]

# Numbers agree when they differ by float rounding only (decimals are exact on both engines).
REL_TOLERANCE = 1e-9
ABS_TOLERANCE = 1e-9


def postgres_tables(conninfo: str, schemas: Iterable[str]) -> dict[str, Rows]:
    """Every table and view of `schemas`, as {schema.name: rows}."""
    tables: dict[str, Rows] = {}
    with psycopg.connect(conninfo) as conn:
        names = conn.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_schema = any(%s) order by 1",
            (list(schemas),),
        ).fetchall()
        for (name,) in names:
            cursor = conn.execute(f"select * from {name}")  # names from the catalogue
            columns = [column.name for column in cursor.description]
            tables[name] = [dict(zip(columns, row)) for row in cursor.fetchall()]
    return tables


def normalise(value: object) -> object:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float, Decimal)):
        return float(value)
    return value


def _sort_key(row: Mapping[str, object], columns: list[str]) -> tuple:
    key = []
    for column in columns:
        value = row[column]
        if isinstance(value, float):
            value = round(value, 6)  # equal up to rounding must sort alike
        key.append((value is None, "" if value is None else str(type(value)), value if value is not None else 0))
    return tuple(key)


def _same(left: object, right: object) -> bool:
    if isinstance(left, float) and isinstance(right, float):
        return math.isclose(left, right, rel_tol=REL_TOLERANCE, abs_tol=ABS_TOLERANCE)
    return left == right


def table_differences(expected: Rows, actual: Rows, limit: int = 5) -> list[str]:
    """What differs between two tables (empty when equal): columns, row counts, then rows."""
    if not expected and not actual:
        return []
    expected_columns = sorted(expected[0]) if expected else None
    actual_columns = sorted(actual[0]) if actual else None
    if expected and actual and expected_columns != actual_columns:
        return [f"columns differ: expected {expected_columns}, got {actual_columns}"]
    if len(expected) != len(actual):
        return [f"{len(expected)} rows expected, {len(actual)} found"]
    columns = expected_columns or actual_columns or []
    left = sorted(({k: normalise(v) for k, v in row.items()} for row in expected), key=lambda r: _sort_key(r, columns))
    right = sorted(({k: normalise(v) for k, v in row.items()} for row in actual), key=lambda r: _sort_key(r, columns))
    problems = []
    for want, got in zip(left, right):
        differing = [c for c in columns if not _same(want[c], got[c])]
        if differing:
            problems.append(
                "row differs in " + ", ".join(f"{c}: {want[c]!r} != {got[c]!r}" for c in differing)
                + f" (expected row {want})"
            )
            if len(problems) >= limit:
                break
    return problems

