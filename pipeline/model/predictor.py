"""`Predictor`: preprocess -> forward -> postprocess, batch in / batch out, never raising per item.

p = load_predictor()                     # shipped checkpoint, best device
preds = p.predict(["Fed signals rate cut as Apple shares slide"])
preds[0].topic, preds[0].sentiment, preds[0].entities[0].ticker, preds[0].entities[0].sentiment

Entity sentiment comes from the same encoder pass: `_score` keeps the batch's hidden states, decodes
the NER spans, and applies the entity head to those states (`NewsModel.entity_logits`); where it
abstains, the sentiment head scores the sentence holding the mention from the same states
(`NewsModel.sentence_logits`, `Entity.sentiment_source` says which).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from pipeline.cashtags import cashtags
from pipeline.model import unpadded
from pipeline.model.batching import token_budget_batches
from pipeline.model.bio import decode_spans
from pipeline.model.checkpoint import LoadedModel, load_model
from pipeline.model.quantize import quantize_int8
from pipeline.model.sentences import sentence_of, sentence_spans
from pipeline.model.text import MAX_CHARS, mask_text
from pipeline.model.tickers import Gazetteer, default_gazetteer
from pipeline.model.tokens import Tokenized, collate, tokenize
from schemas import sentiment_score

log = logging.getLogger(__name__)
FALLBACK_TOPIC = "General News | Opinion"


@dataclass(frozen=True)
class Entity:
    """A named entity; `start`/`end` are char offsets into the input text (`text == input[start:end]`).
    `sentiment`/`sentiment_probs`: the model's sentiment towards it, and `sentiment_source` which
    output gave it: `entity`, the entity head's own (its top probability reaches the checkpoint's
    threshold), else `sentence`, the sentiment head on the sentence holding the mention (pooled from
    the same encoder states). None where neither exists: span past truncation, or the three-output
    mode / a checkpoint without an entity head."""

    text: str
    label: str
    start: int
    end: int
    score: float
    ticker: str | None = None
    sentiment: str | None = None
    sentiment_probs: dict[str, float] | None = None
    sentiment_source: Literal["entity", "sentence"] | None = None

    @property
    def sentiment_score(self) -> float | None:
        """p(positive) - p(negative), None where the entity has no sentiment."""
        if self.sentiment_probs is None:
            return None
        return sentiment_score(self.sentiment_probs)


@dataclass(frozen=True)
class Prediction:
    """What the model says about one text. `sentiment_score` = p(positive) - p(negative), in [-1, 1].
    `flags` explain low-confidence or partial results: empty (no letters or digits once links and
    control characters are blanked), not_text, unsupported_language (mostly non-Latin letters),
    truncated (only the title + lead was read), error."""

    topic: str
    topic_score: float
    sentiment: str
    sentiment_probs: dict[str, float]
    sentiment_score: float
    entities: list[Entity] = field(default_factory=list)
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class BatchOutput:
    """`Predictor.forward` of one batch: topic [B, T], sentiment [B, S], NER [B, L, N] probabilities,
    and the encoder states (`hidden`, `attention_mask`) kept for the entity head."""

    topic: np.ndarray
    sentiment: np.ndarray
    ner: np.ndarray
    hidden: torch.Tensor
    attention_mask: torch.Tensor


@dataclass
class _Item:
    text: str
    tokens: Tokenized | None
    flags: tuple[str, ...]


def token_span(offsets: Sequence[tuple[int, int]], start: int, end: int) -> tuple[int, int] | None:
    """(first, end) token indices of the content tokens overlapping chars [start, end); None if no
    token does (e.g. the span lies past truncation)."""
    hit = [j for j, (s, e) in enumerate(offsets) if e > s and s < end and start < e]
    return (hit[0], hit[-1] + 1) if hit else None


def abstain(probs: np.ndarray, names: Sequence[str], below: float) -> str | None:
    """The top class, or None (abstain) when its probability is below `below`."""
    k = int(probs.argmax())
    return names[k] if float(probs[k]) >= below else None


def latin_share(text: str) -> float:
    """Share of letters that are ASCII; 1.0 for texts without letters."""
    letters = [c for c in text if c.isalpha()]
    return sum(c.isascii() for c in letters) / len(letters) if letters else 1.0


class Predictor:
    """Runs a loaded checkpoint on batches of texts."""

    def __init__(
        self,
        loaded: LoadedModel,
        device: str | torch.device | None = None,
        quantize: bool = False,
        max_tokens: int = 16_384,
        max_batch: int = 64,
        gazetteer: Gazetteer | None = None,
        unpadded_forward: bool | None = None,
    ) -> None:
        """`unpadded_forward`: run the encoder on the real tokens only (`pipeline.model.unpadded`);
        None = on CPU where the encoder supports it (a GPU keeps the padded forward, not measured)."""
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.labels = loaded.model.labels
        self.tokenizer = loaded.tokenizer
        self.max_length = loaded.spec.max_length
        self.model_version: str = str(loaded.card.get("model_version", "unversioned"))
        self.max_tokens, self.max_batch = max_tokens, max_batch
        self.entity_abstain_below = loaded.spec.entity_abstain_below
        self.entity_sentiment = loaded.model.entity_head is not None
        """Whether `predict` fills entity sentiment (False = the three-output model, e.g. to benchmark)."""
        self.gazetteer = gazetteer if gazetteer is not None else default_gazetteer()
        model = loaded.model.eval()
        self.dtype = torch.float32
        if self.device.type == "cuda":
            self.dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
            model = model.to(self.device, dtype=self.dtype)
        elif quantize:
            if not loaded.card.get("int8_cpu", {}).get("within_1_point", False):
                log.warning("int8 quantization requested but the model card does not clear it (1-point rule)")
            model = quantize_int8(model)
        self.quantized = quantize and self.device.type == "cpu"
        self.model_version = numerics_version(self.model_version, self.dtype, self.quantized)
        self.model = model
        self.pad_id = int(self.tokenizer.pad_token_id or 0)
        supported = unpadded.supports(model.encoder)
        if unpadded_forward and not supported:
            raise ValueError(f"[M023] the unpadded forward does not support a {type(model.encoder).__name__} encoder")
        self.unpadded = supported and self.device.type == "cpu" if unpadded_forward is None else unpadded_forward
        """Whether `forward` runs the encoder on the real tokens only (else on the padded batch)."""

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """One `Prediction` per text, in order. An input that cannot be scored gets the flagged
        `fallback` (its flags say why: callers must not store it as a prediction); an error while
        scoring raises."""
        items = self.preprocess(texts)
        results: list[Prediction | None] = [None] * len(items)
        ready = [i for i, it in enumerate(items) if it.tokens is not None]
        lengths = [len(items[i].tokens.input_ids) for i in ready]  # type: ignore[union-attr]
        for batch in token_budget_batches(lengths, self.max_tokens, self.max_batch):
            idx = [ready[b] for b in batch]
            for i, pred in zip(idx, self._run([items[i] for i in idx]), strict=False):
                results[i] = pred
        return [
            r if r is not None else self.fallback(items[i].flags or ("empty",)) for i, r in enumerate(results)
        ]

    def preprocess(self, texts: Sequence[object]) -> list[_Item]:
        """Validate and tokenize; texts that cannot be scored keep `tokens=None` and say why in flags."""
        items = [self._check(t) for t in texts]
        todo = [it for it in items if not it.flags]
        try:
            toks = tokenize(self.tokenizer, [it.text for it in todo], self.max_length)
        except Exception:  # noqa: BLE001 - fall back to one at a time so one text cannot spoil the batch
            toks = [self._tokenize_one(it.text) for it in todo]
        for it, tok in zip(todo, toks, strict=False):
            if tok is None:
                it.flags = ("error",)
            elif tok.content_tokens == 0:
                it.flags = ("empty",)
            else:
                it.tokens = tok
                if len(it.text) > MAX_CHARS or len(tok.input_ids) >= self.max_length:
                    it.flags = ("truncated",)
        return items

    def forward(self, tokens: Sequence[Tokenized]) -> BatchOutput:
        """One encoder pass over a batch: class probabilities as float32 numpy, plus the encoder
        states the entity head reads afterwards."""
        enc = collate(tokens, self.pad_id).to(self.device)
        with torch.inference_mode():
            if self.unpadded:
                out = unpadded.forward_unpadded(self.model, enc.input_ids, enc.attention_mask, enc.casing_ids)
            else:
                out = self.model(enc.input_ids, enc.attention_mask, enc.casing_ids)
            return BatchOutput(
                topic=torch.softmax(out.topic_logits.float(), -1).cpu().numpy(),
                sentiment=torch.softmax(out.sentiment_logits.float(), -1).cpu().numpy(),
                ner=torch.softmax(out.ner_logits.float(), -1).cpu().numpy(),
                hidden=out.hidden,
                attention_mask=enc.attention_mask,
            )

    def postprocess(
        self,
        item: _Item,
        topic: np.ndarray,
        sentiment: np.ndarray,
        ner: np.ndarray,
        entities: list[Entity] | None = None,
    ) -> Prediction:
        assert item.tokens is not None
        t = int(topic.argmax())
        s = int(sentiment.argmax())
        probs = {name: float(p) for name, p in zip(self.labels.sentiment, sentiment, strict=False)}
        return Prediction(
            topic=self.labels.topic[t],
            topic_score=float(topic[t]),
            sentiment=self.labels.sentiment[s],
            sentiment_probs=probs,
            sentiment_score=sentiment_score(probs),
            entities=entities if entities is not None else self.entities(item.text, item.tokens, ner),
            flags=item.flags,
        )

    def entity_sentiments(
        self,
        entities: Sequence[list[Entity]],
        tokens: Sequence[Tokenized],
        out: BatchOutput,
        texts: Sequence[str],
    ) -> list[list[Entity]]:
        """Each entity with its sentiment from the batch's encoder states (no encoder call): the
        entity head's own where it does not abstain, else the sentence's that holds the mention."""
        labelled = [list(ents) for ents in entities]
        if not self.entity_sentiment:
            return labelled
        spans = {
            (b, k): span
            for b, (ents, tok) in enumerate(zip(entities, tokens, strict=True))
            for k, e in enumerate(ents)
            if (span := token_span(tok.offsets, e.start, e.end)) is not None
        }
        own = self._entity_probs(spans, out)
        names = self.labels.sentiment
        for (b, k), p in own.items():
            if (label := abstain(p, names, self.entity_abstain_below)) is not None:
                labelled[b][k] = _with_sentiment(labelled[b][k], label, p, names, "entity")
        pending = [(b, k) for b, k in spans if labelled[b][k].sentiment is None]
        for (b, k), p in self._sentence_probs(pending, labelled, tokens, texts, out).items():
            labelled[b][k] = _with_sentiment(labelled[b][k], names[int(p.argmax())], p, names, "sentence")
        return labelled

    def _entity_probs(
        self, spans: dict[tuple[int, int], tuple[int, int]], out: BatchOutput
    ) -> dict[tuple[int, int], np.ndarray]:
        """The entity head's probabilities per (text, entity) over the kept states; {} without a head."""
        if not spans:
            return {}
        rows = [(b, lo, hi) for (b, _), (lo, hi) in spans.items()]
        index = torch.tensor(rows, dtype=torch.long, device=self.device)
        with torch.inference_mode():
            logits = self.model.entity_logits(out.hidden, out.attention_mask, index)
        if logits is None:
            return {}
        return dict(zip(spans, torch.softmax(logits.float(), -1).cpu().numpy(), strict=True))

    def _sentence_probs(
        self,
        wanted: Sequence[tuple[int, int]],
        entities: Sequence[list[Entity]],
        tokens: Sequence[Tokenized],
        texts: Sequence[str],
        out: BatchOutput,
    ) -> dict[tuple[int, int], np.ndarray]:
        """Sentiment probabilities of the sentence holding each wanted (text, entity) mention: the
        sentiment head on the sentence's tokens pooled from the kept states; a text of one sentence
        is its sentence (its own probabilities). Left out where the sentence lies past truncation."""
        found: dict[tuple[int, int], np.ndarray] = {}
        rows: dict[tuple[int, int, int], list[tuple[int, int]]] = {}
        sentences = {b: sentence_spans(texts[b]) for b, _ in wanted}
        for b, k in wanted:
            spans = sentences[b]
            if len(spans) <= 1:
                found[(b, k)] = out.sentiment[b]
                continue
            hit = token_span(tokens[b].offsets, *spans[sentence_of(spans, entities[b][k].start)])
            if hit is not None:
                rows.setdefault((b, *hit), []).append((b, k))
        if rows:
            index = torch.tensor(list(rows), dtype=torch.long, device=self.device)
            with torch.inference_mode():
                logits = self.model.sentence_logits(out.hidden, index)
            probs = torch.softmax(logits.float(), -1).cpu().numpy()
            for mentions, p in zip(rows.values(), probs, strict=True):
                found |= dict.fromkeys(mentions, p)
        return found

    def entities(self, text: str, tokens: Tokenized, ner: np.ndarray) -> list[Entity]:
        """Decoded spans, trimmed of surrounding whitespace, linked to tickers; uncovered cashtags
        become ORG entities of their own."""
        spans = decode_spans(ner[: len(tokens.input_ids)], tokens.offsets, tokens.word_ids, self.labels.ner)
        tags = [c for c in cashtags(text[:MAX_CHARS])]
        out: list[Entity] = []
        for sp in spans:
            tag = next((c for c in tags if c.start < sp.end and sp.start < c.end), None)
            surface = text[sp.start : sp.end]
            ticker = (
                tag.symbol
                if tag
                else (self.gazetteer.lookup(surface) if sp.label in ("ORG", "MISC") else None)
            )
            out.append(Entity(surface, sp.label, sp.start, sp.end, sp.score, ticker))
        for c in tags:
            if not any(e.start < c.end and c.start < e.end for e in out):
                out.append(Entity(text[c.start : c.end], "ORG", c.start, c.end, 1.0, c.symbol))
        return sorted(out, key=lambda e: e.start)

    def fallback(self, flags: tuple[str, ...]) -> Prediction:
        """The defined low-confidence result: uniform sentiment, score 0, no entities."""
        topic = FALLBACK_TOPIC if FALLBACK_TOPIC in self.labels.topic else self.labels.topic[0]
        n = len(self.labels.sentiment)
        sentiment = "neutral" if "neutral" in self.labels.sentiment else self.labels.sentiment[0]
        return Prediction(topic, 0.0, sentiment, {k: 1.0 / n for k in self.labels.sentiment}, 0.0, [], flags)

    def _run(self, batch: list[_Item]) -> list[Prediction]:
        """Score a batch. A failure raises, never turns into a fallback that looks like a result:
        the caller (`pipeline.enrichment`) isolates the failing items and dead-letters them."""
        return self._score(batch)

    def _score(self, batch: list[_Item]) -> list[Prediction]:
        tokens = [it.tokens for it in batch]
        out = self.forward(tokens)  # type: ignore[arg-type]
        found = [self.entities(it.text, it.tokens, out.ner[k]) for k, it in enumerate(batch)]  # type: ignore[arg-type]
        found = self.entity_sentiments(found, tokens, out, [it.text for it in batch])  # type: ignore[arg-type]
        return [
            self.postprocess(it, out.topic[k], out.sentiment[k], out.ner[k], found[k])
            for k, it in enumerate(batch)
        ]

    def _check(self, text: object) -> _Item:
        if isinstance(text, bytes):
            text = text.decode("utf-8", errors="replace")
        if not isinstance(text, str):
            return _Item("", None, ("not_text",))
        visible = mask_text(text)
        if not any(c.isalnum() for c in visible):
            return _Item(text, None, ("empty",))
        if latin_share(visible) < 0.5:
            return _Item(text, None, ("unsupported_language",))
        return _Item(text, None, ())

    def _tokenize_one(self, text: str) -> Tokenized | None:
        try:
            return tokenize(self.tokenizer, [text], self.max_length)[0]
        except Exception:  # noqa: BLE001
            return None


def _with_sentiment(
    entity: Entity, label: str, probs: np.ndarray, names: Sequence[str], source: Literal["entity", "sentence"]
) -> Entity:
    named = {n: float(v) for n, v in zip(names, probs, strict=True)}
    return replace(entity, sentiment=label, sentiment_probs=named, sentiment_source=source)


def numerics_version(version: str, dtype: torch.dtype, quantized: bool) -> str:
    """`version` plus what changes the numbers: `+int8` (dynamic quantization), `+bf16`/`+fp16`
    (half precision on a GPU); full-precision float32 keeps the checkpoint's version as it is.
    Results of different numerics are then stored side by side, never mixed under one version."""
    if quantized:
        return f"{version}+int8"
    if dtype != torch.float32:
        return f"{version}+{_DTYPE_TAGS.get(dtype, str(dtype).removeprefix('torch.'))}"
    return version


_DTYPE_TAGS = {torch.bfloat16: "bf16", torch.float16: "fp16"}


def load_predictor(
    path: str | Path | None = None,
    device: str | None = None,
    threads: int | None = None,
    quantize: bool = False,
) -> Predictor:
    """A `Predictor` on a checkpoint dir (None = the shipped default) and device (None = best)."""
    if threads:
        torch.set_num_threads(threads)
    return Predictor(load_model(Path(path) if path else None), device=device, quantize=quantize)
