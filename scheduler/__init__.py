"""The scheduler service: triggers that start executions (Schedule, Flow), each fired exactly once."""
