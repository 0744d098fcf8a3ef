"""`maebench suite`: pre-train, run every transfer protocol for each backbone, then write the report.

- `config`: the suite config (an mmengine Python file, strict overrides) resolved into data roots and backbones.
- `stages`: the protocols as data (which `maebench` subcommand, which data, what it needs) and the stage plan.
- `runner`: runs the plan in-process, stage by stage: resumable, failures recorded, progress with ETA.
- `command`: the CLI.
"""
