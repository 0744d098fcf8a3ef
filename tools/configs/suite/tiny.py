# The end-to-end test's suite (tests/suite): the `tiny` demo world and a handful of iterations per stage.
# It checks that every stage runs and every report cell is filled, not any accuracy.
_base_ = "./demo.py"
work_dir = "work_dirs/suite_tiny"
data = dict(demo=dict(root="work_dirs/demo_data_tiny", size="tiny", seed=0))
pretrain = dict(overrides=["model.img_size=64", "data.batch_size=8", "data.num_workers=0", "schedule.epochs=1",
                           "schedule.warmup_epochs=1", "schedule.checkpoint_interval=1", "schedule.log_interval=1",
                           "optim.precision='fp32'"])
report = dict(visualize=True, num_images=2)
