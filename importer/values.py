"""Vectorised parsing of text columns: each parser returns the values and a per-row validity mask,
so one bad value rejects its row and the rest of the batch goes on at C speed."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_INT = r"^\s*\d{1,18}\s*$"
_MONEY = r"^\s*\d{1,8}(\.\d+)?\s*$"
_ISO = r"^\s*\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?\s*(Z|z|UTC|[+-]\d{2}(:?\d{2})?)\s*$"


def mask(values: pa.Array) -> np.ndarray:
    return pc.fill_null(values, False).to_numpy(zero_copy_only=False).astype(bool)


def blank(values: pa.Array) -> np.ndarray:
    """True where the value is missing: NULL or only white space."""
    return mask(pc.or_kleene(pc.is_null(values), pc.equal(pc.utf8_trim_whitespace(values), "")))


def text(values: pa.Array) -> pa.Array:
    """Trimmed text, NULL where blank."""
    trimmed = pc.utf8_trim_whitespace(values)
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)


def _matching(values: pa.Array, pattern: str, fill: str) -> tuple[pa.Array, np.ndarray]:
    ok = mask(pc.match_substring_regex(values, pattern))
    return pc.if_else(pa.array(ok), pc.utf8_trim_whitespace(values), fill), ok


def parse_int(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    cleaned, ok = _matching(values, _INT, "0")
    return pc.cast(cleaned, pa.int64()).to_numpy(zero_copy_only=False), ok


def parse_money(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Decimal text -> whole cents (rounded half up), for 0 <= value < 100,000,000."""
    cleaned, ok = _matching(values, _MONEY, "0")
    amount = pc.cast(cleaned, pa.float64()).to_numpy(zero_copy_only=False)
    cents = np.floor(amount * 100 + 0.5 + 1e-9).astype(np.int64)
    return cents, ok & (cents <= 9_999_999_999)


def parse_iso_timestamps(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """ISO 8601 date-times with a zone (Z, +02:00, +0200 or UTC) -> datetime64[us] UTC."""
    cleaned, ok = _matching(values, _ISO, "2000-01-01T00:00:00Z")
    cleaned = pc.replace_substring_regex(cleaned, r"\s*UTC$", "Z")
    cleaned = pc.replace_substring_regex(cleaned, r"\s+(Z|[+-]\d)", r"\1")
    try:
        parsed = pc.cast(cleaned, pa.timestamp("us", tz="UTC"))
        out = parsed.cast(pa.int64()).to_numpy(zero_copy_only=False).astype("datetime64[us]")
    except pa.ArrowInvalid:  # a well-shaped but impossible date: sort the rows out one by one
        out = np.zeros(len(values), dtype="datetime64[us]")
        for i, value in enumerate(cleaned.to_pylist()):
            try:
                moment = datetime.fromisoformat(value.replace("z", "Z"))
                out[i] = np.datetime64(moment.astimezone(timezone.utc).replace(tzinfo=None), "us")
            except (ValueError, TypeError):
                ok[i] = False
    return out, ok


def parse_timestamps(values: pa.Array, fmt: str) -> tuple[np.ndarray, np.ndarray]:
    """Date-times in one strptime format (with %z, or read as UTC) -> datetime64[us] UTC."""
    parsed = pc.strptime(pc.utf8_trim_whitespace(values), format=fmt, unit="us", error_is_null=True)
    ok = mask(pc.is_valid(parsed))
    out = pc.fill_null(parsed.cast(pa.int64()), 0).to_numpy(zero_copy_only=False).astype("datetime64[us]")
    return out, ok


def parse_epoch_ms(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    ms, ok = parse_int(values)
    ok &= (ms > 0) & (ms < 32_503_680_000_000)  # before year 3000
    return (np.where(ok, ms, 0) * 1000).astype("datetime64[us]"), ok
