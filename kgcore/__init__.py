"""kgcore: measure and remove social bias in knowledge graph embeddings.

Pipeline: graph (data) -> models -> train -> evaluate -> bias -> projection; the dashboard draws it.
"""
__version__ = "0.1.0"
