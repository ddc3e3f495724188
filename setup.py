"""Builds the optional dropout and loss kernels; everything else is in pyproject.toml.

`optional=True`: where no C compiler (or no OpenMP for the loss kernel) is found the install goes
on without it, and dropout and the loss use torch's operations (nmt_cli/native.py).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "nmt_cli._dropout_kernel",
            sources=["nmt_cli/dropout_kernel.c"],
            extra_compile_args=["-O3"],
            optional=True,
        ),
        # -fopenmp: rows shared among torch's own OpenMP threads (see loss_kernel.c)
        Extension(
            "nmt_cli._loss_kernel",
            sources=["nmt_cli/loss_kernel.c"],
            extra_compile_args=["-O3", "-fopenmp"],
            extra_link_args=["-fopenmp"],
            libraries=["m"],
            optional=True,
        ),
    ]
)
