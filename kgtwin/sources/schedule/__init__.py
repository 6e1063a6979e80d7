"""Schedules into the graph: activity files (JSON, CSV, MS Project XML), progress, working calendars."""
