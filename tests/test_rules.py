"""Rules: the model and its validation, and the engine against a real Dovecot
(block list marks, ignore keeps mail out of the counts, the rule log,
delete without asking through the UIDL re-check, ``rules test``)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from traymail.mailbox import Mailbox
from traymail.rules import (
    BLOCKED,
    FRIEND,
    MAX_TESTED,
    Action,
    RuleSet,
    message_from_head,
    parse_rules,
    rules_to_json,
)
from traymail.settings import (
    Security,
    SettingsError,
    load_settings,
    parse_settings,
    resolve_paths,
    save_settings,
)
from traymail.store import Store

from .engine import Engine
from .realservers import DovecotAccount
from .test_cli import traymail, write_settings


def rules_of(*rules: dict[str, object], friends: list[str] | None = None,
             blocked: list[str] | None = None, accounts: tuple[str, ...] = ("test",)) -> RuleSet:
    return parse_rules({"rules": list(rules), "friends": friends or [],
                        "blocked": blocked or []}, accounts)


def rule(name: str, *conds: dict[str, object], actions: tuple[str, ...] = ("mark",),
         **kw: object) -> dict[str, object]:
    return {"name": name, "conditions": list(conds), "actions": list(actions), **kw}


HEAD = (b"From: =?utf-8?q?Gr=C3=BC=C3=9Fe?= News <News@Letters.example>\r\n"
        b"To: me@example.org\r\nCc: Team <team@example.org>\r\n"
        b"Subject: Weekly digest #12\r\nList-Id: <weekly.letters.example>\r\n"
        b"Content-Type: multipart/mixed; boundary=x\r\n\r\n")


def evaluate(rs: RuleSet, head: bytes = HEAD, size: int | None = 5000) -> str | None:
    m = rs.evaluate("test", message_from_head(head, size, rs.header_names()))
    return m.rule if m else None


# -- the model ---------------------------------------------------------------------

@pytest.mark.parametrize(("cond", "hit"), [
    ({"field": "from", "op": "contains", "value": "news@letters"}, True),
    ({"field": "from", "op": "contains", "value": "grüße"}, True),  # decoded, case-blind
    ({"field": "from", "op": "equals", "value": "news@letters.EXAMPLE"}, True),
    ({"field": "from", "op": "equals", "value": "letters.example"}, False),
    ({"field": "to_cc", "op": "contains", "value": "team@"}, True),
    ({"field": "to_cc", "op": "equals", "value": "boss@example.org"}, False),
    ({"field": "subject", "op": "regex", "value": r"digest #\d+$"}, True),
    ({"field": "subject", "op": "regex", "value": r"^digest"}, False),
    ({"field": "header", "header": "List-Id", "op": "contains", "value": "WEEKLY"}, True),
    ({"field": "header", "header": "X-Spam", "op": "contains", "value": "yes"}, False),
    ({"field": "size", "op": "over", "value": 4999}, True),
    ({"field": "size", "op": "under", "value": 5000}, False),
    ({"field": "attachment", "op": "is", "value": True}, True),
    ({"field": "attachment", "op": "is", "value": False}, False),
])
def test_each_condition(cond: dict[str, object], hit: bool) -> None:
    assert evaluate(rules_of(rule("r", cond))) == ("r" if hit else None)


def test_all_any_order_friends_and_blocks() -> None:
    yes = {"field": "subject", "op": "contains", "value": "digest"}
    no = {"field": "subject", "op": "contains", "value": "invoice"}
    assert evaluate(rules_of(rule("all", yes, no))) is None
    assert evaluate(rules_of(rule("any", yes, no, match="any"))) == "any"
    assert evaluate(rules_of(rule("first", yes), rule("second", yes))) == "first"
    assert evaluate(rules_of(rule("other", yes, account="elsewhere"),
                             accounts=("test", "elsewhere"))) is None
    # the block list marks; a friend is never marked nor ignored, by a domain too
    blocked = rules_of(rule("r", yes, actions=("ignore",)), blocked=["news@letters.example"])
    m = blocked.evaluate("test", message_from_head(HEAD, 1, blocked.header_names()))
    assert m is not None and m.rule == BLOCKED and m.actions == {Action.MARK}
    friendly = rules_of(rule("r", yes, actions=("ignore",)), friends=["@letters.example"],
                        blocked=["news@letters.example"])
    m = friendly.evaluate("test", message_from_head(HEAD, 1, friendly.header_names()))
    assert m is not None and m.rule == FRIEND and not m.actions


@pytest.mark.parametrize(("bad", "where", "says"), [
    ({"field": "subject", "op": "regex", "value": "(unclosed"},
     'rules[0] ("Spam").conditions[0].value', "not a valid regular expression"),
    ({"field": "subject", "op": "regex", "value": "x" * 301},
     'rules[0] ("Spam").conditions[0].value', "longer than"),
    ({"field": "size", "op": "over", "value": "big"},
     'rules[0] ("Spam").conditions[0].value', "size in octets"),
    ({"field": "header", "op": "contains", "value": "x"},
     'rules[0] ("Spam").conditions[0].header', "header name"),
    ({"field": "body", "op": "contains", "value": "x"},
     'rules[0] ("Spam").conditions[0].field', "must be one of"),
])
def test_bad_condition_is_a_clear_error(bad: dict[str, object], where: str, says: str) -> None:
    with pytest.raises(SettingsError) as err:
        parse_settings({"accounts": [], "rules": [rule("Spam", bad)]})
    assert err.value.field == where and says in err.value.problem


def test_bad_rule_fields_and_lists() -> None:
    cond = {"field": "subject", "op": "contains", "value": "x"}
    cases = [
        (rule("r", cond, actions=("explode",)), 'rules[0] ("r").actions'),
        (rule("r", cond, actions=("ignore",), delete_without_asking=True),
         'rules[0] ("r").delete_without_asking'),
        (rule("r", cond, account="nobody"), 'rules[0] ("r").account'),
        (rule("r"), 'rules[0] ("r").conditions'),
    ]
    for r, where in cases:
        with pytest.raises(SettingsError) as err:
            parse_settings({"accounts": [], "rules": [r]})
        assert err.value.field == where
    with pytest.raises(SettingsError) as err:
        parse_settings({"blocked": ["two words@x"]})
    assert err.value.field == "blocked[0]"
    with pytest.raises(SettingsError) as err:
        parse_settings({"quiet_hours": "25:00-07:00"})
    assert err.value.field == "quiet_hours"


def test_settings_round_trip_keeps_rules(tmp_path: Path) -> None:
    data = {"accounts": [{"name": "test", "host": "h", "username": "u", "sound": "default"}],
            "_comment": "kept working", "quiet_hours": "22:00-07:00",
            "rules": [rule("News", {"field": "subject", "op": "regex", "value": "^news"},
                           actions=("ignore", "sound"), sound="/x.wav", account="test",
                           _note="a comment inside a rule")],
            "friends": ["a@b.c"], "blocked": ["@spam.example"]}
    s = parse_settings(data)
    save_settings(s, tmp_path / "settings.json")
    again = load_settings(tmp_path / "settings.json")
    assert again == s and again.rules.rules[0].conditions[0].pattern is not None
    assert rules_to_json(again.rules)["rules"][0]["sound"] == "/x.wav"
    assert again.quiet_hours == "22:00-07:00" and again.accounts[0].sound == "default"


@pytest.mark.parametrize("pattern", [r"a*a*a*b", r"(x+x+)+y", r"(a|aa)*c", r"^(\w+\s?)*$!"])
def test_catastrophic_patterns_are_bounded(pattern: str, caplog: pytest.LogCaptureFixture
                                           ) -> None:
    """A hostile, huge header and a pattern that backtracks for hours with
    stdlib re: only MAX_TESTED characters reach it, the search has a timeout,
    and nothing raises."""
    rs = rules_of(rule("slow", {"field": "subject", "op": "regex", "value": pattern}))
    for text in (b"a" * 200_000, b"x" * 200_000, (b"ab " * 1000) + b"!"):
        start = time.perf_counter()
        evaluate(rs, b"Subject: " + text + b"\r\n\r\n")  # a match or not: in time
        assert time.perf_counter() - start < 5


def test_tested_text_is_bounded(caplog: pytest.LogCaptureFixture) -> None:
    rs = rules_of(rule("slow", {"field": "subject", "op": "regex", "value": r"(x+x+)+y"}))
    assert evaluate(rs, b"Subject: " + b"x" * 5000 + b"\r\n\r\n") is None
    assert "took too long" in caplog.text  # the timeout really fired, and was logged
    huge = b"From: " + b"<x@y>, " * 50_000 + b"\r\n\r\n"
    assert evaluate(rules_of(rule("r", {"field": "from", "op": "contains", "value": "q"})),
                    huge) is None
    assert MAX_TESTED <= 1000


# -- against Dovecot ---------------------------------------------------------------

def msg(sender: str, subject: str, extra: str = "") -> bytes:
    return (f"From: {sender}\nSubject: {subject}\n{extra}Message-ID: <{subject}@x>\n\n"
            f"body of {subject}\n").encode()


def engine(tmp_path: Path, account: DovecotAccount, rs: RuleSet) -> tuple[Engine, Mailbox]:
    eng = Engine(tmp_path / "home")
    mb = eng.mailbox(account.server.ssl_port, password=account.password,
                     username=account.user, security=Security.SSL,
                     cafile=str(account.server.cert.cert))
    mb.rules = rs
    return eng, mb


@pytest.mark.dovecot
def test_block_list_and_ignore_rule_on_dovecot(dovecot_account: DovecotAccount,
                                               tmp_path: Path) -> None:
    dovecot_account.add(msg("Friend <friend@example.org>", "hello"))
    rs = rules_of(rule("Newsletters", {"field": "header", "header": "List-Id", "op": "contains",
                                       "value": "news"}, actions=("ignore",)),
                  blocked=["spammer@bad.example"])
    _, mb = engine(tmp_path, dovecot_account, rs)
    first = mb.check()
    assert first.new_count == 1 and first.ignored == 0
    dovecot_account.add(msg("Spammer <SPAMMER@bad.example>", "cheap pills"))
    dovecot_account.add(msg("Weekly <weekly@news.example>", "newsletter 7",
                            "List-Id: <weekly.news.example>\n"))
    events: list[str] = []
    mb.listeners.append(lambda name, e: events.append(e.text))
    second = mb.check()
    sizes = mb.store.sizes(mb.name)
    heads = {h.subject: h for h in mb.cached_headers()}
    letter, spam = heads["newsletter 7"], heads["cheap pills"]
    # the newsletter is neither counted nor announced; the spam is announced and marked
    assert second.ignored == 1 and letter.uid not in second.newly_arrived
    assert second.newly_arrived == (spam.uid,)
    assert second.new_count == 2 and second.new_size == (sizes[heads["hello"].uid] or 0) + \
        (sizes[spam.uid] or 0)
    assert spam.marked and spam.rule == BLOCKED and letter.rule == "Newsletters"
    assert not letter.marked and mb.marked() == [spam.uid]
    # the rule log names rule and message; only TOP was sent, never RETR
    assert any(t.startswith(f"rule log: {BLOCKED!r} matched message {spam.uid}")
               for t in events)
    assert any("'Newsletters' matched" in t and "newsletter 7" in t for t in events)
    assert not any(t.startswith("RETR") for t in events)
    # counted out for good: the next check does not announce it either
    third = mb.check()
    assert third.newly_arrived == () and third.new_count == 2
    # "Delete marked" deletes the rule's mark with the usual path
    report = mb.delete_marked()
    assert report.deleted == (spam.uid,)
    assert sorted(p.read_bytes().split(b"\n")[1] for p in dovecot_account.files()) == [
        b"Subject: hello", b"Subject: newsletter 7"]


@pytest.mark.dovecot
def test_unmarked_by_the_user_stays_unmarked(dovecot_account: DovecotAccount,
                                             tmp_path: Path) -> None:
    dovecot_account.add(msg("s@bad.example", "one"))
    _, mb = engine(tmp_path, dovecot_account, rules_of(blocked=["@bad.example"]))
    mb.check()
    assert len(mb.marked()) == 1
    mb.unmark(mb.marked())
    mb.check()
    assert mb.marked() == []


@pytest.mark.dovecot
def test_delete_without_asking_goes_through_the_uidl_recheck(
        dovecot_account: DovecotAccount, tmp_path: Path) -> None:
    dovecot_account.add(msg("a@example.org", "keep me"))
    dovecot_account.add(msg("virus@bad.example", "open the attachment"))
    rs = rules_of(rule("Virus", {"field": "from", "op": "contains", "value": "@bad.example"},
                       delete_without_asking=True))
    _, mb = engine(tmp_path, dovecot_account, rs)
    events: list[str] = []
    mb.listeners.append(lambda name, e: events.append(e.text))
    result = mb.check()
    assert result.new_count == 2  # counted in this check; gone from the server after it
    assert [p.read_bytes().split(b"\n")[1] for p in dovecot_account.files()] == [
        b"Subject: keep me"]
    # a new session: its UIDL came before the DELE, and the deletion is logged
    uidl = [i for i, t in enumerate(events) if t.startswith("UIDL")]
    dele = [i for i, t in enumerate(events) if t.startswith("DELE")]
    assert len(dele) == 1 and any(u < dele[0] for u in uidl[1:])
    assert "rule log: deleting 1 message without asking" in events
    assert "rule log: deleted 1, gone 0, not deleted 0" in events
    assert mb.check().total_count == 1


@pytest.mark.dovecot
def test_cli_headers_check_and_rules_test(dovecot_account: DovecotAccount,
                                          secret_service: dict[str, str],
                                          tmp_path: Path) -> None:
    home = tmp_path / "home"
    write_settings(home, dovecot_account)
    data = json.loads((home / "settings.json").read_text())
    data["rules"] = [rule("Newsletters", {"field": "subject", "op": "contains",
                                          "value": "newsletter"}, actions=("ignore",))]
    data["blocked"] = ["spam@bad.example"]
    (home / "settings.json").write_text(json.dumps(data))
    dovecot_account.add(msg("Ann <ann@example.org>", "lunch"))
    dovecot_account.add(msg("Spam <spam@bad.example>", "win"))
    dovecot_account.add(msg("News <n@news.example>", "newsletter 3"))
    env = secret_service
    traymail(env, home, "set-password", stdin=dovecot_account.password + "\n")
    # rules test acts on nothing
    out = traymail(env, home, "rules", "test").stdout
    print(out)
    lines = out.splitlines()
    assert "-> no rule" in lines[0] and "lunch" in lines[0]
    assert f"-> {BLOCKED}: mark" in lines[1] and "win" in lines[1]
    assert "-> Newsletters: ignore" in lines[2]
    assert lines[3] == "2 of 3 messages match a rule (nothing was changed)"
    as_json = json.loads(traymail(env, home, "rules", "test", "--json").stdout)
    assert [r["rule"] for r in as_json] == [None, BLOCKED, "Newsletters"]
    state = Store(resolve_paths(home=home).state_db)
    try:  # rules test marked and announced nothing
        assert state.marks("dove") == {} and not any(a for a, _ in state.flags("dove").values())
    finally:
        state.close()
    # check counts the newsletter out; headers show the rule and its mark
    entry = json.loads(traymail(env, home, "check", "--json").stdout)["accounts"][0]
    assert entry["total_count"] == 3 and entry["new_count"] == 2 and entry["ignored"] == 1
    assert len(entry["newly_arrived"]) == 2
    heads = json.loads(traymail(env, home, "headers", "--json").stdout)
    assert [(h["rule"], h["marked"]) for h in heads] == [
        (None, False), (BLOCKED, True), ("Newsletters", False)]


def test_a_server_without_top_still_checks_and_never_retrs(make_devserver: object,
                                                           tmp_path: Path) -> None:
    """No TOP: the rules cannot see headers; the check goes on, says so, and
    no message body is ever fetched for a rule."""
    from traymail.devserver import Faults, MemoryMailbox
    from traymail.samples import sample_messages

    srv = make_devserver(MemoryMailbox(sample_messages(3)),  # type: ignore[operator]
                         Faults(omit=frozenset({"TOP"})))
    eng = Engine(tmp_path / "home")
    mb = eng.mailbox(srv.port)
    mb.rules = rules_of(blocked=["@example.org"])
    events: list[str] = []
    mb.listeners.append(lambda name, e: events.append(e.text))
    result = mb.check()
    assert result.new_count == 3 and mb.marked() == []
    assert any("does not support TOP" in t and t.startswith("rule log:") for t in events)
    assert not any(t.startswith(("RETR", "TOP")) for t in events)
