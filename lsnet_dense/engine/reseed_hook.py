from mmengine.hooks import Hook
from mmengine.registry import HOOKS
from mmengine.runner import set_random_seed


@HOOKS.register_module()
class ReseedHook(Hook):
    """Make every random stream of training a function of (seed, epoch, iteration).

    mmengine restores the model, optimizer, schedulers and data order on ``--resume`` but seeds
    the global generators (python, numpy, torch: augmentations in the main process, drop path)
    as at the start of a run, whereas an uninterrupted run has consumed them for the epochs
    before. Reseeding at each epoch start and after each iteration gives an uninterrupted and a
    resumed run the same streams from the resume point on. Worker processes of the data loader
    seed themselves (mmengine's ``worker_init_fn``) and are not reached from here.

    The toolkit's configs set it as ``default_hooks.reseed``.
    """

    priority = 'VERY_HIGH'

    def before_train_epoch(self, runner):
        # Epoch starts are keyed apart from iteration numbers by a large offset.
        set_random_seed(runner.seed + 1_000_003 * (runner.epoch + 1))

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        set_random_seed(runner.seed + runner.iter)
