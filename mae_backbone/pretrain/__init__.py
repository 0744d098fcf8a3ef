"""MAE pre-training on the mmengine engine: `run(cfg) -> metrics`, and the `maebench pretrain` command."""
