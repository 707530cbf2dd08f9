"""Workflows around sk1dcnn: ``python -m pipelines ecg`` and ``ecg-monitor``.

The estimators know nothing of MLflow; these modules glue data, scikit-learn
model selection and MLflow tracking together (configured by ``mlflow.yml``).
"""
