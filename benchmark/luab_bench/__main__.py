"""``python -m luab_bench`` runs the CLI (also used by ``torchrun -m luab_bench``)."""

from luab_bench.cli import main

if __name__ == "__main__":
    main()
