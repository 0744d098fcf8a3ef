"""`maebench --help` and the error types must not pull in torch: the CLI parser is a few ms, not seconds."""

from __future__ import annotations

import json
import subprocess
import sys


def _heavy_modules_after(statement: str) -> list[str]:
    heavy = "sorted(m for m in ('torch', 'mmengine', 'timm') if m in sys.modules)"
    probe = f"import json, sys; {statement}; print(json.dumps({heavy}))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def test_the_cli_parser_and_the_error_types_import_no_torch():
    assert _heavy_modules_after("import tools.cli; tools.cli.build_parser().format_help()") == []
    assert _heavy_modules_after("from mae_backbone.errors import UserFacingError") == []


def test_the_package_exports_still_resolve_on_first_use():
    import mae_backbone
    from mae_backbone.vit import VisionTransformer

    assert mae_backbone.VisionTransformer is VisionTransformer
    assert callable(mae_backbone.create_mae)
    assert set(mae_backbone.__all__) >= {"create_vit", "create_mae", "VARIANTS", "FeatureSpec"}
