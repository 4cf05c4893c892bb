"""Analysis of trained models: the perturbation bias measure (``measure``) and what is built on it
(``tables``, ``trajectory``, ``aggregate``), the recorded-value association, leakage probes, the what-if
person and 2-D maps."""
from .aggregate import aggregate_bias
from .association import held_out_people, recorded_association
from .measure import BiasResult, measure_bias
from .tables import bias_table, data_vs_model
from .trajectory import PersonTrajectory, person_trajectory

__all__ = ["BiasResult", "PersonTrajectory", "aggregate_bias", "bias_table", "data_vs_model", "held_out_people",
           "measure_bias", "person_trajectory", "recorded_association"]
