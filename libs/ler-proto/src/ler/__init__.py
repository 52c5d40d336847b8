"""Generated from protos/ler by scripts/gen_protos.py. Do not edit."""
