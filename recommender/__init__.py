"""The recommender engine: training data access, algorithms, offline evaluation, model artifacts.

Entry points: ``recommender.pipeline`` (evaluate, train), ``recommender.artifacts``
(``save``, ``load_current``) and ``recommender.model.TrainedModel`` (what the API serves).
"""
