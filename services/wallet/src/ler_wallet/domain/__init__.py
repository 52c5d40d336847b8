"""The wallet's domain: accounts, held credentials, curation, skills, sharing, consent.

Pure Python (plus ``ler_crypto`` parsing and ``ler_platform.errors``): no grpc, aiokafka or
SQLAlchemy here.
"""
