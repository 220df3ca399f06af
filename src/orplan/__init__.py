"""orplan: an operating-room planner. Waitlist + staffed sessions -> optimised weekly theatre plan."""

__version__ = "0.1.0"
