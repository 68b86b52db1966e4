"""Lab lifecycle tools: revert to a snapshot (revert.py), stop and start."""
