"""CPU-training acceleration, reached by the models through one seam (ops.py): the compiled
kernels as torch operators (kernels.py over native.py) and torch-only rewrites of what autograd
would do step by step (lstm_layer.py, memory_reads.py)."""
