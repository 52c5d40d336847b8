"""Generated from protos/ler/verification by scripts/gen_protos.py. Do not edit."""
