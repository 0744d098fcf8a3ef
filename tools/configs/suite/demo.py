# The default suite (`maebench suite`, `make demo`): the whole pipeline on the embedded demo world, on a
# laptop CPU in about 10 minutes on 2 cores. A 6-block 128-d ViT (vit_mini_patch16, 128 px) is pre-trained
# with MAE here, then it and a from-scratch copy (same architecture, random init, same transfer schedule)
# go through every protocol. Numbers are only meant to show the pipeline working and MAE's gain over
# scratch at toy scale; paper_vit_b.py / paper_vit_l.py are the paper-scale suites.
work_dir = "work_dirs/suite"
seed = 0
data = dict(
    demo=dict(root="demo_data", size="small", seed=0),  # generated when absent (`maebench demo-data`)
    # real dataset roots replace the demo world's, format by format (None: the demo world's)
    pretrain=None, imagenet=None, coco=None, ade=None, inat=None, places=None, robustness=None)
# `maebench pretrain` config (None: its default, mae_backbone/configs/pretrain/mae_demo.py) + overrides,
# cut to fit the 10-minute budget.
pretrain = dict(config=None, overrides=["schedule.epochs=12", "schedule.warmup_epochs=2",
                                        "schedule.checkpoint_interval=4"])
backbones = dict(
    mae=dict(source="pretrain"),  # pre-trained by the pretrain stage above
    scratch=dict(source="scratch"),  # same architecture, random init, same transfer recipes
)
# Protocols in run order. `config=None` uses the subcommand's default (its demo config); overrides use
# the task config's own keys and are checked strictly by the task.
# Schedules are the task demo configs' (same recipes) with fewer epochs / iterations so that both
# backbones go through everything within the budget; the same overrides apply to MAE and scratch.
_cls = ["data.num_workers=2"]
protocols = dict(
    finetune=dict(config=None, overrides=_cls + ["schedule.epochs=6", "schedule.warmup_epochs=1",
                                                 "schedule.checkpoint_interval=3"]),
    linprobe=dict(config=None, overrides=_cls + ["schedule.epochs=8", "schedule.warmup_epochs=1",
                                                 "schedule.checkpoint_interval=4"]),
    # Fig. 9: k = 0 is the linear probe above and k = depth the fine-tune; the sweep adds the points between
    partial=dict(config=None, overrides=_cls + ["schedule.epochs=4", "schedule.warmup_epochs=1",
                                                "schedule.checkpoint_interval=2"], args=["--blocks", "mlp,1,2"]),
    inat=dict(config=None, overrides=_cls + ["data.format='inat'", "data.year=2019", "schedule.epochs=5",
                                             "schedule.warmup_epochs=1", "schedule.checkpoint_interval=5"]),
    places=dict(config=None, overrides=_cls + ["data.format='places'", "data.version=365", "schedule.epochs=5",
                                               "schedule.warmup_epochs=1", "schedule.checkpoint_interval=5"]),
    detect=dict(config=None, overrides=["schedule.iters=60", "schedule.warmup_iters=10",
                                        "schedule.checkpoint_interval=60", "schedule.log_interval=10"]),
    segment=dict(config=None, overrides=["schedule.iters=60", "schedule.warmup_iters=10",
                                         "schedule.checkpoint_interval=30", "schedule.log_interval=10"]),
    robustness=dict(config=None, overrides=[]),
)
# `maebench report` options: reconstruction figures of the pre-trained model on demo and COCO-style images.
report = dict(visualize=True, num_images=4)
