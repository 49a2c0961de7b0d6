"""Reports: pure functions from records to text, JSON and self-contained HTML."""
