"""The orchestration layer: runs one batch through the pure stages of ``pipeline/``.

``pipeline/`` holds the stages (fetch, normalize, validate, map, identity, delta,
resolve, load, track) and imports nothing above it; this package is the one place that
puts them in order, talks to the batch's rows, and decides when a batch pauses.

- ``state``: what a batch carries between chunks (counters, checkpoint, stage seconds)
  and the exceptions that end a run early.
- ``session``: the (own, target) transaction pair with the lease check, and the
  progress written with every chunk.
- ``setup``: the entity's spec, parents, children, client and first checkpoint.
- ``chunk``: a chunk's decisions and its ONE write (``ChunkWriter.write_chunk``).
- ``reading``: the batch loop over the API's pages.
- ``parked``: failed-record retries and parked children whose retry is due.
- ``pacing``: night windows and daily portions.
- ``deletes``: what the source no longer has, after a complete read.
- ``batch``: a batch from claim to its end (``run_batch``).

A batch reads its entity's API page by page. Each page goes through the pure stages
and is then loaded and tracked in ONE transaction that also stores the batch's
checkpoint and the entity's cursor, so a crash or a kill at any point loses nothing and
duplicates nothing: a resumed batch starts after the last committed page. The batch row
is locked in every chunk transaction and must still carry this worker's lease.
"""
