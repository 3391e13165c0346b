"""Schedules: run an entity's sync every N seconds or by cron, inside a window, over days."""
