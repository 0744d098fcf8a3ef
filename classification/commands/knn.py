"""`maebench knn`: training-free weighted kNN on frozen features (DINO's protocol: cosine similarity, k nearest
training features vote with weight exp(sim / T); top-1 / top-5 for several k in one pass)."""

from __future__ import annotations

from mae_backbone.runtime.task import Task, data_flag

from . import CONFIG_DIR, PRETRAINED

TASK = Task(
    name="knn",
    default_config=str(CONFIG_DIR / "knn_demo.py"),
    config_keys="classification.knn:CONFIG_KEYS",
    run="classification.knn:run",
    flags=(data_flag("dataset root (format from data.format)"), PRETRAINED),
)
add_arguments, main = TASK.add_arguments, TASK.main
