"""Canonicalization: JCS (RFC 8785) and RDF Dataset Canonicalization (RDFC-1.0)."""
