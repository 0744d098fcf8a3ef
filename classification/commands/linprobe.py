"""`maebench linprobe`: linear probe (paper Table 10) of a frozen pre-trained ViT."""

from __future__ import annotations

from . import classification_task

TASK = classification_task("linprobe")
add_arguments, main = TASK.add_arguments, TASK.main
