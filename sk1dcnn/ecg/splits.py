"""Train/test splits of the MIT-BIH records: inter-patient (de Chazal) and patient-specific (Kiranyaz)."""

import numpy as np
from sklearn.utils import check_random_state

from .labels import AAMI_CLASSES
from .records import MITDB_FS

__all__ = [
    "DE_CHAZAL_DS1",
    "DE_CHAZAL_DS2",
    "INTER_PATIENT_TEST",
    "INTER_PATIENT_TRAIN",
    "patient_specific_split",
]

#: de Chazal et al. (2004) inter-patient training set DS1: 22 full MIT-BIH
#: records (the paced 102, 104, 107 and 217 are in neither set).
DE_CHAZAL_DS1 = (
    "101", "106", "108", "109", "112", "114", "115", "116", "118", "119", "122",
    "124", "201", "203", "205", "207", "208", "209", "215", "220", "223", "230",
)
#: de Chazal et al. (2004) inter-patient test set DS2: the other 22 non-paced records.
DE_CHAZAL_DS2 = (
    "100", "103", "105", "111", "113", "117", "121", "123", "200", "202", "210",
    "212", "213", "214", "219", "221", "222", "228", "231", "232", "233", "234",
)

#: Inter-patient split (de Chazal et al. 2004, DS1/DS2) restricted to the ten
#: MIT-BIH excerpts shipped with the package. No record is in both.
INTER_PATIENT_TRAIN = ("101", "106", "118", "119", "208", "209")
INTER_PATIENT_TEST = ("100", "200", "232", "233")


def patient_specific_split(
    y,
    record_ids,
    positions,
    patient,
    *,
    fs=MITDB_FS,
    train_minutes=5.0,
    common_records=None,
    n_common_per_class=75,
    random_state=None,
):
    """Patient-specific train/test split of Kiranyaz et al. (2016).

    Training set: a common set of representative beats taken from other
    records, plus the beats in the first ``train_minutes`` (5) minutes of the
    patient's own record. Test set: the rest of the patient's record (the
    remaining 25 minutes of a full MIT-BIH record).

    Parameters
    ----------
    y : array-like of shape (n_beats,)
        AAMI labels, e.g. from :func:`sk1dcnn.ecg.beats.load_mitdb_beats`.
    record_ids : array-like of shape (n_beats,)
        Record of each beat.
    positions : array-like of shape (n_beats,)
        Sample index of each beat in its record.
    patient : str
        The record to train and test on.
    fs : float, default=360.0
        Sampling rate of ``positions``.
    train_minutes : float, default=5.0
        Length of the patient-specific training segment.
    common_records : sequence of str or None, default=None
        Records the common beats come from. None follows the paper: records
        numbered 100-124, here those present in ``record_ids`` other than
        ``patient``.
    n_common_per_class : int, default=75
        Common beats drawn at random per AAMI class (all of them for a class
        with fewer). The paper used 75 N, S and V beats and all 13 F and 7 Q
        beats, 245 in total.
    random_state : int, RandomState instance or None, default=None
        Seed for drawing the common beats.

    Returns
    -------
    train_idx, test_idx : ndarray of int
        Indices into the beat arrays.

    Raises
    ------
    ValueError
        If the patient's record is missing or has no beat after the training
        segment (e.g. with the shipped 5-minute excerpts: use the full records
        with ``data_dir=`` of :func:`sk1dcnn.ecg.beats.load_mitdb_beats`).

    References
    ----------
    S. Kiranyaz, T. Ince, M. Gabbouj. "Real-Time Patient-Specific ECG
    Classification by 1-D Convolutional Neural Networks." IEEE Trans. Biomed.
    Eng. 63(3):664-675, 2016.
    """
    y = np.asarray(y)
    record_ids = np.asarray(record_ids).astype(str)
    positions = np.asarray(positions)
    patient = str(patient)
    own = record_ids == patient
    if not own.any():
        raise ValueError(f"patient {patient!r} has no beats in record_ids")
    cutoff = train_minutes * 60.0 * fs
    own_train = np.flatnonzero(own & (positions < cutoff))
    test_idx = np.flatnonzero(own & (positions >= cutoff))
    if test_idx.size == 0:
        raise ValueError(
            f"record {patient!r} has no beats after the first {train_minutes} minutes; "
            "the shipped MIT-BIH excerpts are 5 minutes long, use the full records "
            "(data_dir=find_shared_data('mitdb'))"
        )
    if common_records is None:
        others = np.unique(record_ids[~own])
        common_records = [r for r in others if r.isdigit() and 100 <= int(r) <= 124]
    pool = np.flatnonzero(np.isin(record_ids, [str(r) for r in common_records]) & ~own)
    rng = check_random_state(random_state)
    common = [
        rng.choice(members, size=min(n_common_per_class, members.size), replace=False)
        for cls in AAMI_CLASSES
        if (members := pool[y[pool] == cls]).size
    ]
    train_idx = np.sort(np.concatenate([own_train, *common]))
    return train_idx, test_idx
