"""``python -m secexkit``: the pvsecret tool (``python -m secexkit pvimg ...`` for pvimg,
``python -m secexkit pvattest ...`` for pvattest)."""

from __future__ import annotations

import sys


def main() -> int:
    """Run the tool named by the first argument (``pvsecret`` when none is named)."""
    argv = sys.argv[1:]
    if argv and argv[0] in ("pvsecret", "pvimg", "genprotimg", "pvverify", "pvattest"):
        tool, argv = argv[0], argv[1:]
    else:
        tool = "pvsecret"
    if tool == "pvsecret":
        from .cli.pvsecret import main as run
    elif tool == "pvverify":
        from .cli.pvverify import main as run
    elif tool == "pvattest":
        from .cli.pvattest import main as run
    elif tool == "genprotimg":
        from .cli.pvimg import genprotimg_main as run
    else:
        from .cli.pvimg import main as run
    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
