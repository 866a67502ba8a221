"""Figure functions: each takes results and returns a matplotlib Figure (style in report.style)."""
