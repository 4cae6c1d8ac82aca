"""Stage 5, reports: leaderboard tables and exports, significance tests, the HTML report."""
