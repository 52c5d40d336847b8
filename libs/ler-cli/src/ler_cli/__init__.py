"""ler_cli."""
