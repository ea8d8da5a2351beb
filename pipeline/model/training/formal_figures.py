"""The formal-news figures of a checkpoint, for its card and the shipped-model floors.

Sentence sentiment per source and entity sentiment in paragraphs (the product's answer: the entity
output, else the sentence holding the mention) on the authors' dev and test splits, and the contrast
suite (`formal.contrast_suite`: every entity of the dev texts whose entities pull opposite ways).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.model.evaluate import evaluate_entities, evaluate_texts
from pipeline.model.network import NewsModel
from pipeline.model.training.entities import entity_split
from pipeline.model.training.formal import (
    FormalData,
    contrast_suite,
    entity_examples,
    paragraphs,
    sentence_examples,
)

ABOUT = (
    "Authors' splits (whole articles): `dev` is this project's dev figure, `test` is never trained or tuned "
    "on (NewsMTSC: its train file's seeded 10 % is dev, the authors' devtest_mt + devtest_rw files are test). "
    "Sentence sentiment: sentences whose polar expressions agree. Entities in paragraphs: every labelled "
    "target of 2-6-sentence runs of one article (SENTiVENT, SentiFM), scored on its gold span; the answer is "
    "the entity output where it does not abstain, else the sentence holding the mention"
)
CONTRAST_ABOUT = (
    "every entity of the dev texts with a positive and a negative entity: SEntFiN dev headlines, formal dev "
    "sentences and formal dev paragraphs of two seeded cuts"
)


def split_figures(
    model: NewsModel,
    tokenizer: Any,
    data: FormalData,
    split: str,
    seed: int,
    max_length: int,
    threshold: float,
) -> dict[str, Any]:
    """Sentence sentiment (all and per source) and paragraph entity figures of one split."""
    part = data.part(split)
    by_source = evaluate_texts(
        model, tokenizer, sentence_examples(part), "sentiment", max_length, by_source=True
    )
    pars = paragraphs(part, seed)
    return {
        "sentence_sentiment": by_source,
        "paragraph_entity": evaluate_entities(model, tokenizer, entity_examples(pars), max_length, threshold),
    }


def contrast_figures(
    model: NewsModel,
    tokenizer: Any,
    data: FormalData,
    data_dir: Path,
    seed: int,
    max_length: int,
    threshold: float,
) -> dict[str, Any]:
    suite = contrast_suite(data, entity_split(data_dir, seed).dev, seed)
    return {
        "about": CONTRAST_ABOUT,
        "texts": len({e.text for e in suite}),
        "metrics": evaluate_entities(model, tokenizer, suite, max_length, threshold),
    }


def formal_figures(
    model: NewsModel,
    tokenizer: Any,
    data: FormalData,
    data_dir: Path,
    seed: int,
    max_length: int,
    threshold: float,
) -> dict[str, Any]:
    """The card's `formal_news` section (`data`: `formal.load_formal`; `data_dir` for the SEntFiN dev)."""
    return {
        "about": ABOUT,
        "dev": split_figures(model, tokenizer, data, "dev", seed, max_length, threshold),
        "test": split_figures(model, tokenizer, data, "test", seed, max_length, threshold),
        "contrast_suite": contrast_figures(model, tokenizer, data, data_dir, seed, max_length, threshold),
    }
