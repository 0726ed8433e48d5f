"""Folding a detector's or segmenter's LSNet backbone into its inference form."""
import torch.nn as nn


def deploy_model(model: nn.Module) -> nn.Module:
    """Fold the model's backbone into its inference form (:meth:`LSNet.switch_to_deploy`), in
    place, after the trained weights are loaded: the outputs stay those of the eval-mode model.
    """
    backbone = getattr(model, 'backbone', None)
    if not hasattr(backbone, 'switch_to_deploy'):
        raise TypeError(f'deploy needs a backbone with switch_to_deploy() (LSNet), got '
                        f'{type(backbone).__name__}')
    backbone.switch_to_deploy()
    return model
