"""Developer tools used by the tests and benchmarks (never by the shipped app)."""
