"""Unpadded execution of `NewsModel`: the cost follows the real tokens, not batch size x longest text.

The padded forward runs every projection, feed-forward and layer norm on `B x L` positions, most
of them padding when one long text shares a batch with short ones. Here the real tokens of the
batch are stacked as rows `[N, H]` and those layers run on them only (one matmul per weight for the
whole batch); attention, the one step that mixes tokens, runs per group of similar-length texts,
padded within the group and masked. Same numbers as the padded forward within float tolerance
(`tests/unit/model/test_unpadded.py`): a second backend of the same computation, for BERT-family
encoders with absolute positions (`supports`); anything else keeps the padded forward.

    out = forward_unpadded(model, input_ids, attention_mask, casing_ids)   # a NewsModelOutput
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

from pipeline.model.batching import token_budget_batches
from pipeline.model.network import NewsModel, NewsModelOutput

GROUP_TOKENS = 512
"""Padded positions per attention group: groups of a few similar-length texts, so attention wastes
little on padding and the number of small attention calls stays low."""


@dataclass(frozen=True)
class AttentionGroup:
    """Texts attending together: `index` [G, Lg] each position's row in the stacked tokens (past a
    text's end: its first row, masked as a key, its output dropped), `valid` [G, Lg] real positions,
    `rows` = `index[valid]`."""

    index: torch.Tensor
    valid: torch.Tensor
    rows: torch.Tensor


@dataclass(frozen=True)
class Packing:
    """Where the real tokens of a right-padded batch go: `mask` [B, L] real positions (row-major
    order = stacked order), `positions` [N] each token's position in its text, attention `groups`."""

    mask: torch.Tensor
    positions: torch.Tensor
    groups: tuple[AttentionGroup, ...]

    @classmethod
    def of(cls, attention_mask: torch.Tensor, group_tokens: int = GROUP_TOKENS) -> Packing:
        mask = attention_mask.bool()
        lengths = mask.sum(1)
        starts = torch.cumsum(lengths, 0) - lengths
        device = mask.device
        groups = []
        for members in token_budget_batches(lengths.tolist(), group_tokens, max_batch=len(lengths)):
            pick = torch.tensor(members, dtype=torch.long, device=device)
            width = int(lengths[pick].max())
            offset = torch.arange(width, device=device)
            valid = offset < lengths[pick, None]
            index = starts[pick, None] + torch.where(valid, offset, 0)
            groups.append(AttentionGroup(index, valid, index[valid]))
        positions = torch.arange(mask.shape[1], device=device).expand_as(mask)[mask]
        return cls(mask, positions, tuple(groups))


def supports(encoder: nn.Module) -> bool:
    """Whether `encoder` is one `encode` can run: a BERT-family encoder (embeddings + a stack of
    `BertLayer`s) with absolute position embeddings, not a decoder."""
    config = getattr(encoder, "config", None)
    return (
        getattr(config, "model_type", None) == "bert"
        and getattr(config, "position_embedding_type", "absolute") == "absolute"
        and not getattr(config, "is_decoder", False)
        and hasattr(encoder, "embeddings")
        and hasattr(getattr(encoder, "encoder", None), "layer")
    )


def attend(layer: nn.Module, x: torch.Tensor, packing: Packing) -> torch.Tensor:
    """Multi-head self-attention of `layer` (a `BertSelfAttention`) over stacked tokens `x` [N, H],
    each group padded to its longest text and masked; the context rows come back stacked [N, H]."""
    heads, size = layer.num_attention_heads, layer.attention_head_size
    qkv = torch.cat([layer.query(x), layer.key(x), layer.value(x)], dim=-1)  # [N, 3 * heads * size]
    context = x.new_empty((x.shape[0], heads * size))
    for group in packing.groups:
        n, width = group.index.shape
        q, k, v = qkv[group.index].view(n, width, 3, heads, size).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=group.valid[:, None, None, :])
        context[group.rows] = out.transpose(1, 2).reshape(n, width, heads * size)[group.valid]
    return context


def encode(encoder: nn.Module, embeds: torch.Tensor, packing: Packing) -> torch.Tensor:
    """The encoder's last hidden states [N, H] of stacked input embeddings `embeds` [N, H] (word
    pieces plus anything added to them), as `encoder(inputs_embeds=..., attention_mask=...)`
    computes them at the real positions of the padded batch."""
    positions = packing.positions[None]
    x = encoder.embeddings(
        inputs_embeds=embeds[None], position_ids=positions, token_type_ids=torch.zeros_like(positions)
    )[0]
    for layer in encoder.encoder.layer:
        mixed = layer.attention.output(attend(layer.attention.self, x, packing), x)
        x = layer.output(layer.intermediate(mixed), mixed)
    return x


def forward_unpadded(
    model: NewsModel, input_ids: torch.Tensor, attention_mask: torch.Tensor, casing_ids: torch.Tensor
) -> NewsModelOutput:
    """`model(input_ids, attention_mask, casing_ids)` with the encoder and the NER head run on the
    real tokens only. `hidden` and `ner_logits` come back padded [B, L, ...], zero past each text."""
    packing = Packing.of(attention_mask)
    mask = packing.mask
    casing = casing_ids[mask]
    embeds = model.encoder.get_input_embeddings()(input_ids[mask]) + model.casing_in(casing)
    states = encode(model.encoder, embeds, packing)
    hidden = states.new_zeros((*mask.shape, states.shape[-1]))
    hidden[mask] = states
    tags = model.ner_head(states, casing)
    ner = tags.new_zeros((*mask.shape, tags.shape[-1]))
    ner[mask] = tags
    return NewsModelOutput(
        topic_logits=model.topic_head(hidden, attention_mask),
        sentiment_logits=model.sentiment_head(hidden, attention_mask),
        ner_logits=ner,
        hidden=hidden,
    )
