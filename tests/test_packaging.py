"""What the package says about itself is shipped with it: the license its metadata names."""

from __future__ import annotations

import hashlib
import tomllib

from tests.conftest import ROOT

# SHA-256 of https://www.apache.org/licenses/LICENSE-2.0.txt, the full text and its appendix.
APACHE_2_0_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"


def test_the_license_the_metadata_names_ships_in_full() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]
    assert hashlib.sha256((ROOT / "LICENSE").read_bytes()).hexdigest() == APACHE_2_0_SHA256
    assert not [c for c in project["classifiers"] if c.startswith("License ::")], (
        "PEP 639: the expression only"
    )
    assert "Programming Language :: Python :: 3 :: Only" in project["classifiers"]
