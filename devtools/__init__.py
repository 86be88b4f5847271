"""Tools for tests and benchmarks only (a throwaway PostgreSQL, pacing off); not part of the product."""
