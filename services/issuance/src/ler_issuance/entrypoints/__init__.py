"""Entrypoints: gRPC servicer, Kafka consumer, HTTP routes. They decode, call a use case, encode."""
