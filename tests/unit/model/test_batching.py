from pipeline.model.batching import token_budget_batches


def test_budget_and_bucketing() -> None:
    lengths = [5, 50, 6, 49, 7, 200]
    batches = list(token_budget_batches(lengths, max_tokens=100, max_batch=3))
    assert sorted(i for b in batches for i in b) == list(range(6))
    for b in batches:
        assert len(b) <= 3
        assert len(b) == 1 or len(b) * max(lengths[i] for i in b) <= 100
    assert batches[0] == [0, 2, 4]
    assert batches[-1] == [5]
