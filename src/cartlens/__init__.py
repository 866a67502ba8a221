"""cartlens: CAR T-cell registry outcome analyses that match R.

Layers (each depends only on the ones before it): ``model`` -> ``ingest`` -> ``derive``
-> ``stats`` -> ``study`` -> ``report`` -> ``cli``. ``results`` and ``errors`` are shared
foundations used by every layer.
"""

__version__ = "0.1.0"
