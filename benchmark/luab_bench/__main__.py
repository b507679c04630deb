"""``python -m luab_bench`` runs the CLI (also used by ``torchrun -m luab_bench``).

``python -m`` puts the working directory first on ``sys.path``; it is removed before anything else is
imported, so a stray ``timm.py`` or ``evilmod.py`` next to the user's files is never imported by
accident (issue 17, item 5). Factory modules in the working directory are still importable with the
explicit opt-in (``--allow-code`` / ``--trust-factory``, see ``luab_bench.code_trust``), exactly as with
the ``luab-bench`` console script.
"""

import os
import sys


def _drop_working_directory() -> None:
    """Remove the entry ``-m`` added (``sys.path[0]``); a PYTHONPATH the user set stays."""
    if sys.path and sys.path[0] in ("", ".", os.getcwd()):
        del sys.path[0]


_drop_working_directory()

from luab_bench.cli import main  # noqa: E402 (after the sys.path fix, on purpose)

if __name__ == "__main__":
    main()
