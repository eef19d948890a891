"""Trigger definitions (a flow's `triggers:`): Schedule, Flow and Webhook, plus any plugin's (see `registry`)."""
