"""The module-graph check the test command runs (scripts/module_cycles.py) finds what it is for.

The check itself runs on the real crates in scripts/test.sh; these tests make small crates with
a cycle, a re-export that is not a cycle, and a layer used from below, so that a check that
passes could not be one that never fails.
"""

import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "module_cycles.py"


def run(src: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), str(src)], capture_output=True, text=True)


def write(root: Path, files: dict) -> Path:
    src = root / "demo" / "src"
    for name, text in files.items():
        path = src / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return src


def test_a_cycle_through_a_third_module_fails(tmp_path):
    src = write(tmp_path, {
        "lib.rs": "pub mod a;\npub mod b;\npub mod c;\n",
        "a.rs": "use crate::b::B;\npub struct A(B);\n",
        "b.rs": "pub struct B;\npub fn make() -> crate::c::C { crate::c::C }\n",
        "c.rs": "pub struct C;\nimpl C { pub fn a(&self) -> Option<crate::a::A> { None } }\n",
    })
    out = run(src)
    assert out.returncode == 1, out.stdout
    assert "cycle in demo: demo::a, demo::b, demo::c" in out.stdout
    assert "demo::c uses demo::a" in out.stdout


def test_reexports_comments_and_tests_are_not_dependencies(tmp_path):
    src = write(tmp_path, {
        "lib.rs": "pub mod layer;\npub use layer::{Leaf, Root};\n",
        "layer/mod.rs": "//! Uses [`crate::layer::root`].\npub mod leaf;\npub mod root;\n"
                        "pub use leaf::Leaf;\npub use root::Root;\n",
        # leaf names Root only in a comment, a string, a doc-only import and its tests
        "layer/leaf.rs": """\
            // crate::layer::root::Root would be a cycle
            #[cfg(doc)]
            use crate::layer::root::Root;
            pub struct Leaf;
            pub const NOTE: &str = "crate::layer::root::Root";
            #[cfg(test)]
            mod tests {
                use crate::layer::root::Root;
            }
            """,
        # root uses Leaf through the parent's re-export: an edge to leaf, not to the parent
        "layer/root.rs": "use super::Leaf;\npub struct Root(Leaf);\n",
    })
    out = run(src)
    assert out.returncode == 0, out.stdout
    assert "no import cycle" in out.stdout


def test_a_layer_used_from_below_fails(tmp_path):
    # The core crate's layer order applies to a crate named `neurovox`.
    root = tmp_path / "x"
    src = root / "neurovox" / "src"
    (src / "array").mkdir(parents=True)
    (src / "image").mkdir(parents=True)
    (src / "lib.rs").write_text("pub mod array;\npub mod image;\n")
    (src / "array" / "mod.rs").write_text(
        "pub fn plan() -> Option<crate::image::Image> { None }\n")
    (src / "image" / "mod.rs").write_text("pub struct Image;\n")
    out = run(src)
    assert out.returncode == 1, out.stdout
    assert "neurovox::array uses neurovox::image, a layer built on top of its own" in out.stdout
