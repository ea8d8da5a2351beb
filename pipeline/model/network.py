"""`NewsModel`: one Hugging Face encoder pass feeding the topic, sentiment, NER and entity-sentiment heads."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, PreTrainedModel
from transformers.utils import logging as hf_logging

from pipeline.model.casing import NUM_CASING
from pipeline.model.heads import EntityHead, SequenceHead, TokenHead, span_pool
from pipeline.model.labels import LabelMaps


@dataclass(frozen=True)
class NewsModelOutput:
    """Logits of the heads from one forward pass, and the encoder states they were computed from
    (`hidden`), which the entity-sentiment head reuses once entity spans are known."""

    topic_logits: torch.Tensor  # [batch, n_topics]
    sentiment_logits: torch.Tensor  # [batch, n_sentiments]
    ner_logits: torch.Tensor  # [batch, seq, n_tags]
    hidden: torch.Tensor  # [batch, seq, hidden]
    entity_logits: torch.Tensor | None = None  # [n_spans, n_sentiments] when spans were given


class NewsModel(nn.Module):
    """A shared encoder with four heads. Casing enters twice: added to the input embeddings
    (zero-initialised, so the backbone starts unchanged) and concatenated before the NER classifier.
    `entity_head` (sentiment per entity span, same labels as `sentiment`) is None for a checkpoint
    trained without it."""

    def __init__(self, encoder: PreTrainedModel, labels: LabelMaps, casing_dim: int = 16) -> None:
        super().__init__()
        self.encoder = encoder
        self.labels = labels
        hidden = int(encoder.config.hidden_size)
        self.casing_in = nn.Embedding(NUM_CASING, hidden)
        nn.init.zeros_(self.casing_in.weight)
        self.topic_head = SequenceHead(hidden, len(labels.topic))
        self.sentiment_head = SequenceHead(hidden, len(labels.sentiment))
        self.ner_head = TokenHead(hidden, len(labels.ner), casing_dim=casing_dim)
        self.entity_head: EntityHead | None = EntityHead(hidden, len(labels.sentiment))

    @classmethod
    def from_backbone(cls, path: str | Path, labels: LabelMaps, random_init: bool = False) -> NewsModel:
        """Build on a local encoder directory (pretrained weights, or a random init for tests)."""
        config = AutoConfig.from_pretrained(path)
        kwargs = {"add_pooling_layer": False} if config.model_type == "bert" else {}
        if random_init:
            return cls(AutoModel.from_config(config, **kwargs), labels)
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()  # the unused-pooler notice is expected, not news
        try:
            encoder = AutoModel.from_pretrained(path, **kwargs)
        finally:
            hf_logging.set_verbosity(verbosity)
        return cls(encoder, labels)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        casing_ids: torch.Tensor,
        entity_spans: torch.Tensor | None = None,
    ) -> NewsModelOutput:
        """`entity_spans` [N, 3] rows `(batch index, first token, end token)`, if known up front
        (evaluation on gold spans); serving passes the NER head's spans to `entity_logits` instead."""
        embeds = self.encoder.get_input_embeddings()(input_ids) + self.casing_in(casing_ids)
        hidden = self.encoder(inputs_embeds=embeds, attention_mask=attention_mask).last_hidden_state
        return NewsModelOutput(
            topic_logits=self.topic_head(hidden, attention_mask),
            sentiment_logits=self.sentiment_head(hidden, attention_mask),
            ner_logits=self.ner_head(hidden, casing_ids),
            hidden=hidden,
            entity_logits=(
                None if entity_spans is None else self.entity_logits(hidden, attention_mask, entity_spans)
            ),
        )

    def entity_logits(
        self, hidden: torch.Tensor, attention_mask: torch.Tensor, spans: torch.Tensor
    ) -> torch.Tensor | None:
        """Entity-sentiment logits of token spans over already computed encoder states (no encoder
        call); None without an entity head."""
        return None if self.entity_head is None else self.entity_head(hidden, attention_mask, spans)

    def sentence_logits(self, hidden: torch.Tensor, spans: torch.Tensor) -> torch.Tensor:
        """Sentiment logits [N, n_sentiments] of token spans (sentences) over already computed encoder
        states (no encoder call): each span's tokens are mean-pooled and go through the sentiment
        head's classifier, the very weights that score the whole text. `spans` [N, 3] rows
        `(batch index, first token, end token)`."""
        return self.sentiment_head.classify(span_pool(hidden, spans))
