"""Side-by-side benchmark of sk1dcnn against PyTorch (and scikit-learn's MLP).

Run ``python -m benchmarks --help`` from the repository root, inside the
benchmark virtual environment described in ``benchmarks/README.md`` (PyTorch is
a benchmark-only dependency: the engine never imports it).
"""
