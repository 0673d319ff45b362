"""Analyses that read tensor data: comparing two checkpoints (`compare`), and the pieces it needs.

The chunk sources, worker pool and statistics kernels still live in `core.stats`; `compare`
reads through them rather than copying them.
"""
