"""Salesforce-style record ids: a 3-character key prefix, 12 more characters, and a 3-character
case-safe checksum so that the 18-character form survives case-insensitive systems.

The checksum follows the documented algorithm: each 5-character chunk of the 15-character id gives
a 5-bit number whose bit *j* is set when character *j* is an upper-case letter, looked up in
``A..Z0..5``. Ids are therefore checkable, and a typo is caught as ``MALFORMED_ID`` rather than
silently missing a record.
"""

from __future__ import annotations

import re
import string

_CHECKSUM_ALPHABET = string.ascii_uppercase + "012345"
_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_ID_SHAPE = re.compile(r"^[0-9A-Za-z]{15}(?:[0-9A-Za-z]{3})?$")
_POD = "8d"
"""Two instance-ish characters between the key prefix and the counter, as real ids carry."""


def checksum(id15: str) -> str:
    """The 3-character suffix that makes a 15-character id case-insensitively unique."""
    suffix = ""
    for chunk_start in range(0, 15, 5):
        bits = 0
        for offset, char in enumerate(id15[chunk_start : chunk_start + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << offset
        suffix += _CHECKSUM_ALPHABET[bits]
    return suffix


def to_base62(number: int, width: int) -> str:
    """``number`` in base 62, left-padded with zeros to ``width`` characters."""
    digits = ""
    while number:
        number, remainder = divmod(number, 62)
        digits = _BASE62[remainder] + digits
    return digits.rjust(width, "0")


def make_id(key_prefix: str, counter: int) -> str:
    """The 18-character id of the ``counter``-th record the org creates under ``key_prefix``."""
    id15 = key_prefix + _POD + to_base62(counter, 10)
    return id15 + checksum(id15)


def normalize_id(value: str) -> str | None:
    """The 18-character form of a 15- or 18-character id, or None when ``value`` is not an id
    (wrong length, characters outside ``[0-9A-Za-z]``, or an 18-character id whose checksum does
    not match its first 15 characters)."""
    if not _ID_SHAPE.match(value):
        return None
    id15 = value[:15]
    expected = id15 + checksum(id15)
    if len(value) == 18 and value[15:].upper() != expected[15:]:
        return None
    return expected


def key_prefix_of(record_id: str) -> str:
    """The 3-character key prefix that names the object an id belongs to."""
    return record_id[:3]
