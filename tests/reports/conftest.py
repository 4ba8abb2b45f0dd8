import pytest

from tests.reports.march import build_march


@pytest.fixture
def march(alice, bob):
    return build_march(alice, bob)
