import torch

from pipeline.model.network import NewsModel, NewsModelOutput


def test_one_pass_three_heads_shapes(tiny_model: NewsModel, labels) -> None:
    ids = torch.randint(5, 40, (3, 7))
    mask = torch.ones_like(ids)
    casing = torch.randint(0, 8, (3, 7))
    out = tiny_model(ids, mask, casing)
    assert isinstance(out, NewsModelOutput)
    assert out.topic_logits.shape == (3, len(labels.topic)) == (3, 20)
    assert out.sentiment_logits.shape == (3, 3)
    assert out.ner_logits.shape == (3, 7, len(labels.ner))


def test_padding_does_not_change_sequence_logits(tiny_model: NewsModel) -> None:
    ids = torch.tensor([[2, 10, 11, 3]])
    casing = torch.tensor([[0, 1, 2, 0]])
    a = tiny_model(ids, torch.ones_like(ids), casing)
    padded = torch.cat([ids, torch.zeros((1, 3), dtype=torch.long)], dim=1)
    b = tiny_model(
        padded, (padded != 0).long(), torch.cat([casing, torch.zeros((1, 3), dtype=torch.long)], 1)
    )
    torch.testing.assert_close(a.topic_logits, b.topic_logits, atol=1e-5, rtol=1e-4)


def test_casing_changes_ner_logits(tiny_model: NewsModel) -> None:
    ids = torch.tensor([[2, 10, 3]])
    lower = tiny_model(ids, torch.ones_like(ids), torch.tensor([[0, 1, 0]])).ner_logits
    upper = tiny_model(ids, torch.ones_like(ids), torch.tensor([[0, 2, 0]])).ner_logits
    assert not torch.allclose(lower[0, 1], upper[0, 1])
