"""Delivery of changed target rows: the transactional outbox (more to come, ARCHITECTURE §8a)."""
