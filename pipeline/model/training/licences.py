"""The licence of every file of `../shared/data` a checkpoint may train on (from its README and the
sets' SOURCE.md files), for the model card: some formal-news sets are research-use only."""

from __future__ import annotations

from typing import Final

RESEARCH_USE: Final = "research use only"

LICENCES: Final[dict[str, str]] = {
    "topic/twitter_fin_topic_train.csv": "MIT (zeroshot/twitter-financial-news-topic)",
    "sentiment/twitter_fin_sentiment_train.csv": "MIT (zeroshot/twitter-financial-news-sentiment)",
    "sentiment/sentfin/SEntFiN.csv": "MIT (SEntFiN 1.0, Sinha et al. 2022)",
    "sentiment/semeval2017_task5/SemEval2017Task5Headlines.json": f"{RESEARCH_USE} (SemEval-2017 task 5)",
    "sentiment/fiqa_task1/FiQA_post.json": f"{RESEARCH_USE} (FiQA 2018 task 1)",
    "sentiment/sentivent_implicit/sentivent_implicit.csv": (
        f"no licence stated: {RESEARCH_USE}; article text belongs to its publishers (SENTiVENT, Jacobs & Hoste)"
    ),
    "sentiment/sentifm_en/sentifm-fine-en.csv": (
        f"no licence stated: {RESEARCH_USE}; Financial Times text (SentiFM, Ghent University LT3)"
    ),
    "sentiment/newsmtsc/train.jsonl": "MIT-style (NewsMTSC, Hamborg & Donnay, EACL 2021)",
    "sentiment/newsmtsc/devtest_mt.jsonl": "MIT-style (NewsMTSC; the authors' dev/test: evaluated, never trained on)",
    "sentiment/newsmtsc/devtest_rw.jsonl": "MIT-style (NewsMTSC; the authors' dev/test: evaluated, never trained on)",
    "ner/conll2003/eng.train": f"{RESEARCH_USE} (Reuters text, CoNLL-2003)",
    "ner/conll2003/eng.testa": f"{RESEARCH_USE} (Reuters text, CoNLL-2003; evaluated, never trained on)",
    "ner/wnut17/wnut17train.conll": "CC BY 4.0 (WNUT-17)",
    "ner/wnut17/emerging.dev.conll": "CC BY 4.0 (WNUT-17)",
    "ner/wnut17/emerging.test.annotated": "CC BY 4.0 (WNUT-17)",
    "ner/wikigold/wikigold.conll.txt": "CC BY 4.0 (wikigold)",
    **{f"ner/btc/{p}.conll": "CC BY 4.0 (Broad Twitter Corpus)" for p in "abefgh"},
    "ner/sec_filings/FIN5.txt": "CC BY 3.0 (Alvarado et al. 2015)",
}


def licence(path: str) -> str:
    """The licence of a file under `../shared/data` (relative path); raises for an unlisted file, so a
    new training file cannot reach the card without one."""
    try:
        return LICENCES[path]
    except KeyError:
        raise KeyError(f"[M030] no licence recorded for training file {path!r}: add it to LICENCES") from None
