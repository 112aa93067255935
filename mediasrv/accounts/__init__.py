"""Accounts: organisation units, people, API tokens, web sessions."""
