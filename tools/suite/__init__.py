"""`maebench suite`: pre-train, run every transfer protocol for each backbone, then write the report.

- `config`: the suite config (an mmengine Python file, strict overrides) resolved into data roots and backbones.
- `stages`: the protocols as data (which `maebench` subcommand, which data, what it needs) and the stage plan
  (a protocol with a recipe sweep: one stage per grid point, then the protocol's refit stage).
- `runner`: runs the plan, `jobs` stages at a time once what each needs has finished: resumable, failures
  recorded. `workers`: where stages run (this process, or worker processes sharing the CPU threads).
  `progress`: the console lines and the ETA.
- `command`: the CLI.
"""
