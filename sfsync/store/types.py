"""Column types that behave the same on SQLite and PostgreSQL.

Two facts differ between the dialects and would otherwise leak into the sync engine:

* SQLite has no timestamp-with-time-zone; it hands back naive datetimes. :class:`UTCDateTime`
  stores UTC on both and always returns aware UTC datetimes, and refuses naive input so a local
  wall-clock time can never be mistaken for UTC.
* SQLite keeps NUMERIC values as 64-bit floats (15 significant digits). :class:`Money` stores
  whole cents in an INTEGER on SQLite and NUMERIC(18, 2) on PostgreSQL, so amounts round-trip as
  exact :class:`~decimal.Decimal` on both, and refuses floats and sub-cent values instead of
  rounding them silently.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, DateTime, Dialect, Numeric
from sqlalchemy.types import TypeDecorator, TypeEngine

MONEY_PRECISION = 18
MONEY_SCALE = 2
_CENT = Decimal("0.01")
_MONEY_LIMIT = Decimal(10) ** (MONEY_PRECISION - MONEY_SCALE)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp stored in UTC; naive datetimes are refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}: {value!r}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} refused: pass an aware UTC time")
        utc = value.astimezone(UTC)
        # SQLite stores text without an offset; every stored value is UTC, so drop the marker.
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(
        self,
        value: datetime | None,
        dialect: Dialect,  # noqa: ARG002 - the signature is SQLAlchemy's; both dialects alike
    ) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def to_money(value: object) -> Decimal:
    """Check that ``value`` is an exact amount of money and return it with two decimals.

    Floats are refused (they cannot hold most cent amounts exactly), as are NaN, infinities,
    fractions of a cent and amounts beyond NUMERIC(18, 2).
    """
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"money must be a Decimal or int, got {type(value).__name__}: {value!r}")
    amount = Decimal(value)
    if not amount.is_finite():
        raise ValueError(f"money must be finite, got {amount}")
    quantized = amount.quantize(_CENT)
    if quantized != amount:
        raise ValueError(f"money {amount} has fractions of a cent; round it before storing")
    if abs(quantized) >= _MONEY_LIMIT:
        raise ValueError(f"money {amount} exceeds NUMERIC({MONEY_PRECISION}, {MONEY_SCALE})")
    return quantized


class Money(TypeDecorator[Decimal]):
    """An exact amount: NUMERIC(18, 2) on PostgreSQL, integer cents on SQLite."""

    impl = Numeric(MONEY_PRECISION, MONEY_SCALE)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(MONEY_PRECISION, MONEY_SCALE))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Decimal | int | None:
        if value is None:
            return None
        amount = to_money(value)
        if dialect.name == "sqlite":
            return int(amount.scaleb(MONEY_SCALE))
        return amount

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return Decimal(int(value)).scaleb(-MONEY_SCALE).quantize(_CENT)
        return Decimal(value).quantize(_CENT)
