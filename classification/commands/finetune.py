"""`maebench finetune`: end-to-end fine-tuning (paper Table 9) of a pre-trained ViT on a labelled set."""

from __future__ import annotations

from . import classification_task

TASK = classification_task("finetune")
add_arguments, main = TASK.add_arguments, TASK.main
