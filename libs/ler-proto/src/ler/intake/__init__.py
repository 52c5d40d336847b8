"""Generated from protos/ler/intake by scripts/gen_protos.py. Do not edit."""
