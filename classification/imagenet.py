"""ImageNet's class list and the ImageNet-A / -R subsets of it, as the installed timm ships them.

The ImageNet index order is the sorted wnid order (`imagenet_synsets.txt`); `imagenet_{a,r}_indices.txt` are the
200 classes of each robustness set. Every list is checked against the sha256 recorded here: a changed file is
refused, not trusted. Used by the classifier loader (a 1000-way head without a class list in its sidecar) and
by the robustness evaluation.
"""

from __future__ import annotations

import hashlib
from importlib import resources

from mae_backbone.errors import BadInputError

# sha256 of the lists shipped in timm 1.0.x (timm/data/_info); a changed file is refused, not trusted.
TIMM_INFO_SHA256 = {
    "imagenet_synsets.txt": "70002b0ff5de60a3a17a82dbfcff291931f96225ddf941ad2e182fc39e183d15",
    "imagenet_a_indices.txt": "e81223a35add6e78f9afe6f215652c1926ebefe1d8efc26c6e923d7ac9143937",
    "imagenet_r_indices.txt": "91e09d2ff0a002104bc0d37a892a7e75ffc2cc0db47b2b506047a3493b9116d2",
}


def timm_info(name: str) -> list[str]:
    """A list file from the installed timm, verified against its recorded sha256."""
    data = (resources.files("timm.data") / "_info" / name).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != TIMM_INFO_SHA256[name]:
        raise BadInputError(
            f"timm/data/_info/{name}: sha256 {digest[:12]}… differs from the recorded "
            f"{TIMM_INFO_SHA256[name][:12]}…; the installed timm ships another list: reinstall timm 1.0.x"
        )
    return data.decode().split()


def imagenet_classes() -> list[str]:
    """The 1000 ImageNet wnids in index order."""
    wnids = timm_info("imagenet_synsets.txt")
    assert len(wnids) == 1000 and wnids == sorted(wnids), "ImageNet index order is the sorted wnid order"
    return wnids
