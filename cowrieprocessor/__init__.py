"""Cowrie honeypot log processing and SQL-first reporting."""
