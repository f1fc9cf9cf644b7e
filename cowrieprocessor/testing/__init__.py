"""Public test helpers: sample Cowrie log generator and fakes."""
