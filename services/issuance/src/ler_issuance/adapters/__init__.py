"""Adapters: SQL repositories, key vault, protobuf mapping, authentication."""
