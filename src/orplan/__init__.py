"""orplan: an operating-room planner (waitlist + staffed sessions -> weekly theatre plan)."""

__version__ = "0.1.0"
