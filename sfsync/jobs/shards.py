"""How accounts are split between workers: a stable hash of the customer id, modulo N.

The hash is BLAKE2b of the customer id's UTF-8 bytes (not Python's ``hash``, which changes per
process), so every worker, beat and reconciler agrees on which shard owns a customer. One shard
task runs per shard per cycle and holds the store lease ``shard:<n>/<N>`` while it writes, so an
account has exactly one writer at a time. Each shard reads the source from its own watermark
stream (``invoices@<n>/<N>``): one shard's failure never lets another shard's success move the
watermark past customers the failed shard did not commit. Changing N starts every shard from no
watermark: a full re-read, which costs reads but writes nothing unchanged.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sfsync.sources.base import INVOICE_STREAM


def shard_of(customer_id: str, shards: int) -> int:
    """The shard (0 … ``shards``-1) that owns ``customer_id``; the same in every process."""
    if shards < 1:
        raise ValueError("the number of shards must be at least 1")
    digest = hashlib.blake2b(customer_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


@dataclass(frozen=True, slots=True)
class Shard:
    """Shard ``index`` of ``count``: the customers one shard task syncs."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(f"shard {self.index} of {self.count} does not exist")

    def includes(self, customer_id: str) -> bool:
        """Whether this shard owns ``customer_id``."""
        return shard_of(customer_id, self.count) == self.index

    @property
    def stream(self) -> str:
        """The watermark stream of this shard's reads."""
        return f"{INVOICE_STREAM}@{self.index}/{self.count}"

    @property
    def lease_key(self) -> str:
        """The store lease a writer of this shard holds."""
        return f"shard:{self.index}/{self.count}"

    @property
    def label(self) -> str:
        """``<n>/<N>``, as it appears in schedule keys and logs."""
        return f"{self.index}/{self.count}"
