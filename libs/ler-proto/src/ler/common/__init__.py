"""Generated from protos/ler/common by scripts/gen_protos.py. Do not edit."""
