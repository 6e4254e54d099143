"""An environment file a user broke (infra/environments/<env>.json): one line that names the file, what is wrong
and what it must be, as the CLI prints it (`error: ...`), never a traceback; and a file's `name` is its file's."""

from __future__ import annotations

import json

import pytest

from infra.config import ConfigError, load_config


def refused(folder, env: str = "dev") -> str:
    with pytest.raises(ConfigError) as err:
        load_config(env, folder, for_deploy=True)
    message = str(err.value)
    assert "\n" not in message, message
    return message


@pytest.mark.parametrize(
    "body,kind",
    [("[]", "a list"), ('"dev"', "a string"), ("null", "null"), ("3", "a number"), ("true", "true or false")],
)
def test_a_file_that_is_not_a_json_object_says_so(tmp_path, body, kind):
    (tmp_path / "dev.json").write_text(body)
    assert refused(tmp_path) == f'{tmp_path}/dev.json must be a JSON object ({{"name": "dev", ...}}), not {kind}'


def test_a_file_that_is_not_utf8_says_so(tmp_path):
    latin1 = '{"name": "dev", "cost_center": "Zürich"}'.encode("latin-1")  # ü is one byte, 0xfc
    (tmp_path / "dev.json").write_bytes(latin1)
    where = latin1.index(b"\xfc")
    assert refused(tmp_path) == f"{tmp_path}/dev.json is not UTF-8 text (byte {where} is b'\\xfc'); save it as UTF-8"


def test_a_utf8_file_with_a_byte_order_mark_loads(tmp_path):
    """Some editors (Notepad) save UTF-8 with a byte-order mark; it is still the UTF-8 the file must be."""
    (tmp_path / "dev.json").write_bytes('{"name": "dev", "cost_center": "Zürich"}'.encode("utf-8-sig"))
    assert load_config("dev", tmp_path).cost_center == "Zürich"


# prod.json saying "dev" would skip prod's alarm_email check and name its stacks golive-dev-*
@pytest.mark.parametrize("env,name", [("dev", "staging"), ("prod", "dev"), ("staging", "prod"), ("dev", 7)])
def test_a_name_that_is_not_the_files_is_refused(tmp_path, env, name):
    (tmp_path / f"{env}.json").write_text(json.dumps({"name": name}))
    assert (
        refused(tmp_path, env)
        == f'{tmp_path}/{env}.json says name {json.dumps(name)}; it must be "{env}" (the file\'s name)'
    )


def test_each_shipped_file_names_itself():
    assert [load_config(env).name for env in ("dev", "staging", "prod")] == ["dev", "staging", "prod"]
