"""ler_crypto."""
