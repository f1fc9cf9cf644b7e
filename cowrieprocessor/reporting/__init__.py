"""Report building, rendering and publishing."""
