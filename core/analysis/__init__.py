"""Analyses that read tensor data (grown out of core/stats.py): one kernel per module."""
