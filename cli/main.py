def main() -> None:
    print("conveyor")
