"""Task-agnostic run infrastructure shared by every training command: configs with strict overrides,
work dirs and `metrics.json`, and the glue that makes mmengine's runner crash-safe and CPU-friendly."""
