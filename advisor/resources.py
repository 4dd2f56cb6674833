"""Where the data that ships with advisor lies: the hardware catalog and the report
templates.

The repository keeps them in top-level folders (`hardware_catalog/`,
`reports/templates/`); the wheel carries them inside the package, under
`advisor/_data/` (pyproject.toml, hatch `force-include`), read with
`importlib.resources`. One lookup serves a wheel install, an editable install and
a source checkout: the packaged copy where there is one, else the folder beside the
package.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from advisor.errors import DataError

# resource name -> (path inside the package, path in the repository)
SHIPPED = {
    "catalog": ("_data/hardware_catalog", "hardware_catalog"),
    "templates": ("_data/templates", "reports/templates"),
}


def shipped_dir(name: str) -> Path:
    """The folder holding a shipped resource ('catalog' or 'templates')."""
    packaged, in_repo = SHIPPED[name]
    inside = resources.files("advisor").joinpath(packaged)
    if inside.is_dir():
        # A wheel unpacks to files on disk, so the traversable is a real path.
        return Path(str(inside))
    beside = Path(str(resources.files("advisor"))).parent / in_repo
    if beside.is_dir():
        return beside
    raise DataError(
        f"shipped {name} not found (looked in {inside} and {beside}); reinstall advisor"
    )
