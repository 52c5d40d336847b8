"""Use cases of the wallet and the unit of work they run in."""
