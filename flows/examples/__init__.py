"""Example flows shipped with Lockstep: try them at once with ``/flow start <name>``."""
