"""LSNetClassifier: the published ImageNet classifier structure."""
import pytest
import torch

from lsnet_dense.models.classifier import LSNetClassifier
from helpers import random_state_dict


@pytest.mark.parametrize('arch,kind', [('t', 'classification'), ('s', 'classification_distill')])
def test_published_classifier_loads_strictly(arch, kind, reference_shapes):
    shapes = reference_shapes[kind][f'lsnet_{arch}']
    model = LSNetClassifier(arch, distillation=kind.endswith('distill'))
    assert {k: list(v.shape) for k, v in model.state_dict().items()} == shapes
    model.load_state_dict(random_state_dict(shapes), strict=True)


def test_distilled_heads_average_in_eval_and_pair_in_training():
    model = LSNetClassifier('t', num_classes=10, distillation=True)
    x = torch.randn(2, 3, 64, 64)
    logits, logits_dist = model.train()(x)
    assert logits.shape == logits_dist.shape == (2, 10)
    model.eval()
    with torch.no_grad():
        features = model.forward_features(x)
        expected = (model.head(model.forward_head(features, pre_logits=True)) +
                    model.head_dist(model.forward_head(features, pre_logits=True))) / 2
        torch.testing.assert_close(model(x), expected)


def test_switch_to_deploy_keeps_logits(reference_shapes):
    model = LSNetClassifier('t', distillation=True)
    model.load_state_dict(random_state_dict(reference_shapes['classification_distill']['lsnet_t']))
    model.eval()
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        expected = model(x)
        model.switch_to_deploy()
        torch.testing.assert_close(model(x), expected, rtol=1e-4, atol=1e-4)
    assert isinstance(model.head, torch.nn.Linear)


def test_reset_classifier_and_pooled_features():
    model = LSNetClassifier('t').eval()
    model.reset_classifier(0)
    with torch.no_grad():
        assert model(torch.randn(1, 3, 64, 64)).shape == (1, 384)
    assert model.get_classifier() is model.head
