"""Benchmarks: side-by-side ratios printed as tables; ``python -m bench`` runs every module's ``main()``."""
