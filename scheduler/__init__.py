"""The scheduler service: fires Schedule triggers, each slot exactly once, and runs the other trigger loops."""
