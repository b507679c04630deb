"""Click command groups, one module per feature; cli.py adds each with one line.

Modules here import only click and luab_bench.errors at import time (``--help`` must stay fast).
"""
