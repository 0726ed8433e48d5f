from .checkpoint import (adapt_state_dict, extract_backbone_state_dict, load_checkpoint_file,
                         resize_attention_biases, stored_state_dict)

__all__ = ['adapt_state_dict', 'extract_backbone_state_dict', 'load_checkpoint_file',
           'resize_attention_biases', 'stored_state_dict']
