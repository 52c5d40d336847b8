"""Use cases of the verification service and the unit of work they run in."""
