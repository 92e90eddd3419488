"""Settings from GRIDJOBS_* variables and flags (pydantic-settings): names, defaults,
one-line errors naming the variable, and nothing secret when shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from gridjobs.config import DEFAULT_PORT, LEASE_S, Settings, env_var, from_env, masked, shown
from gridjobs.errors import ConfigError


def test_the_variables_keep_their_names_and_defaults():
    s = from_env({})
    assert s.port == DEFAULT_PORT and s.lease_s == LEASE_S and s.database_url is None
    given = from_env({"GRIDJOBS_PORT": "9001", "RAY_ADDRESS": "auto", "GRIDJOBS_ALLOW_PLAINTEXT": "yes",
                      "GRIDJOBS_DATA_DIR": "/srv/gj", "GRIDJOBS_LOG_LEVEL": "WARNING",
                      "GRIDJOBS_SHARDS": "", "GRIDJOBS_NOT_A_SETTING": "x"})
    assert given.port == 9001 and given.ray_address == "auto" and given.allow_plaintext is True
    assert given.data_dir == Path("/srv/gj") and given.log_level == "warning"
    assert given.shards == Settings(ray_address="auto").shards   # empty: the default
    assert env_var("ray_address") == "RAY_ADDRESS" and env_var("lease_s") == "GRIDJOBS_LEASE_S"


def test_the_default_shard_count_leaves_a_core_to_the_api_on_a_local_ray(monkeypatch):
    monkeypatch.setattr("gridjobs.config.os.cpu_count", lambda: 8)
    assert from_env({}).shards == 7                                  # local Ray: the API's core spared
    assert from_env({"RAY_ADDRESS": "head:6379"}).shards == 8        # a cluster: shards on worker nodes
    assert from_env({}, {"ray_address": "head:6379"}).shards == 8    # the flag counts like the variable
    assert from_env({"GRIDJOBS_SHARDS": "3"}).shards == 3
    monkeypatch.setattr("gridjobs.config.os.cpu_count", lambda: 1)
    assert from_env({}).shards == 1                                  # never none


def test_settings_built_in_code_read_no_environment(monkeypatch):
    monkeypatch.setenv("GRIDJOBS_PORT", "9999")
    assert Settings().port == DEFAULT_PORT
    assert from_env({"GRIDJOBS_PORT": "1"}, {"port": 2}).port == 2   # a flag beats the variable


@pytest.mark.parametrize("env, expected", [
    ({"GRIDJOBS_LOG_LEVEL": "verbose"},
     "GRIDJOBS_LOG_LEVEL='verbose' is not allowed: input should be 'debug', 'info', 'warning', "
     "'error' or 'critical'"),
    ({"GRIDJOBS_PORT": "70000"}, "GRIDJOBS_PORT='70000' is not allowed: input should be less than or equal to 65535"),
    ({"GRIDJOBS_SHARDS": "0"}, "GRIDJOBS_SHARDS='0' is not allowed: input should be greater than or equal to 1"),
    ({"GRIDJOBS_LEASE_S": "soon"},
     "GRIDJOBS_LEASE_S='soon' is not allowed: input should be a valid number, unable to parse string as a number"),
])
def test_a_bad_value_is_one_line_naming_the_variable(env, expected):
    with pytest.raises(ConfigError) as error:
        from_env(env)
    assert error.value.detail == expected


def test_a_bad_flag_is_named_as_a_flag():
    with pytest.raises(ConfigError) as error:
        from_env({"GRIDJOBS_PORT": "80"}, {"max_running": "many"})
    assert error.value.detail.startswith("--max-running 'many' is not allowed")


def test_with_overrides_validates_and_skips_none():
    s = Settings(port=1)
    assert s.with_overrides(port=None) is s and s.with_overrides(port=2).port == 2
    with pytest.raises(Exception):
        s.with_overrides(port="x")


@pytest.mark.parametrize("value, hidden", [
    ("postgresql://gj:Pa55w0rd@db:5432/grid", "Pa55w0rd"),
    ("postgresql://gj@db/grid?password=Pa55w0rd&sslmode=require", "Pa55w0rd"),
    ("host=db user=gj password=Pa55w0rd dbname=grid", "Pa55w0rd"),
    ("https://user:Pa55w0rd@idp.example/jwks.json", "Pa55w0rd"),
])
def test_shown_values_never_hold_a_password(value, hidden):
    assert hidden not in masked("database_url", value) and "****" in masked("database_url", value)


def test_a_secret_named_setting_is_hidden_but_a_key_path_is_shown():
    assert masked("api_token", "abc123") == "(hidden)"
    assert masked("master_key_file", Path("/etc/gj/master.key")) == "/etc/gj/master.key"
    rows = {name: (value, source) for name, value, source in
            shown(from_env({"GRIDJOBS_DATABASE_URL": "postgresql://u:pw@h/d"}, {"poll_s": "1"}),
                  {"GRIDJOBS_DATABASE_URL": "postgresql://u:pw@h/d"}, {"poll_s": "1"})}
    assert rows["database_url"] == ("postgresql://u:****@h/d", "GRIDJOBS_DATABASE_URL")
    assert rows["poll_s"] == ("1.0", "--poll-s") and rows["port"][1] == "default"
