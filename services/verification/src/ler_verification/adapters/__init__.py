"""Adapters: SQL repositories, the event mapping, guarded fetchers with caches, authentication."""
