"""Policies: one validated YAML file per workflow, and the engine that routes proposals by it."""
