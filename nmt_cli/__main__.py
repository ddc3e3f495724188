"""`python -m nmt_cli`, the entry point torchrun needs: `torchrun --nproc-per-node 2 -m nmt_cli train ...`."""

from nmt_cli.cli.app import main

if __name__ == "__main__":
    main()
