"""Generated from protos/ler/intake/v1 by scripts/gen_protos.py. Do not edit."""
