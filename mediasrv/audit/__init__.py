"""Audit log: who changed what, readable by administrators."""
