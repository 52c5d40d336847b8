"""ler_platform."""
