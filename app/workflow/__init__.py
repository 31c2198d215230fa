"""Workflow operations, one module each: check state, role and lock, then change and record."""
