"""The issuance domain: issuers, their keys, achievements, credentials and status lists.

Pure Python: nothing here imports gRPC, Kafka or SQLAlchemy.
"""
