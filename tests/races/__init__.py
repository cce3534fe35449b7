"""Races: many clients deciding at once, against real service processes and the storage engine."""
