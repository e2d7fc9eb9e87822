import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
MEL_DATA = REPO / "crates" / "zc-mel" / "tests" / "data"


@pytest.fixture
def mel_data():
    return MEL_DATA
