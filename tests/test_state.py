"""The state folder remembers what runs and which engine holds the data after down."""

import pytest

from dwwx.errors import DwwxError
from dwwx.runtimes import with_project_engine
from dwwx.settings import Settings
from dwwx.state import KeptData, Record, StateDir


@pytest.fixture
def state(tmp_path) -> StateDir:
    folder = StateDir(tmp_path / ".dwwx")
    folder.create()
    return folder


def _record(engine: str = "postgres") -> Record:
    return Record(runtime="local", version="v4", port=8020, database_engine=engine)


def test_the_kept_engine_outlives_a_stop_and_goes_with_the_data(state):
    state.save(_record())
    state.keep_data(KeptData("local", "postgres"))

    state.save(None)
    assert state.load() is None
    assert state.kept_data() == KeptData("local", "postgres")

    state.keep_data(None)
    assert state.kept_data() is None


def test_a_running_engine_is_used_and_another_one_refused(state):
    state.save(_record("postgres"))

    assert with_project_engine(Settings(), state, "local").db == "postgres"
    with pytest.raises(DwwxError, match="v4 runs on postgres here") as refused:
        with_project_engine(Settings(db="sqlite"), state, "local")
    assert refused.value.exit_code == 2


def test_after_a_stop_the_kept_engine_is_used_on_the_same_runtime_only(state):
    state.keep_data(KeptData("local", "postgres"))

    assert with_project_engine(Settings(), state, "local").db == "postgres"
    assert with_project_engine(Settings(), state, "docker").db is None
    assert with_project_engine(Settings(db="sqlite"), state, "local").db == "sqlite"
    url = "postgresql+psycopg://someone@127.0.0.1:5432/other"
    assert with_project_engine(Settings(database_url=url), state, "local").db is None
