"""The contract test kit for plugin authors (work in progress)."""
