"""Generated from protos/ler/verification/v1 by scripts/gen_protos.py. Do not edit."""
