"""Randomly damaged copies of a file's bytes, for tests that loading never breaks."""

from __future__ import annotations

import random
from collections.abc import Iterator


def damaged(base: bytes, alphabet: bytes, count: int, seed: int) -> Iterator[bytes]:
    """``count`` copies of ``base``, each with one to five bytes replaced, inserted or deleted."""
    rng = random.Random(seed)
    for _ in range(count):
        raw = bytearray(base)
        for _ in range(rng.randrange(1, 6)):
            at = rng.randrange(len(raw))
            op = rng.randrange(3)
            if op == 0:
                raw[at] = rng.choice(alphabet)
            elif op == 1:
                raw.insert(at, rng.choice(alphabet))
            else:
                del raw[at]
        yield bytes(raw)
