"""Generated from protos/ler/wallet/v1 by scripts/gen_protos.py. Do not edit."""
