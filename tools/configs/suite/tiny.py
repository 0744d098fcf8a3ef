# The end-to-end test's suite (tests/suite): the `tiny` demo world, 64 px, one epoch per stage. It checks
# that every stage runs and every report cell is filled from a real run, not any accuracy.
_base_ = "./demo.py"
work_dir = "work_dirs/suite_tiny"
data = dict(demo=dict(root="work_dirs/demo_data_tiny", size="tiny", seed=0))
pretrain = dict(overrides=["model.img_size=64", "data.batch_size=8", "data.num_workers=0", "schedule.epochs=1",
                           "schedule.warmup_epochs=1", "schedule.checkpoint_interval=1", "schedule.log_interval=1",
                           "optim.precision='fp32'"])
_cls = ["model.img_size=64", "data.batch_size=8", "data.eval_batch_size=16", "data.num_workers=0",
        "schedule.epochs=1", "schedule.warmup_epochs=0", "schedule.checkpoint_interval=1", "schedule.log_interval=1",
        "optim.precision='fp32'"]
protocols = dict(
    finetune=dict(overrides=_cls),
    linprobe=dict(overrides=_cls),
    finetune_1pct=dict(overrides=_cls + ["data.batch_size=2"]),  # the tiny world: at least one image per class
    finetune_10pct=dict(overrides=_cls + ["data.batch_size=2"]),  # 10% of the tiny world: 6 images
    knn=dict(overrides=["model.img_size=64", "data.batch_size=16", "data.num_workers=0"]),
    partial=dict(overrides=_cls, flags=dict(blocks="mlp,1")),
    inat=dict(overrides=_cls + ["data.format='inat'", "data.year=2019"]),
    places=dict(overrides=_cls + ["data.format='places'", "data.version=365"]),
    detect=dict(overrides=["data.image_size=64", "data.batch_size=2", "data.num_workers=0", "model.window_size=4",
                           "optim.precision='fp32'", "schedule.iters=2", "schedule.warmup_iters=1",
                           "schedule.checkpoint_interval=2", "schedule.log_interval=1"]),
    segment=dict(overrides=["data.crop_size=64", "test.crop_size=64", "test.stride=43", "data.batch_size=4",
                            "data.num_workers=0", "optim.precision='fp32'", "schedule.warmup_iters=2",
                            "schedule.iters=4", "schedule.log_interval=1", "schedule.checkpoint_interval=4"]),
    robustness=dict(overrides=["batch_size=16", "num_workers=0", "img_size=128"]),  # IN-C is 128 px here
)
report = dict(visualize=True, num_images=2)
# a per-backbone recipe on the fine-tune (merged into demo.py's), so that the tests see one win over the shared
# overrides, reach the report's recipe line and, when edited, redo exactly its stage
backbones = dict(mae=dict(overrides=dict(finetune=["optim.blr=1e-2"])))
# Held-out recipe sweeps (tools/suite/config.py): none here, so that `sweep=...` / `sweep_holdout=...` can be
# given as overrides (tests/suite/test_sweep_stages.py sweeps the scratch fine-tune over 2 points)
sweep = dict()
sweep_holdout = dict()
# `--launcher slurm` on the tests' local cluster (scripts/local_slurm.sh): CPUs only, one CPU per stage job
slurm = dict(gpus_per_node=0, cpus_per_task=1, time="00:30:00", retries=0)
