"""Generated from protos/ler/wallet by scripts/gen_protos.py. Do not edit."""
