"""Generated from protos/ler/issuance by scripts/gen_protos.py. Do not edit."""
