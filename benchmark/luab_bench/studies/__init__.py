"""Recorded studies of the benchmark itself (``luab-bench study ...``); one module per study."""
