"""The Slack door: bolt listeners (one module per feature, each with `register`), request guard,
command parsing and signed list cursors."""
