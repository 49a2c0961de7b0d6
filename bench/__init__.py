"""`make bench`: benchmarks that compare ratios measured side by side in one run."""
