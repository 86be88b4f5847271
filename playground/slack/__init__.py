"""The Slack stand-in: a fake Web API, response URLs, Socket Mode and a signing sender, on loopback."""
