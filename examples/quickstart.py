"""Quickstart: a 1D CNN on real ECG beats in five lines.

ECG200 (UCR archive, shipped with sk1dcnn): 100 training and 100 test
heartbeats of 96 samples, normal (1) or myocardial infarction (-1).

    python examples/quickstart.py
"""

from sk1dcnn import CNN1DClassifier
from sk1dcnn.datasets import load_ucr

X_train, y_train, X_test, y_test = load_ucr("ECG200")

clf = CNN1DClassifier(random_state=0)  # the defaults, untouned
clf.fit(X_train, y_train)

print(clf.summary())
print(f"epochs run: {clf.n_iter_}, final training loss: {clf.loss_curve_[-1]:.4f}")
print("first predictions:", clf.predict(X_test[:8]))
print(f"ECG200 test accuracy: {clf.score(X_test, y_test):.3f}")
