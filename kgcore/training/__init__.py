"""Training: one loop for every model (``loop``), its losses (``losses``), negative sampling
(``sampling``), row-sparse optimizers (``optimizers``), the fused CPU step (``fused``) and filtered
link-prediction evaluation (``evaluate``).

Nothing is imported here (models import ``optimizers`` and ``fused``, and the loop imports models)."""
