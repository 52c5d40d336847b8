def run() -> None:
    raise SystemExit("not yet")
