"""SQL-first reporting for Cowrie honeypot logs."""
