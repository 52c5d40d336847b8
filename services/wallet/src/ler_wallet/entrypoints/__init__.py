"""gRPC servicer, HTTP routes and Kafka consumers of the wallet."""
