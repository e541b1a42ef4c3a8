"""Governance: runs and their proposals, approvals, the executor (the one writer), undo, the audit log and recovery."""
