"""Builds the covertree_bench wheel: the pure-Python package from python/covertree_bench/ and
the extension covertree_bench._core, which CMake builds (target covertree_bench_py of the
`release` preset, the build scripts/setup.sh makes, so this is incremental there).

CMAKE_BUILD_PARALLEL_LEVEL caps the build's jobs as CMake reads it (default 2 here).
"""

import os
import re
import shutil
import subprocess
import sysconfig
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


def project_version():
    """The version of CMakeLists.txt's project() line, the one number of the project."""
    text = (ROOT / "CMakeLists.txt").read_text(encoding="utf-8")
    match = re.search(r"project\(\s*covertree_bench\s+VERSION\s+([0-9]+(?:\.[0-9]+)*)", text)
    if not match:
        raise RuntimeError("CMakeLists.txt: no project(covertree_bench VERSION x.y.z) line")
    return match.group(1)


class CMakeBuild(build_ext):
    """Configures and builds the CMake preset, then copies the built extension into place."""

    def build_extension(self, ext):
        preset = "release"  # the preset scripts/setup.sh builds
        env = dict(os.environ)
        env.setdefault("CMAKE_BUILD_PARALLEL_LEVEL", "2")
        subprocess.run(["cmake", "--preset", preset], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run(["cmake", "--build", "--preset", preset, "--target", "covertree_bench_py"],
                       cwd=ROOT, env=env, check=True)
        suffix = sysconfig.get_config_var("EXT_SUFFIX")
        built = ROOT / "build" / preset / "python" / "covertree_bench" / ("_core" + suffix)
        if not built.is_file():
            found = sorted(p.name for p in built.parent.glob("_core*"))
            raise RuntimeError(
                f"{built} was not built: CMake builds the module for /usr/bin/python3 "
                f"(python/CMakeLists.txt), this interpreter wants {suffix!r}; found {found}")
        target = Path(self.get_ext_fullpath(ext.name))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built, target)


# setuptools' own scratch (build/lib..., the egg-info) under build/setuptools, beside the CMake
# presets' build folders, not in the source tree.
SCRATCH = ROOT / "build" / "setuptools"
SCRATCH.mkdir(parents=True, exist_ok=True)

setup(
    version=project_version(),
    packages=["covertree_bench"],
    package_dir={"": "python"},
    ext_modules=[Extension("covertree_bench._core", sources=[])],
    cmdclass={"build_ext": CMakeBuild},
    options={
        "build": {"build_base": str(SCRATCH.relative_to(ROOT))},
        "egg_info": {"egg_base": str(SCRATCH.relative_to(ROOT))},
    },
    zip_safe=False,
)
