"""``python -m secexkit``: the pvsecret tool; ``python -m secexkit TOOL ...`` for the others.

TOOL is ``pvimg``, ``genprotimg``, ``pvverify``, ``pvattest`` or ``uv`` (the software
ultravisor's ``secexkit-uv``).
"""

from __future__ import annotations

import sys

_TOOLS = ("pvsecret", "pvimg", "genprotimg", "pvverify", "pvattest", "uv", "secexkit-uv")


def main() -> int:
    """Run the tool named by the first argument (``pvsecret`` when none is named)."""
    argv = sys.argv[1:]
    if argv and argv[0] in _TOOLS:
        tool, argv = argv[0], argv[1:]
    else:
        tool = "pvsecret"
    if tool == "pvsecret":
        from .cli.pvsecret import main as run
    elif tool == "pvverify":
        from .cli.pvverify import main as run
    elif tool == "pvattest":
        from .cli.pvattest import main as run
    elif tool in ("uv", "secexkit-uv"):
        from .cli.uvmodel import main as run
    elif tool == "genprotimg":
        from .cli.pvimg import genprotimg_main as run
    else:
        from .cli.pvimg import main as run
    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
