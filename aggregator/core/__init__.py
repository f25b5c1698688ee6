"""The contract between the aggregator and operator plugins. No I/O, no database, no web."""
