"""The script PyInstaller freezes: the same entry point as the `cmdesk` gui-script."""

import sys

from cmdesk.app import main

if __name__ == "__main__":
    sys.exit(main())
