"""Stage 2, the challenge: the ten-category split, the official challenge set, the metrics,
scoring and aggregation, and challenge-format submissions (write, read, verify)."""
