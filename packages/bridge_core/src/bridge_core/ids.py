"""The one place ids are made: UUID v7, generated in Python before insert."""

import os
import sys
import threading
import time
import uuid
from array import array

from uuid_utils import uuid7

# a block's counter: 20 bits, in rand_a's low nibble, rand_a's low byte and the byte
# after the variant bits (RFC 9562 section 6.2, a fixed-length dedicated counter)
BLOCK_LIMIT = 1 << 20
_VERSION_NIBBLE = bytes(0x70 | (b & 0x0F) for b in range(256))
_block_lock = threading.Lock()
_last_block = (0, 0)  # (milliseconds, the next counter value in that millisecond)


def new_id() -> uuid.UUID:
    """Return a new time-ordered UUID v7 as a standard-library UUID."""
    return uuid.UUID(bytes=uuid7().bytes)


def new_id_texts(count: int) -> list[str]:
    """``count`` new UUID v7 in text form (for bulk loads, without building ``UUID`` objects)."""
    return [str(uuid7()) for _ in range(count)]


def new_id_block(count: int) -> bytes:
    """``count`` new UUID v7, 16 bytes each, ascending, made without a Python call per id.

    All share one millisecond timestamp and count up in a 20-bit counter, then 48 random
    bits; a later block of the same process sorts after an earlier one (the counter goes
    on within a millisecond, the timestamp moves on when it would overflow).
    """
    global _last_block
    if not 0 <= count <= BLOCK_LIMIT:
        raise ValueError(f"a block holds up to {BLOCK_LIMIT} ids, not {count}")
    with _block_lock:
        millis = time.time_ns() // 1_000_000
        last_millis, next_counter = _last_block
        start = 0
        if millis <= last_millis:
            millis, start = last_millis, next_counter
            if start + count > BLOCK_LIMIT:
                millis, start = last_millis + 1, 0
        _last_block = (millis, start + count)
    counter = array("I", range(start, start + count))  # at least 3 bytes wide
    if sys.byteorder == "big":
        counter.byteswap()
    raw = counter.tobytes()
    width = counter.itemsize
    ids = bytearray(os.urandom(16 * count))
    for index, byte in enumerate(millis.to_bytes(6, "big")):
        ids[index::16] = bytes((byte,)) * count
    ids[6::16] = raw[2::width].translate(_VERSION_NIBBLE)
    ids[7::16] = raw[1::width]
    ids[8::16] = b"\x80" * count
    ids[9::16] = raw[0::width]
    return bytes(ids)
