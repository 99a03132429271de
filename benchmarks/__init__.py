"""Speed and memory benchmarks for :func:`srmlib.spotlight_resonance` (run ``make bench``).

``python -m benchmarks`` prints one table (see :mod:`benchmarks.__main__`). The two slow
"twins" srmlib is timed against live here too: :mod:`benchmarks.reference_srm` (the author's
rotation-matrix algorithm) and :mod:`benchmarks.direct_srm` (all probe inner products at once).
"""
