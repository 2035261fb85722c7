"""Settings: validation names the field, bad files are kept, saves are atomic."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

from traymail.settings import (
    Account,
    AuthMethod,
    OAuth2Settings,
    Security,
    Settings,
    SettingsError,
    load_settings,
    parse_settings,
    resolve_paths,
    save_settings,
)

ROOT = Path(__file__).resolve().parent.parent


def acc(**kw: object) -> dict[str, object]:
    base: dict[str, object] = {"name": "a", "host": "pop.example.com", "username": "u"}
    base.update(kw)
    return base


def test_example_file_is_valid_and_documents_every_field() -> None:
    data = json.loads((ROOT / "settings.json.example").read_text())
    settings = parse_settings(data)
    assert settings.accounts[0].effective_port == 995
    documented = set(data["accounts"][0])
    for name in Account.__dataclass_fields__:
        assert name in documented and f"_{name}" in documented, name
    for name in ("notifications", "start_with_system", "schema_version"):
        assert f"_{name}" in data
    for name in OAuth2Settings.__dataclass_fields__:
        assert name in data["accounts"][0]["_oauth2"], name


def test_defaults_and_ports() -> None:
    s = parse_settings({"accounts": [acc(), acc(name="b", security="starttls"),
                                      acc(name="c", security="none", allow_insecure=True),
                                      acc(name="d", port=1995, host="::1")]})
    assert [a.effective_port for a in s.accounts] == [995, 110, 110, 1995]
    assert s.accounts[0].security is Security.SSL and s.accounts[0].check_interval_minutes == 5
    assert s.accounts[3].keyring_user == "u@::1:1995"
    assert s.account().name == "a" and s.account("c").name == "c"


@pytest.mark.parametrize("data,field,words", [
    ({"accounts": [acc(port=0)]}, "accounts[0].port", "1 to 65535"),
    ({"accounts": [acc(port="995")]}, "accounts[0].port", "whole number"),
    ({"accounts": [acc(host="bad host")]}, "accounts[0].host", "not a valid"),
    ({"accounts": [acc(host="")]}, "accounts[0].host", "host name"),
    ({"accounts": [acc(security="tls")]}, "accounts[0].security", "starttls"),
    ({"accounts": [acc(security="none")]}, "accounts[0].security", "allow_insecure"),
    ({"accounts": [acc(check_interval_minutes=0)]}, "accounts[0].check_interval_minutes",
     "at least 1"),
    ({"accounts": [acc(password="x")]}, "accounts[0].password", "unknown"),
    ({"accounts": [{"name": "a", "host": "h"}]}, "accounts[0].username", "required"),
    ({"accounts": [acc(), acc()]}, "accounts", "two accounts"),
    ({"accounts": [acc(cafile="/no/such.pem")]}, "accounts[0].cafile", "no such file"),
    ({"schema_version": 9}, "schema_version", "version 1"),
    ({"accounts": [acc(auth="xoauth2")]}, "accounts[0].auth", '"oauth2"'),
    ({"accounts": [acc(auth="oauth2")]}, "accounts[0].oauth2", "required"),
    ({"accounts": [acc(email="nobody")]}, "accounts[0].email", "e-mail address"),
    ({"accounts": [acc(email="a b@x.org")]}, "accounts[0].email", "e-mail address"),
    ({"accounts": [acc(auth="oauth2", oauth2=[])]}, "accounts[0].oauth2", "object"),
    ({"accounts": [acc(auth="oauth2", oauth2={"provider": "yahoo"})]},
     "accounts[0].oauth2.provider", '"microsoft"'),
    ({"accounts": [acc(auth="oauth2", oauth2={"provider": "google", "mechanism": "plain"})]},
     "accounts[0].oauth2.mechanism", '"oauthbearer"'),
    ({"accounts": [acc(auth="oauth2", oauth2={"provider": "google", "flow": "implicit"})]},
     "accounts[0].oauth2.flow", '"device"'),
    ({"accounts": [acc(auth="oauth2", oauth2={"provider": "google", "token": "x"})]},
     "accounts[0].oauth2.token", "unknown"),
    ({"accounts": [acc(auth="oauth2", oauth2={"provider": "custom"})]},
     "accounts[0].oauth2.issuer", "token_endpoint"),
    ({"accounts": [acc(auth="oauth2", oauth2={"issuer": "ftp://idp.example"})]},
     "accounts[0].oauth2.issuer", "http(s)"),
    ({"accounts": [acc(auth="oauth2", oauth2={"provider": "microsoft",
                                               "token_endpoint": "javascript:x"})]},
     "accounts[0].oauth2.token_endpoint", "http(s)"),
    ({"accounts": [acc(auth="oauth2", oauth2={"provider": "microsoft", "scopes": "a b"})]},
     "accounts[0].oauth2.scopes", "list"),
    ({"accounts": [acc(auth="oauth2", oauth2={"provider": "microsoft", "tenant": "a/b"})]},
     "accounts[0].oauth2.tenant", "tenant"),
    ({"accounts": [acc(auth="oauth2", oauth2={"provider": "microsoft", "client_id": ""})]},
     "accounts[0].oauth2.client_id", "non-empty"),
    ({"notifications": "yes"}, "notifications", "true or false"),
    ([], "(top level)", "object"),
])
def test_validation_names_the_field(data: object, field: str, words: str) -> None:
    with pytest.raises(SettingsError) as info:
        parse_settings(data)
    assert info.value.field == field and words in info.value.problem


def test_corrupt_file_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text('{"accounts": [ oops')
    with pytest.raises(SettingsError, match="not valid JSON") as info:
        load_settings(path)
    assert str(path) in str(info.value)
    assert path.read_text() == '{"accounts": [ oops'  # untouched


def test_missing_file_is_empty(tmp_path: Path) -> None:
    assert load_settings(tmp_path / "none.json") == Settings()


def test_save_is_atomic_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "settings.json"
    s = Settings((Account("w", "10.0.0.1", "me", port=1110, security=Security.STARTTLS),),
                 notifications=False)
    save_settings(s, path)
    assert load_settings(path) == s
    assert "password" not in path.read_text()
    assert [p.name for p in path.parent.iterdir()] == ["settings.json"]  # no temp left
    s2 = s.with_account(Account("w", "10.0.0.2", "me"))
    save_settings(s2, path)
    assert load_settings(path).accounts[0].host == "10.0.0.2"


def test_auth_methods_and_oauth2_round_trip(tmp_path: Path) -> None:
    s = parse_settings({"accounts": [
        acc(),
        acc(name="p", auth="plain"),
        acc(name="ms", auth="oauth2", email="me@contoso.example",
            oauth2={"provider": "microsoft", "tenant": "organizations", "flow": "device"}),
        acc(name="c", auth="oauth2", oauth2={
            "provider": "custom", "client_id": "traymail", "client_secret": "s3",
            "scopes": ["openid", "offline_access", "pop"], "mechanism": "oauthbearer",
            "issuer": "http://127.0.0.1:9000/", "token_endpoint": "https://idp.example/token",
            "authorization_endpoint": "https://idp.example/auth",
            "device_authorization_endpoint": "https://idp.example/device",
            "revocation_endpoint": "https://idp.example/revoke"}),
    ]})
    a, p, ms, c = s.accounts
    assert a.auth is AuthMethod.PASSWORD and a.oauth2 is None and a.email is None
    assert p.auth is AuthMethod.PLAIN
    assert ms.oauth2 == OAuth2Settings(provider="microsoft", tenant="organizations",
                                       flow="device")
    assert ms.sasl_user == "me@contoso.example" and c.sasl_user == "u"
    assert c.oauth2 is not None and c.oauth2.scopes == ("openid", "offline_access", "pop")
    assert c.oauth2.mechanism == "oauthbearer" and c.oauth2.client_secret == "s3"
    path = tmp_path / "settings.json"
    save_settings(s, path)
    assert load_settings(path) == s
    saved = json.loads(path.read_text())["accounts"]
    assert "auth" not in saved[0] and "oauth2" not in saved[0]  # defaults are not written
    assert saved[1]["auth"] == "plain"
    assert saved[2]["oauth2"] == {"provider": "microsoft", "tenant": "organizations",
                                  "scopes": [], "mechanism": "xoauth2", "flow": "device"}
    # a change of method or provider settings is a change of connection
    assert len({x.fingerprint() for x in
                (a, replace(a, auth=AuthMethod.PLAIN), replace(a, email="u@x.org"),
                 replace(ms, oauth2=OAuth2Settings(provider="microsoft")))} | {
                ms.fingerprint()}) == 5


def test_paths_portable_and_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = resolve_paths(home=tmp_path)
    assert p.portable and p.settings_file == tmp_path / "settings.json"
    assert p.state_dir == tmp_path / "state" and p.log_dir == tmp_path / "logs"
    assert p.download_dir_for(Account("A/B", "h", "u")) == tmp_path / "downloads" / "A_B"
    monkeypatch.setenv("TRAYMAIL_HOME", str(tmp_path / "h2"))
    assert resolve_paths().settings_file == tmp_path / "h2" / "settings.json"
    monkeypatch.delenv("TRAYMAIL_HOME")
    monkeypatch.setenv("TRAYMAIL_CONFIG", str(tmp_path / "c.json"))
    q = resolve_paths()
    assert q.settings_file == tmp_path / "c.json" and not q.portable
    assert os.path.isabs(q.state_dir) and os.path.isabs(q.download_dir)


@pytest.mark.posix_only("XDG base directories are a freedesktop convention; Windows "
                        "uses its known folders (AppData)")
def test_paths_follow_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRAYMAIL_HOME", raising=False)
    monkeypatch.setenv("TRAYMAIL_CONFIG", str(tmp_path / "c.json"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert str(resolve_paths().state_dir).startswith(str(tmp_path / "xdg"))
