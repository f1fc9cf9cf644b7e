"""SQL-first reporting for Cowrie honeypot logs."""

__version__ = "0.1.0"
