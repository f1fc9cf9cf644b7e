"""Public test helpers for projects that use cowrieprocessor."""
