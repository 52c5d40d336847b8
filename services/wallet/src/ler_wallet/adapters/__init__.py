"""SQLAlchemy repositories, protobuf mapping, key store, authentication, verification."""
