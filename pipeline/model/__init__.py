"""The news model: one encoder, four outputs (topic, sentiment, NER, entity sentiment), and the `Predictor` that serves it."""

from pipeline.model.network import NewsModel, NewsModelOutput
from pipeline.model.predictor import Entity, Prediction, Predictor, load_predictor

__all__ = ["Entity", "NewsModel", "NewsModelOutput", "Prediction", "Predictor", "load_predictor"]
