"""Allow ``python -m gatekeeper``."""

from gatekeeper.cli import main

if __name__ == "__main__":
    main()
