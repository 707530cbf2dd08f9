"""The engine: a 1D convolutional network in NumPy/SciPy, with no scikit-learn in it.

Imports run one way, each module only from those above it::

    activations, initializers, losses, schedules, augment, optim   (leaves)
    ops                     plain and strided kernels on arrays
    layers                  plain layers over ops (Conv1D steps through ops.conv1d_*)
    fast_conv               the fast ways to run a Conv1D (and fusions with the next layers)
    blocks                  BatchNormalization, residual and squeeze-excitation blocks
    network                 Sequential: builds, plans (fuse=True: fast paths) and runs layers;
                            Residual, Concatenate and InceptionModule, blocks made of Sequentials

Arrays are channels-last ``(N, L, C)`` inside the engine.
"""
