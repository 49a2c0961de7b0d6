"""Measuring: statistics over repeated timings, and CPU and memory across worker processes."""
