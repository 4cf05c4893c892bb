"""``kgcore.training.losses.ranking_loss``: each loss's value on a tiny score matrix against the formula
computed by hand (with Python floats, not torch), with and without a mask of valid negatives; masked-out
negatives do not count; the self-adversarial weights are constants (no gradient through them); and
``TrainConfig.validate`` refuses unknown losses and impossible combinations."""
from __future__ import annotations

import math

import pytest
import torch

from kgcore.errors import KGError
from kgcore.training.losses import LOSSES, ranking_loss

from .factories import train_config

POS = [2.0, -1.0, 0.5]
NEG = [[1.5, 3.0, -2.0],
       [0.0, -1.0, -4.0],
       [0.25, -0.5, 1.0]]
MASK = [[1.0, 0.0, 1.0],
        [0.0, 1.0, 0.0],
        [1.0, 1.0, 1.0]]
MARGIN = 1.5
TEMPERATURE = 0.7


def _softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def _log_sigmoid(x: float) -> float:
    return -_softplus(-x)


def _valid(mask, i):
    return [k for k in range(len(NEG[i])) if mask is None or mask[i][k] > 0]


def by_hand(loss: str, mask: list[list[float]] | None) -> float:
    """The losses' definitions, one positive and its negatives at a time."""
    rows = range(len(POS))
    if loss in ("margin", "softplus"):
        terms = []
        for i in rows:
            for k in _valid(mask, i):
                p, n = POS[i], NEG[i][k]
                terms.append(max(0.0, MARGIN - p + n) if loss == "margin" else _softplus(-p) + _softplus(n))
        return sum(terms) / len(terms)  # mean over the valid (positive, negative) pairs
    if loss == "softmax":  # cross-entropy of the positive against its valid negatives
        return sum(-POS[i] + math.log(math.exp(POS[i]) + sum(math.exp(NEG[i][k]) for k in _valid(mask, i)))
                   for i in rows) / len(POS)
    # nssa (Sun et al. 2019, eq. 5): softmax(alpha * neg) over the valid negatives weighs their terms.
    total = 0.0
    for i in rows:
        valid = _valid(mask, i)
        z = sum(math.exp(TEMPERATURE * NEG[i][k]) for k in valid)
        total += -_log_sigmoid(MARGIN + POS[i])
        total += -sum(math.exp(TEMPERATURE * NEG[i][k]) / z * _log_sigmoid(-MARGIN - NEG[i][k]) for k in valid)
    return total / len(POS)


def _loss(loss: str, pos, neg, mask=None) -> torch.Tensor:
    config = train_config(loss=loss, margin=MARGIN, adversarial_temperature=TEMPERATURE)
    return ranking_loss(pos, neg, config, None if mask is None else torch.tensor(mask))


def test_every_loss_is_checked_here():
    assert set(LOSSES) == {"margin", "softplus", "nssa", "softmax"}


@pytest.mark.parametrize("masked", [False, True], ids=["all negatives", "masked"])
@pytest.mark.parametrize("loss", LOSSES)
def test_ranking_loss_equals_the_formula_by_hand(loss, masked):
    mask = MASK if masked else None
    value = _loss(loss, torch.tensor(POS, dtype=torch.float64), torch.tensor(NEG, dtype=torch.float64), mask)
    assert value.dtype == torch.float64 and value.shape == ()
    assert float(value) == pytest.approx(by_hand(loss, mask), rel=1e-12)
    # The mask changes the value (it is not ignored), and float32 gives the same within rounding.
    assert by_hand(loss, MASK) != pytest.approx(by_hand(loss, None), rel=1e-3)
    single = _loss(loss, torch.tensor(POS), torch.tensor(NEG), mask)
    assert float(single) == pytest.approx(by_hand(loss, mask), rel=1e-5)


@pytest.mark.parametrize("loss", LOSSES)
def test_masked_negatives_do_not_count_whatever_their_scores(loss):
    """A masked-out negative (a known true triple) changes neither the loss nor any gradient: its own
    gradient is zero and the valid negatives' are those of a batch without it."""
    pos = torch.tensor(POS, dtype=torch.float64)
    grads = []
    for fill in (-5.0, 0.0, 5.0):
        neg = torch.tensor(NEG, dtype=torch.float64)
        neg[torch.tensor(MASK) == 0] = fill
        neg.requires_grad_(True)
        value = _loss(loss, pos, neg, MASK)
        value.backward()
        assert float(value.detach()) == pytest.approx(by_hand(loss, MASK), rel=1e-12)
        assert float(neg.grad[torch.tensor(MASK) == 0].abs().sum()) == 0.0
        grads.append(neg.grad)
    for grad in grads[1:]:
        torch.testing.assert_close(grad, grads[0], rtol=1e-12, atol=1e-15)


def test_nssa_weights_ignore_a_masked_negative_scored_far_above_the_valid_ones():
    """With filtered negatives the masked ones are known true triples, which a trained model scores as
    high as positives. The valid negatives' weights must still sum to one: the loss is that of the valid
    negatives alone (here 3.98; weighing the masked one in the softmax made it come out 1e-4)."""
    config = train_config(loss="nssa", margin=24.0, adversarial_temperature=2.0)
    pos = torch.tensor([-1.0], dtype=torch.float64)
    masked = ranking_loss(pos, torch.tensor([[-1.0, -20.0, -22.0]], dtype=torch.float64), config,
                          torch.tensor([[0.0, 1.0, 1.0]]))
    valid_only = ranking_loss(pos, torch.tensor([[-20.0, -22.0]], dtype=torch.float64), config)
    assert float(valid_only) > 3.9
    assert float(masked) == pytest.approx(float(valid_only), rel=1e-9)


def test_a_row_without_valid_negatives():
    """Every negative of a positive masked (all its corruptions were true triples): margin and softplus
    average over the valid pairs of the batch, softmax and nssa give that row its positive's term only
    (softmax: log(e^p / e^p) = 0; nssa: -log sigmoid(margin + p)); nothing is NaN."""
    mask = [row[:] for row in MASK]
    mask[1] = [0.0, 0.0, 0.0]
    pos, neg = torch.tensor(POS, dtype=torch.float64), torch.tensor(NEG, dtype=torch.float64)
    for loss in LOSSES:
        value = _loss(loss, pos, neg, mask)
        assert bool(torch.isfinite(value)), loss
        assert float(value) == pytest.approx(by_hand(loss, mask), rel=1e-12), loss
    others = [0, 2]
    softmax_rows = [-POS[i] + math.log(math.exp(POS[i]) + sum(math.exp(NEG[i][k]) for k in _valid(mask, i)))
                    for i in others]
    assert float(_loss("softmax", pos, neg, mask)) == pytest.approx(sum(softmax_rows) / 3, rel=1e-12)


def test_self_adversarial_weights_carry_no_gradient():
    """d nssa / d neg_k = w_k * sigmoid(margin + neg_k) / B with w the softmax weights held constant
    (Sun et al.: the weights are not differentiated), and d / d pos_i = -sigmoid(-(margin + pos_i)) / B."""
    pos = torch.tensor(POS, dtype=torch.float64, requires_grad=True)
    neg = torch.tensor(NEG, dtype=torch.float64, requires_grad=True)
    _loss("nssa", pos, neg).backward()
    batch = len(POS)
    for i in range(batch):
        z = sum(math.exp(TEMPERATURE * n) for n in NEG[i])
        for k, n in enumerate(NEG[i]):
            w = math.exp(TEMPERATURE * n) / z
            expected = w / (1 + math.exp(-(MARGIN + n))) / batch
            assert float(neg.grad[i, k]) == pytest.approx(expected, rel=1e-10)
        assert float(pos.grad[i]) == pytest.approx(-1 / (1 + math.exp(MARGIN + POS[i])) / batch, rel=1e-10)


def test_margin_loss_is_zero_once_every_negative_is_a_margin_below():
    pos = torch.tensor([0.0, -1.0])
    neg = torch.tensor([[-1.5, -3.0], [-2.5, -2.5]])
    assert float(_loss("margin", pos, neg)) == 0.0
    assert float(_loss("margin", pos, neg + 0.25)) == pytest.approx((0.25 + 0.25 + 0.25) / 4)


@pytest.mark.parametrize("options, message", [
    ({"loss": "hinge"}, "loss must be one of margin, softplus, nssa, softmax \\(got 'hinge'\\)"),
    ({"negative_mode": "pool"}, "negative mode must be one of corrupt, shared \\(got 'pool'\\)"),
    ({"negative_mode": "shared", "filtered_negatives": True}, "only supported with negative_mode='corrupt'"),
    ({"num_negatives": 0}, "num_negatives .* must be between 1 and"),
    ({"negative_mode": "shared", "num_negatives": 8, "batch_negatives": 9}, "batch_negatives .* between 0 and 8"),
    ({"batch_negatives": 1}, "batch_negatives .* needs negative_mode 'shared'"),
    ({"lr": 0.0}, "learning rate must be above 0"),
])
def test_train_config_refuses_what_the_loop_cannot_do(options, message):
    with pytest.raises(KGError, match=message):
        train_config(**options).validate()
    train_config().validate()
