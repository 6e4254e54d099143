"""One settings reader for the API (`GOLIVE_*`) and the endpoint container (`GOLIVE_ENDPOINT_*`, SageMaker's own)."""

from __future__ import annotations

import pytest

from functions.api.settings import Settings
from functions.common.settings import SettingsError
from functions.endpoint.settings import EndpointSettings


def variables(cls) -> set[str]:
    return {v for field in cls.model_fields for v in cls.variables(field)}


def test_no_variable_is_read_by_both_the_api_and_the_endpoint():
    assert variables(Settings) and variables(EndpointSettings)
    assert not variables(Settings) & variables(EndpointSettings)
    assert "GOLIVE_MAX_TEXTS" in variables(Settings) and "GOLIVE_ENDPOINT_MAX_TEXTS" in variables(EndpointSettings)


def test_each_reads_its_own_prefix_only(monkeypatch):
    monkeypatch.setenv("GOLIVE_MAX_TEXTS", "7")
    monkeypatch.setenv("golive_endpoint_max_texts", "9")  # any case
    monkeypatch.setenv("GOLIVE_ENDPOINT_NAME", "my-endpoint")  # the API's, though it starts like the endpoint's
    assert Settings().max_texts == 7 and Settings().endpoint_name == "my-endpoint"
    assert EndpointSettings().max_texts == 9
    assert Settings(max_texts=3).max_texts == 3  # arguments win


def test_sagemaker_variables_win_over_ours(monkeypatch):
    monkeypatch.setenv("GOLIVE_ENDPOINT_PORT", "9000")
    assert EndpointSettings().port == 9000
    monkeypatch.setenv("SAGEMAKER_BIND_TO_PORT", "8081")
    monkeypatch.setenv("SAGEMAKER_MODEL_SERVER_TIMEOUT", "30")
    settings = EndpointSettings()
    assert (settings.port, settings.timeout_s, settings.workers) == (8081, 30, 1)


@pytest.mark.parametrize(
    "cls,env,expected",
    [
        (Settings, {"GOLIVE_MAX_TEXTS": "0"}, "GOLIVE_MAX_TEXTS='0': Input should be greater than or equal to 1"),
        (
            Settings,
            {"GOLIVE_INTRA_OP_THREADS": "two"},
            "GOLIVE_INTRA_OP_THREADS='two': Input should be a valid integer",
        ),
        (Settings, {"GOLIVE_BACKEND": "sagemaker"}, "GOLIVE_ENDPOINT_NAME must be set when GOLIVE_BACKEND=sagemaker"),
        (EndpointSettings, {"SAGEMAKER_BIND_TO_PORT": "99999"}, "SAGEMAKER_BIND_TO_PORT='99999': Input should be less"),
        (
            EndpointSettings,
            {"GOLIVE_ENDPOINT_PROVIDER": "gpu"},
            "GOLIVE_ENDPOINT_PROVIDER='gpu': Input should be 'auto'",
        ),
    ],
)
def test_a_bad_setting_names_its_variable_and_value(cls, env, expected, monkeypatch):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        cls.load()
    assert f"the {cls.env_title} from the environment are not valid:" in str(caught.value)
    assert expected in str(caught.value)


def test_the_endpoint_names_its_old_variables_instead_of_ignoring_them_quietly(monkeypatch, caplog):
    from functions.endpoint.serve import main

    monkeypatch.setenv("GOLIVE_MAX_BATCH_SIZE", "8")  # the name before GOLIVE_ENDPOINT_
    assert EndpointSettings.old_names_set() == ["GOLIVE_MAX_BATCH_SIZE"]
    assert EndpointSettings().max_batch_size == 32
    monkeypatch.setattr(
        "golive.ports.require_free_port",  # stop main() before it serves
        lambda *a: (_ for _ in ()).throw(SettingsError("stop")),
    )
    with caplog.at_level("WARNING"):
        assert main(["serve"]) == 2
    assert (
        "GOLIVE_MAX_BATCH_SIZE is not read: the endpoint's settings are GOLIVE_ENDPOINT_MAX_BATCH_SIZE" in caplog.text
    )
