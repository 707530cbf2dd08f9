"""sk1dcnn: 1D convolutional neural networks as scikit-learn estimators.

A pure NumPy/SciPy engine (no deep-learning framework at run time) under
:class:`CNN1DClassifier` and :class:`CNN1DRegressor`.
"""

from .estimators import CNN1DClassifier, CNN1DRegressor
from .static import join_static, split_static

__version__ = "0.2.0"

__all__ = ["CNN1DClassifier", "CNN1DRegressor", "__version__", "join_static", "split_static"]
