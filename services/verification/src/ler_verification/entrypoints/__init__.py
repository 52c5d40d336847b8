"""Entrypoints: gRPC servicer, VC-API HTTP routes, Kafka consumers (decode → use case → encode)."""
