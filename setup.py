"""Builds the optional dropout kernel; everything else is in pyproject.toml.

`optional=True`: where no C compiler is found the install goes on without it, and dropout uses
torch's operations (nmt_cli/native.py).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "nmt_cli._dropout_kernel",
            sources=["nmt_cli/dropout_kernel.c"],
            extra_compile_args=["-O3"],
            optional=True,
        )
    ]
)
