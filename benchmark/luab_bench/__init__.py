"""luab-bench: reproducible benchmark for learning using annotation byproducts (LUAB).

Heavy dependencies (torch, timm) are imported lazily inside the modules that need them so that
``luab-bench --help`` and the pure-Python parts (parsers, signing, leaderboard) start instantly.
"""

__version__ = "0.1.0"
