"""Destinations: ScheduleHub instances and signed webhooks that changed rows are delivered to."""
