from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

from lsnet_dense.models.deploy import deploy_model


@HOOKS.register_module()
class SwitchToDeployHook(Hook):
    """Fold the backbone into its inference form (``switch_to_deploy``) before testing.

    Runs after the runner loaded the checkpoint, so the folded weights are the trained ones.
    """

    priority = 'VERY_HIGH'

    def before_test(self, runner):
        deploy_model(runner.model.module if is_model_wrapper(runner.model) else runner.model)
