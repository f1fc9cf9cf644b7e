"""Report periods, builders, renderers and publishing."""
