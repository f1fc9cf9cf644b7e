"""Loading Cowrie logs into the database."""
