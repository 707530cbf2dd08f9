"""Named architectures, written as the layer specs a user could write by hand.

``CNN1DClassifier(architecture="sample_level")`` resolves the name with
:func:`get_preset`; for other sizes call the preset function and pass the
list it returns, e.g. ``architecture=sample_level(n_blocks=5, filters=16)``.
The estimator always adds the output ``Dense`` layer.

The deep time-series classification references (docs/architectures.md): ``fcn``
(Wang, Yan & Oates 2017), ``resnet`` (the same paper, as in Ismail Fawaz et al.
2019) and ``inception_time`` (Ismail Fawaz et al. 2020; one network of the
paper's ensemble of 5), with the parameter counts of the authors' Keras code.

The sample-level CNN (Lee, Park, Kim & Nam, SMC 2017; Kim, Lee & Nam,
ICASSP 2018) reads raw waveforms: a strided first convolution (kernel 3,
stride 3) then ``n_blocks`` blocks that each divide the length by 3 (a
convolution of kernel 3 and a max-pooling of 3), a global max pooling and a
fully connected layer. The paper's blocks are:

* ``sample_level``: Conv1D(3, 'same') -> BatchNormalization -> ReLU -> MaxPooling1D(3);
* ``sample_level_res``: :class:`~sk1dcnn.nn.blocks.ResidualBlock` (Res-2) -> MaxPooling1D(3);
* ``sample_level_rese``: :class:`~sk1dcnn.nn.blocks.ReSEBlock` (ReSE-2) -> MaxPooling1D(3).

Sizes. The paper takes 59049 = 3**10 samples (2.7 s at 22 kHz) through 9
blocks with 128 filters, doubled at the third and the last block. The
defaults here are scaled for short 8 kHz clips such as the spoken digits of
FSDD: 7 blocks and 32 filters (doubling at the same places: 32, 32, 64, 64,
64, 64, 128), about 0.1-0.6 M parameters and 20-40 MFLOP per forward pass
(``summary()`` prints the exact figures). ``n_timepoints`` must be at least
``3 ** (n_blocks + 1)`` (6561 samples, 0.82 s at 8 kHz, for the defaults);
the global max pooling absorbs anything longer.
"""

from functools import partial

__all__ = ["PRESETS", "get_preset", "sample_level", "sample_level_filters", "fcn", "resnet",
           "inception_time"]

_BLOCKS = ("conv", "res", "rese")


def sample_level_filters(n_blocks, filters):
    """Filters of each block: ``filters``, doubled at block 2 and at the last block (0-based)."""
    out, f = [], int(filters)
    for i in range(n_blocks):
        if i == 2 or i == n_blocks - 1:
            f *= 2
        out.append(f)
    return out


def sample_level(n_blocks=7, filters=32, block="conv", *, dropout=0.2, se_ratio=8,
                 head_units=None, head_dropout=0.5):
    """Layer specs of a sample-level CNN on raw waveforms.

    Parameters
    ----------
    n_blocks : int, default=7
        Blocks after the strided convolution; each divides the length by 3.
    filters : int, default=32
        Filters of the first convolution and first block (the paper: 128).
    block : {'conv', 'res', 'rese'}, default='conv'
        The basic block, the residual Res-2 block or the ReSE-2 block.
    dropout : float, default=0.2
        Dropout between the two convolutions of the Res/ReSE blocks (the paper's).
    se_ratio : float, default=8
        Squeeze-excitation ratio of the ReSE blocks: hidden units
        ``filters / se_ratio``. The paper amplifies by 16 (``se_ratio=1/16``);
        its released code for MagnaTagATune uses 0.125 (``se_ratio=8``), the
        cheaper choice kept here.
    head_units : int or None, default=None
        Units of the fully connected layer after the global pooling; None uses
        the last block's filters, as in the paper.
    head_dropout : float, default=0.5
        Dropout before the output layer (the paper's 0.5).

    Returns
    -------
    list of dict
        Layer specs for ``architecture=`` (the output layer is not included).
    """
    if block not in _BLOCKS:
        raise ValueError(f"block must be one of {_BLOCKS}, got {block!r}.")
    if int(n_blocks) < 1 or int(filters) < 1:
        raise ValueError(f"n_blocks and filters must be positive, got {n_blocks!r}, {filters!r}.")
    conv = {"layer": "Conv1D", "kernel_size": 3, "padding": "same", "use_bias": False,
            "kernel_initializer": "he_uniform"}
    bn_relu = [{"layer": "BatchNormalization"}, {"layer": "Activation", "activation": "relu"}]
    specs = [{**conv, "filters": int(filters), "strides": 3}, *bn_relu]
    widths = sample_level_filters(int(n_blocks), filters)
    for f in widths:
        if block == "conv":
            specs += [{**conv, "filters": f}, *bn_relu]
        elif block == "res":
            specs.append({"layer": "ResidualBlock", "filters": f, "kernel_size": 3, "dropout": dropout})
        else:
            specs.append({"layer": "ReSEBlock", "filters": f, "kernel_size": 3, "dropout": dropout,
                          "se_ratio": se_ratio})
        specs.append({"layer": "MaxPooling1D", "pool_size": 3})
    units = widths[-1] if head_units is None else int(head_units)
    specs += [{"layer": "GlobalMaxPooling1D"}, {"layer": "Dense", "units": units, "use_bias": False},
              *bn_relu]
    if head_dropout:
        specs.append({"layer": "Dropout", "rate": head_dropout})
    return specs


def _conv(filters, kernel_size, **kw):
    return {"layer": "Conv1D", "filters": int(filters), "kernel_size": int(kernel_size),
            "padding": "same", **kw}


_BN = {"layer": "BatchNormalization"}
_RELU = {"layer": "Activation", "activation": "relu"}


def fcn(filters=(128, 256, 128), kernel_sizes=(8, 5, 3)):
    """Fully convolutional network of Wang, Yan & Oates (2017), as layer specs.

    ``Conv1D(f, k, 'same') -> BatchNormalization -> ReLU`` per block (128/8,
    256/5, 128/3), global average pooling; the estimator adds the output layer.
    As in the reference Keras code (Ismail Fawaz et al. 2019, ``dl-4-tsc``), the
    convolutions keep their bias and Glorot-uniform initialisation.

    Parameters
    ----------
    filters : sequence of int, default=(128, 256, 128)
    kernel_sizes : sequence of int, default=(8, 5, 3)

    Returns
    -------
    list of dict
    """
    if len(filters) != len(kernel_sizes) or not filters:
        raise ValueError(f"filters and kernel_sizes must have the same non-zero length, got "
                         f"{filters!r} and {kernel_sizes!r}.")
    specs = []
    for f, k in zip(filters, kernel_sizes):
        specs += [_conv(f, k), dict(_BN), dict(_RELU)]
    return specs + [{"layer": "GlobalAveragePooling1D"}]


def resnet(filters=(64, 128, 128), kernel_sizes=(8, 5, 3)):
    """Residual network of Wang, Yan & Oates (2017), as in Ismail Fawaz et al. (2019).

    Each of ``len(filters)`` residual blocks is ``Conv1D(f, k, 'same') -> BN ->
    ReLU`` for each k of ``kernel_sizes`` (the last without ReLU), added to a
    shortcut, then ReLU. The shortcut is ``Conv1D(f, 1) -> BN`` for the first
    block and where the width changes, a BatchNormalization alone elsewhere
    (the reference code: blocks 64, 128, 128 -> conv, conv, BN). Global average
    pooling ends it.

    Parameters
    ----------
    filters : sequence of int, default=(64, 128, 128)
        Width of each residual block.
    kernel_sizes : sequence of int, default=(8, 5, 3)
        The convolutions inside every block.

    Returns
    -------
    list of dict
    """
    if not filters or not kernel_sizes:
        raise ValueError(f"filters and kernel_sizes must be non-empty, got {filters!r} and "
                         f"{kernel_sizes!r}.")
    specs, previous = [], None
    for f in filters:
        body = []
        for j, k in enumerate(kernel_sizes):
            body += [_conv(f, k), dict(_BN)] + ([dict(_RELU)] if j < len(kernel_sizes) - 1 else [])
        shortcut = [_conv(f, 1), dict(_BN)] if f != previous else [dict(_BN)]
        specs.append({"layer": "Residual", "layers": body, "shortcut": shortcut})
        previous = f
    return specs + [{"layer": "GlobalAveragePooling1D"}]


def inception_time(depth=6, filters=32, kernel_sizes=(40, 20, 10), bottleneck=32,
                   residual_every=3):
    """One InceptionTime network (Ismail Fawaz et al. 2020), as layer specs.

    ``depth`` :class:`~sk1dcnn.nn.blocks.InceptionModule` blocks (bottleneck
    32, 32 filters per branch, kernels 40/20/10 and a max-pool branch: 128
    channels), a residual connection ``Conv1D(128, 1, no bias) -> BN`` around
    every ``residual_every`` modules, then global average pooling. The paper
    ensembles 5 such networks: see ``docs/architectures.md`` for the
    ``VotingClassifier`` recipe.

    Kernel sizes: the paper gives 10, 20 and 40; the authors' code computes
    them as ``41 - 1`` halved twice, the same three even sizes, which Keras
    and :class:`~sk1dcnn.nn.layers.Conv1D` pad with the odd zero on the right.

    Parameters
    ----------
    depth : int, default=6
    filters : int, default=32
    kernel_sizes : sequence of int, default=(40, 20, 10)
    bottleneck : int or None, default=32
        Used by modules whose input has more than one channel (the authors' code).
    residual_every : int or None, default=3
        None: no residual connections. Modules past the last full group are not wrapped.

    Returns
    -------
    list of dict
    """
    if int(depth) < 1:
        raise ValueError(f"depth must be a positive integer, got {depth!r}.")
    module = {"layer": "InceptionModule", "filters": int(filters),
              "kernel_sizes": [int(k) for k in kernel_sizes]}
    if bottleneck != 32:
        module["bottleneck"] = bottleneck
    width = int(filters) * (len(kernel_sizes) + 1)
    every = int(depth) if not residual_every else int(residual_every)
    specs = []
    for start in range(0, int(depth), every):
        group = [dict(module) for _ in range(min(every, int(depth) - start))]
        if residual_every and len(group) == every:
            specs.append({"layer": "Residual", "layers": group,
                          "shortcut": [_conv(width, 1, use_bias=False), dict(_BN)]})
        else:
            specs += group
    return specs + [{"layer": "GlobalAveragePooling1D"}]


#: Preset name -> function returning layer specs (called without arguments by
#: the estimators).
PRESETS = {
    "sample_level": partial(sample_level, block="conv"),
    "sample_level_res": partial(sample_level, block="res"),
    "sample_level_rese": partial(sample_level, block="rese"),
    "fcn": fcn,
    "resnet": resnet,
    "inception_time": inception_time,
}


def get_preset(name, **kwargs):
    """Layer specs of the preset ``name`` (keyword arguments go to its function).

    Parameters
    ----------
    name : str
        One of :data:`PRESETS`.
    **kwargs
        E.g. ``n_blocks=5, filters=16``.

    Returns
    -------
    list of dict
    """
    if name not in PRESETS:
        raise ValueError(f"Unknown architecture preset {name!r}; available presets: {sorted(PRESETS)}.")
    return PRESETS[name](**kwargs)
