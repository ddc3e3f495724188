"""Builds the optional compiled kernels (native.py); everything else is in pyproject.toml.

`optional=True`: where no C compiler (or, for the OpenMP kernels, no OpenMP) is found the install goes
on without it, and torch's operations do that work (nmt_cli/accel/native.py).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "nmt_cli.accel._dropout_kernel",
            sources=["nmt_cli/accel/dropout_kernel.c"],
            depends=["nmt_cli/accel/kernel_common.h"],
            extra_compile_args=["-O3", "-fopenmp"],
            extra_link_args=["-fopenmp"],  # work shared among torch's own OpenMP threads
            optional=True,
        ),
        Extension(
            "nmt_cli.accel._additive_kernel",
            sources=["nmt_cli/accel/additive_kernel.c"],
            depends=["nmt_cli/accel/kernel_common.h"],
            extra_compile_args=["-O3", "-fopenmp"],
            extra_link_args=["-fopenmp"],
            libraries=["m"],
            optional=True,
        ),
    ]
)
