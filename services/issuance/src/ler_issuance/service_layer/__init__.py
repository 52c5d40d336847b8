"""Use cases of the issuance service and the unit of work they run in."""
