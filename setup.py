"""Packaging for simplex_train; every setting lives in settings.ini (nbdev 2.x)."""
from configparser import ConfigParser
from pathlib import Path

import setuptools

cfg = ConfigParser(delimiters=["="])
cfg.read("settings.ini", encoding="utf-8")
cfg = cfg["DEFAULT"]


def req(key):
    return cfg.get(key, "").split()


setuptools.setup(
    name=cfg["lib_name"],
    version=cfg["version"],
    description=cfg["description"],
    long_description=Path("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    author=cfg["author"],
    author_email=cfg["author_email"],
    license="Apache-2.0",
    keywords=cfg["keywords"],
    python_requires=">=" + cfg["min_python"],
    # the workbook notebooks live in nbs/workbooks (they are notebooks, not generated code) and ship as package data
    packages=setuptools.find_packages(include=["simplex_train", "simplex_train.*"]) + ["simplex_train.workbooks"],
    package_dir={"simplex_train.workbooks": "nbs/workbooks"},
    package_data={"simplex_train": ["specialists/*.yaml", "chains/*.yaml", "general_text.txt", "cloud_instances.yaml"], "simplex_train.workbooks": ["*.ipynb"]},
    include_package_data=True,
    install_requires=req("requirements"),
    # `gpu` is meant for CUDA machines only: unsloth pins a CUDA torch and must never reach a CPU install.
    extras_require={"dev": req("dev_requirements"), "gpu": req("gpu_requirements")},
    entry_points={
        "console_scripts": cfg["console_scripts"].split(),
        "nbdev": [f"{cfg['lib_path']}={cfg['lib_path']}._modidx:d"],
    },
    zip_safe=False,
)
