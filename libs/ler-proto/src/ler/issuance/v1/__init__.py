"""Generated from protos/ler/issuance/v1 by scripts/gen_protos.py. Do not edit."""
