"""Bounce parsing against the flufl.bounce and Sisimai corpora, and mangled bytes."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oak_maillist.delivery.bounces import BounceReport, parse_bounce

CORPUS = Path(os.environ.get("OAK_TEST_CORPUS", "/work/shared/corpus")) / "bounces"
FLUFL = CORPUS / "flufl-bounce-6.0.0"
SISIMAI = CORPUS / "sisimai-set-of-emails"
NOT_FAILURES = {"feedback", "vacation", "delivered"}

Json = dict[str, Any]

# --- flufl.bounce: permanent failures we do not count toward unsubscribing ------------------
#
# Keyed by file; each entry must still differ (test_flufl_exception_is_still_needed).

FULL_OR_DISABLED = "the text says quota/full mailbox/disabled account: the address may work later"
FLUFL_SOFT: dict[str, str] = {
    "bounce_03.txt": "status 2.0.13, message not collected after 30 days: not a dead address",
    "dsn_01.txt": "5.0.0 (recipient reached disk quota): a full mailbox",
    "dsn_02.txt": "Action failed with status 4.4.7 (expired): gave up retrying, no dead address",
    "dsn_04.txt": "DSN status 5.0.0 with no diagnostic: too vague to count",
    "newmailru_01.txt": FULL_OR_DISABLED,
    "postfix_04.txt": FULL_OR_DISABLED,
    "qmail_02.txt": FULL_OR_DISABLED,
    "qmail_07.txt": FULL_OR_DISABLED,
    "simple_38.txt": FULL_OR_DISABLED,
    "simple_44.txt": "status 4.4.4 in the text: a temporary routing failure",
    "yahoo_01.txt": "qmail #4.4.1, no SMTP connection: a temporary failure it gave up on",
    "yahoo_02.txt": FULL_OR_DISABLED,
    "yahoo_04.txt": FULL_OR_DISABLED,
    "yahoo_05.txt": FULL_OR_DISABLED,
    "yahoo_07.txt": FULL_OR_DISABLED,
    "yahoo_08.txt": FULL_OR_DISABLED,
    "yahoo_10.txt": FULL_OR_DISABLED,
}

# Complaints Sisimai files as feedback although they have no message/feedback-report part
# (RFC 5965): not bounces for us either; "none", or "autoreply" where Auto-Submitted is set.
NON_ARF_COMPLAINTS: dict[str, str] = {
    "arf-22.eml": "none",
    "arf-23.eml": "none",
    "arf-24.eml": "none",
    "arf-26.eml": "autoreply",
}

# --- Sisimai: where we read differently ------------------------------------------------------
#
# Keyed by file; each entry must still fail its check (test_sisimai_exception_is_still_needed).

NOT_READ = (
    "a format flufl.bounce 6.0.0 has no detector for (DragonFly, OpenSMTPD, V5 Sendmail, "
    "Notes, m-FILTER, KDDI ...) and no RFC 3464 part: no recipient is read"
)
NOT_READ_DSN = "its delivery-status part names no failed recipient with a usable address"
AUTO_SUBMITTED_BOUNCE = (
    "a bounce flufl.bounce cannot read that carries Auto-Submitted: auto-replied, so it is "
    "taken for an RFC 3834 auto-reply"
)
OTHER_RECIPIENT = (
    "we report Original-Recipient (the address we sent to, as flufl.bounce does) or the "
    "unquoted address; Sisimai 4.25.15 reports Final-Recipient or another address"
)
SAYS_DEAD = (
    "the reply's own code or words say the mailbox or domain does not exist; Sisimai files it "
    "as filtered/rejected from context (refused after DATA, carrier habits)"
)
PERMANENT_UNEXPLAINED = (
    "flufl.bounce calls it permanent and the text next to the address says nothing against "
    "the address; Sisimai's reason (full, expired, blocked ...) comes from wording we do not read"
)
NO_EVIDENCE = (
    "DSN status 5.0.0/5.5.0/5.x.x with no words naming a dead address: too vague to count; "
    "Sisimai infers a dead address from vendor wording"
)
SAYS_NOT_ADDRESS = (
    "the diagnostic has words of a temporary or non-address failure (name server error, "
    "'may not exist'): not counted; Sisimai reads the host as unknown"
)
TEMPORARY_STATUS = "the status is 4.x.x (temporary) though the action is failed: not counted"

ADDRESS_EXCEPTIONS: dict[str, str] = {
    "lhost-activehunter-01.eml": NOT_READ,
    "lhost-activehunter-02.eml": NOT_READ,
    "lhost-amazonses-09.eml": NOT_READ,
    "lhost-amazonses-10.eml": NOT_READ,
    "lhost-amazonworkmail-01.eml": NOT_READ,
    "lhost-amazonworkmail-02.eml": NOT_READ,
    "lhost-amazonworkmail-03.eml": NOT_READ,
    "lhost-amazonworkmail-04.eml": NOT_READ,
    "lhost-amazonworkmail-05.eml": NOT_READ,
    "lhost-amazonworkmail-07.eml": NOT_READ,
    "lhost-amazonworkmail-08.eml": NOT_READ,
    "lhost-aol-03.eml": OTHER_RECIPIENT,
    "lhost-apachejames-01.eml": NOT_READ,
    "lhost-domino-03.eml": OTHER_RECIPIENT,
    "lhost-dragonfly-01.eml": NOT_READ,
    "lhost-dragonfly-02.eml": NOT_READ,
    "lhost-dragonfly-03.eml": NOT_READ,
    "lhost-dragonfly-04.eml": NOT_READ,
    "lhost-dragonfly-05.eml": NOT_READ,
    "lhost-dragonfly-06.eml": NOT_READ,
    "lhost-dragonfly-07.eml": NOT_READ,
    "lhost-dragonfly-08.eml": NOT_READ,
    "lhost-dragonfly-09.eml": NOT_READ,
    "lhost-dragonfly-10.eml": NOT_READ,
    "lhost-dragonfly-11.eml": NOT_READ,
    "lhost-dragonfly-12.eml": NOT_READ,
    "lhost-dragonfly-13.eml": NOT_READ,
    "lhost-dragonfly-14.eml": NOT_READ,
    "lhost-dragonfly-15.eml": NOT_READ,
    "lhost-dragonfly-16.eml": NOT_READ,
    "lhost-dragonfly-17.eml": NOT_READ,
    "lhost-dragonfly-18.eml": NOT_READ,
    "lhost-dragonfly-19.eml": NOT_READ,
    "lhost-dragonfly-20.eml": NOT_READ,
    "lhost-dragonfly-21.eml": NOT_READ,
    "lhost-dragonfly-22.eml": NOT_READ,
    "lhost-dragonfly-23.eml": NOT_READ,
    "lhost-dragonfly-24.eml": NOT_READ,
    "lhost-dragonfly-25.eml": NOT_READ,
    "lhost-dragonfly-26.eml": NOT_READ,
    "lhost-dragonfly-27.eml": NOT_READ,
    "lhost-dragonfly-28.eml": NOT_READ,
    "lhost-dragonfly-29.eml": NOT_READ,
    "lhost-dragonfly-30.eml": NOT_READ,
    "lhost-exchange2003-04.eml": NOT_READ,
    "lhost-exchange2007-04.eml": OTHER_RECIPIENT,
    "lhost-exim-03.eml": OTHER_RECIPIENT,
    "lhost-exim-44.eml": NOT_READ_DSN,
    "lhost-exim-52.eml": AUTO_SUBMITTED_BOUNCE,
    "lhost-exim-60.eml": NOT_READ_DSN,
    "lhost-ezweb-01.eml": NOT_READ,
    "lhost-ezweb-03.eml": NOT_READ,
    "lhost-ezweb-04.eml": NOT_READ,
    "lhost-ezweb-07.eml": NOT_READ,
    "lhost-ezweb-08.eml": NOT_READ,
    "lhost-fml-02.eml": NOT_READ,
    "lhost-fml-03.eml": NOT_READ,
    "lhost-interscanmss-01.eml": NOT_READ,
    "lhost-kddi-01.eml": NOT_READ,
    "lhost-kddi-02.eml": NOT_READ,
    "lhost-kddi-03.eml": NOT_READ,
    "lhost-mailmarshalsmtp-02.eml": NOT_READ,
    "lhost-messagelabs-01.eml": NOT_READ_DSN,
    "lhost-messagingserver-03.eml": NOT_READ,
    "lhost-mfilter-01.eml": NOT_READ,
    "lhost-mfilter-02.eml": NOT_READ,
    "lhost-mfilter-03.eml": NOT_READ,
    "lhost-mfilter-04.eml": NOT_READ,
    "lhost-notes-01.eml": NOT_READ,
    "lhost-notes-02.eml": NOT_READ,
    "lhost-notes-03.eml": NOT_READ,
    "lhost-office365-01.eml": AUTO_SUBMITTED_BOUNCE,
    "lhost-office365-02.eml": NOT_READ,
    "lhost-office365-04.eml": OTHER_RECIPIENT,
    "lhost-opensmtpd-01.eml": NOT_READ,
    "lhost-opensmtpd-02.eml": NOT_READ,
    "lhost-opensmtpd-03.eml": NOT_READ,
    "lhost-opensmtpd-04.eml": NOT_READ,
    "lhost-opensmtpd-05.eml": NOT_READ,
    "lhost-postfix-01.eml": OTHER_RECIPIENT,
    "lhost-postfix-07.eml": NOT_READ,
    "lhost-postfix-32.eml": OTHER_RECIPIENT,
    "lhost-postfix-49.eml": NOT_READ,
    "lhost-postfix-50.eml": NOT_READ,
    "lhost-postfix-64.eml": NOT_READ_DSN,
    "lhost-postfix-75.eml": NOT_READ,
    "lhost-postfix-77.eml": OTHER_RECIPIENT,
    "lhost-postfix-78.eml": OTHER_RECIPIENT,
    "lhost-qmail-09.eml": NOT_READ,
    "lhost-sendgrid-03.eml": NOT_READ_DSN,
    "lhost-sendmail-14.eml": NOT_READ,
    "lhost-sendmail-15.eml": NOT_READ_DSN,
    "lhost-sendmail-54.eml": NOT_READ,
    "lhost-v5sendmail-01.eml": NOT_READ,
    "lhost-v5sendmail-02.eml": NOT_READ,
    "lhost-v5sendmail-03.eml": NOT_READ,
    "lhost-v5sendmail-04.eml": NOT_READ,
    "lhost-v5sendmail-05.eml": NOT_READ,
    "lhost-v5sendmail-06.eml": NOT_READ,
    "lhost-v5sendmail-07.eml": NOT_READ,
    "lhost-verizon-01.eml": NOT_READ,
    "lhost-verizon-02.eml": NOT_READ,
    "lhost-x1-01.eml": NOT_READ,
    "lhost-x1-02.eml": NOT_READ,
    "lhost-x6-01.eml": AUTO_SUBMITTED_BOUNCE,
    "lhost-x6-02.eml": AUTO_SUBMITTED_BOUNCE,
    "lhost-yahoo-01.eml": NOT_READ,
    "lhost-yahoo-02.eml": NOT_READ,
    "lhost-yahoo-14.eml": NOT_READ,
    "lhost-zoho-04.eml": NOT_READ,
    "rfc3464-04.eml": OTHER_RECIPIENT,
    "rfc3464-09.eml": OTHER_RECIPIENT,
    "rfc3464-35.eml": NOT_READ,
    "rhost-franceptt-07.eml": AUTO_SUBMITTED_BOUNCE,
    "rhost-google-02.eml": AUTO_SUBMITTED_BOUNCE,
    "rhost-google-03.eml": OTHER_RECIPIENT,
    "rhost-google-04.eml": OTHER_RECIPIENT,
    "rhost-google-06.eml": OTHER_RECIPIENT,
}
HARDNESS_EXCEPTIONS: dict[str, str] = {
    "lhost-amazonses-01.eml": SAYS_DEAD,
    "lhost-amazonses-02.eml": SAYS_DEAD,
    "lhost-aol-06.eml": SAYS_NOT_ADDRESS,
    "lhost-biglobe-01.eml": PERMANENT_UNEXPLAINED,
    "lhost-courier-02.eml": SAYS_DEAD,
    "lhost-domino-02.eml": NO_EVIDENCE,
    "lhost-einsundeins-02.eml": PERMANENT_UNEXPLAINED,
    "lhost-einsundeins-03.eml": PERMANENT_UNEXPLAINED,
    "lhost-exim-07.eml": PERMANENT_UNEXPLAINED,
    "lhost-exim-08.eml": PERMANENT_UNEXPLAINED,
    "lhost-exim-31.eml": SAYS_NOT_ADDRESS,
    "lhost-exim-32.eml": PERMANENT_UNEXPLAINED,
    "lhost-exim-33.eml": PERMANENT_UNEXPLAINED,
    "lhost-exim-35.eml": PERMANENT_UNEXPLAINED,
    "lhost-exim-39.eml": PERMANENT_UNEXPLAINED,
    "lhost-exim-40.eml": PERMANENT_UNEXPLAINED,
    "lhost-exim-45.eml": PERMANENT_UNEXPLAINED,
    "lhost-exim-51.eml": PERMANENT_UNEXPLAINED,
    "lhost-exim-53.eml": PERMANENT_UNEXPLAINED,
    "lhost-exim-54.eml": PERMANENT_UNEXPLAINED,
    "lhost-exim-56.eml": PERMANENT_UNEXPLAINED,
    "lhost-exim-58.eml": PERMANENT_UNEXPLAINED,
    "lhost-ezweb-05.eml": PERMANENT_UNEXPLAINED,
    "lhost-gmail-07.eml": PERMANENT_UNEXPLAINED,
    "lhost-gmail-10.eml": PERMANENT_UNEXPLAINED,
    "lhost-gmail-11.eml": PERMANENT_UNEXPLAINED,
    "lhost-gmail-15.eml": PERMANENT_UNEXPLAINED,
    "lhost-gmail-19.eml": PERMANENT_UNEXPLAINED,
    "lhost-gmx-04.eml": PERMANENT_UNEXPLAINED,
    "lhost-googlegroups-15.eml": PERMANENT_UNEXPLAINED,
    "lhost-gsuite-02.eml": NO_EVIDENCE,
    "lhost-gsuite-08.eml": SAYS_DEAD,
    "lhost-imailserver-02.eml": PERMANENT_UNEXPLAINED,
    "lhost-imailserver-04.eml": PERMANENT_UNEXPLAINED,
    "lhost-imailserver-06.eml": PERMANENT_UNEXPLAINED,
    "lhost-mailfoundry-01.eml": SAYS_DEAD,
    "lhost-mailru-07.eml": SAYS_DEAD,
    "lhost-messagelabs-03.eml": NO_EVIDENCE,
    "lhost-messagingserver-06.eml": SAYS_DEAD,
    "lhost-messagingserver-08.eml": SAYS_DEAD,
    "lhost-mxlogic-03.eml": SAYS_DEAD,
    "lhost-opensmtpd-10.eml": NO_EVIDENCE,
    "lhost-opensmtpd-12.eml": TEMPORARY_STATUS,
    "lhost-opensmtpd-17.eml": NO_EVIDENCE,
    "lhost-outlook-03.eml": NO_EVIDENCE,
    "lhost-postfix-03.eml": SAYS_DEAD,
    "lhost-postfix-05.eml": TEMPORARY_STATUS,
    "lhost-postfix-34.eml": PERMANENT_UNEXPLAINED,
    "lhost-postfix-35.eml": SAYS_DEAD,
    "lhost-qmail-04.eml": PERMANENT_UNEXPLAINED,
    "lhost-receivingses-01.eml": SAYS_DEAD,
    "lhost-receivingses-02.eml": SAYS_DEAD,
    "lhost-sendmail-02.eml": SAYS_DEAD,
    "lhost-sendmail-19.eml": SAYS_DEAD,
    "lhost-sendmail-27.eml": SAYS_DEAD,
    "lhost-sendmail-40.eml": SAYS_DEAD,
    "lhost-sendmail-48.eml": SAYS_DEAD,
    "lhost-sendmail-50.eml": SAYS_DEAD,
    "lhost-sendmail-51.eml": SAYS_DEAD,
    "lhost-sendmail-53.eml": PERMANENT_UNEXPLAINED,
    "lhost-surfcontrol-01.eml": SAYS_DEAD,
    "lhost-x2-01.eml": SAYS_DEAD,
    "lhost-x2-02.eml": SAYS_DEAD,
    "lhost-x3-02.eml": PERMANENT_UNEXPLAINED,
    "lhost-x3-05.eml": PERMANENT_UNEXPLAINED,
    "lhost-yahoo-06.eml": SAYS_DEAD,
    "lhost-zoho-02.eml": SAYS_DEAD,
    "lhost-zoho-03.eml": SAYS_DEAD,
    "lhost-zoho-05.eml": PERMANENT_UNEXPLAINED,
    "rfc3464-01.eml": SAYS_DEAD,
    "rfc3464-38.eml": PERMANENT_UNEXPLAINED,
    "rfc3464-39.eml": PERMANENT_UNEXPLAINED,
    "rhost-franceptt-03.eml": PERMANENT_UNEXPLAINED,
    "rhost-franceptt-04.eml": PERMANENT_UNEXPLAINED,
    "rhost-kddi-01.eml": SAYS_DEAD,
    "rhost-nttdocomo-01.eml": SAYS_DEAD,
    "rhost-nttdocomo-02.eml": SAYS_DEAD,
    "rhost-nttdocomo-03.eml": SAYS_DEAD,
}


def _flufl_cases() -> list[Json]:
    cases: list[Json] = json.loads((FLUFL / "expected.json").read_text())
    return cases


def _sisimai_cases() -> dict[str, Json]:
    cases: dict[str, Json] = json.loads((SISIMAI / "expected.json").read_text())
    return cases


def _flufl_report(case: Json) -> BounceReport:
    return parse_bounce((FLUFL / "messages" / case["file"]).read_bytes())


def _sisimai_path(name: str) -> Path:
    return SISIMAI / "messages" / name


def _failure_cases() -> list[str]:
    return [
        name
        for name, case in _sisimai_cases().items()
        if not name.startswith("../")
        and not {entry["reason"] for entry in case["expected"]} <= NOT_FAILURES
    ]


def _non_failure_cases() -> list[str]:
    return [
        name
        for name, case in _sisimai_cases().items()
        if not name.startswith("../")
        and {entry["reason"] for entry in case["expected"]} <= NOT_FAILURES
    ]


# --- flufl.bounce 6.0.0 ----------------------------------------------------------------------


def _flufl_wrong_class(case: Json, report: BounceReport) -> list[str]:
    """Permanent failures we did not count as hard, temporary ones we did."""
    hard = {failure.address: failure.hard for failure in report.failures}
    failures = case["flufl_bounce_6_0_0"]["all_failures"]
    wrong = [a.lower() for a in failures["permanent"] if not hard.get(a.lower(), True)]
    return wrong + [a.lower() for a in failures["temporary"] if hard.get(a.lower(), False)]


@pytest.mark.parametrize("case", _flufl_cases(), ids=lambda case: case["file"])
def test_flufl_corpus_yields_all_failures_addresses(case: Json) -> None:
    failures = case["flufl_bounce_6_0_0"]["all_failures"]
    wanted = {address.lower() for address in failures["permanent"] + failures["temporary"]}
    report = _flufl_report(case)
    assert {failure.address for failure in report.failures} == wanted
    if wanted:
        assert report.is_bounce
        assert report.kind in {"dsn", "nonstandard"}


@pytest.mark.parametrize("case", _flufl_cases(), ids=lambda case: case["file"])
def test_flufl_corpus_permanent_is_hard_and_temporary_soft(case: Json) -> None:
    if case["file"] in FLUFL_SOFT:
        return  # checked by test_flufl_exception_is_still_needed
    assert _flufl_wrong_class(case, _flufl_report(case)) == []


@pytest.mark.parametrize("name", sorted(FLUFL_SOFT))
def test_flufl_exception_is_still_needed(name: str) -> None:
    case = next(case for case in _flufl_cases() if case["file"] == name)
    report = _flufl_report(case)
    wrong = _flufl_wrong_class(case, report)
    assert wrong, f"{name} now matches flufl's class: remove it from FLUFL_SOFT"
    permanent = {a.lower() for a in case["flufl_bounce_6_0_0"]["all_failures"]["permanent"]}
    assert set(wrong) <= permanent, "only permanent failures may be read as soft"


# --- Sisimai set-of-emails -------------------------------------------------------------------


def _address_problem(name: str, report: BounceReport) -> str:
    """Why the recipients differ from Sisimai's, or "" when they agree."""
    case = _sisimai_cases()[name]
    expected, output = case["expected"], case["sisimai_4_25_15_output"]
    got = {failure.address for failure in report.failures}
    if len(expected) != len(output):
        # Sisimai 4.25.15 missed some; only the number of failed recipients can be compared.
        return "" if len(got) == len(expected) else f"{len(got)} failures, {len(expected)} expected"
    missing = {entry["recipient"].lower() for entry in output} - got
    return f"missing {sorted(missing)}" if missing else ""


def _hardness_problem(name: str, report: BounceReport) -> str:
    """Which recipients we class differently from Sisimai's `hardbounce`, or ""."""
    case = _sisimai_cases()[name]
    expected, output = case["expected"], case["sisimai_4_25_15_output"]
    hard = {failure.address: failure.hard for failure in report.failures}
    if len(expected) != len(output):
        got = sum(hard.values())
        want = sum(entry["hardbounce"] for entry in expected)
        return "" if got == want else f"{got} hard, {want} expected"
    wrong = [
        f"{row['recipient']}: {entry['reason']}"
        for entry, row in zip(expected, output, strict=True)
        if hard.get(row["recipient"].lower()) is not None
        and hard[row["recipient"].lower()] != bool(entry["hardbounce"])
    ]
    return "; ".join(wrong)


@pytest.mark.parametrize("name", _failure_cases())
def test_sisimai_bounce_yields_failed_recipients(name: str) -> None:
    report = parse_bounce(_sisimai_path(name).read_bytes())
    if name in ADDRESS_EXCEPTIONS:
        return  # checked by test_sisimai_exception_is_still_needed
    assert _address_problem(name, report) == ""
    assert report.is_bounce
    assert report.kind in {"dsn", "nonstandard"}


@pytest.mark.parametrize("name", _failure_cases())
def test_sisimai_bounce_hardness_matches_hardbounce(name: str) -> None:
    report = parse_bounce(_sisimai_path(name).read_bytes())
    if name in HARDNESS_EXCEPTIONS or name in ADDRESS_EXCEPTIONS:
        return  # checked by test_sisimai_exception_is_still_needed
    assert _hardness_problem(name, report) == ""


@pytest.mark.parametrize(
    ("name", "check"),
    [(name, "address") for name in sorted(ADDRESS_EXCEPTIONS)]
    + [(name, "hardness") for name in sorted(HARDNESS_EXCEPTIONS)],
)
def test_sisimai_exception_is_still_needed(name: str, check: str) -> None:
    report = parse_bounce(_sisimai_path(name).read_bytes())
    problem = _address_problem if check == "address" else _hardness_problem
    assert problem(name, report), f"{name} now agrees with Sisimai: remove its {check} exception"


def test_sisimai_exception_lists_do_not_overlap() -> None:
    assert not set(ADDRESS_EXCEPTIONS) & set(HARDNESS_EXCEPTIONS)
    assert set(ADDRESS_EXCEPTIONS) | set(HARDNESS_EXCEPTIONS) <= set(_failure_cases())


@pytest.mark.parametrize("name", _non_failure_cases())
def test_feedback_auto_reply_and_success_reports_are_not_bounces(name: str) -> None:
    report = parse_bounce(_sisimai_path(name).read_bytes())
    assert report.failures == []
    assert not report.is_bounce
    if name.startswith("arf-"):
        assert report.kind == NON_ARF_COMPLAINTS.get(name, "arf")
    if name.startswith("rfc3834-"):
        assert report.kind == "autoreply"


@pytest.mark.parametrize("path", sorted((SISIMAI / "not-bounces").iterdir()), ids=str)
def test_ordinary_mail_is_not_a_bounce(path: Path) -> None:
    report = parse_bounce(path.read_bytes())
    assert report == BounceReport(failures=[], is_bounce=False, kind="none")


def test_dsn_gives_status_reason_and_hardness_per_recipient() -> None:
    raw = (
        b"From: MAILER-DAEMON@example.net\r\nTo: list-bounces+tok@example.org\r\n"
        b"Subject: Undelivered Mail\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nSorry.\r\n"
        b"--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        b"Reporting-MTA: dns; mx.example.net\r\n\r\n"
        b"Final-Recipient: rfc822; Gone@Example.NET\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        b"Diagnostic-Code: smtp; 550 5.1.1 <gone@example.net>: no such user\r\n\r\n"
        b"Final-Recipient: rfc822; spam@example.net\r\nAction: failed\r\nStatus: 5.7.1\r\n"
        b"Diagnostic-Code: smtp; 550 5.7.1 Message rejected as spam\r\n\r\n"
        b"Final-Recipient: rfc822; slow@example.net\r\nAction: delayed\r\nStatus: 4.4.1\r\n\r\n"
        b"Final-Recipient: rfc822; fine@example.net\r\nAction: delivered\r\nStatus: 2.0.0\r\n"
        b"--b--\r\n"
    )
    report = parse_bounce(raw)
    assert report.kind == "dsn"
    assert report.is_bounce
    assert [(f.address, f.hard, f.status) for f in report.failures] == [
        ("gone@example.net", True, "5.1.1"),
        ("spam@example.net", False, "5.7.1"),
        ("slow@example.net", False, "4.4.1"),
    ]
    assert report.failures[0].reason == "550 5.1.1 <gone@example.net>: no such user"


def test_reason_is_bounded() -> None:
    diagnostic = b"x" * 5000
    raw = (
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; a\r\n\r\n"
        b"Final-Recipient: rfc822; a@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        b"Diagnostic-Code: smtp; " + diagnostic + b"\r\n--b--\r\n"
    )
    (failure,) = parse_bounce(raw).failures
    assert 0 < len(failure.reason) <= 200


# --- never raises ----------------------------------------------------------------------------

_SAMPLES = (
    sorted((SISIMAI / "messages").iterdir())[::40] + sorted((FLUFL / "messages").iterdir())[::10]
)


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=4000))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    assert isinstance(parse_bounce(data), BounceReport)


@settings(max_examples=150, deadline=None)
@given(
    index=st.integers(min_value=0, max_value=len(_SAMPLES) - 1),
    cuts=st.lists(st.tuples(st.integers(0, 10**6), st.binary(max_size=20)), max_size=6),
    truncate=st.integers(min_value=0, max_value=10**6),
)
def test_mangled_bounces_never_raise(
    index: int, cuts: list[tuple[int, bytes]], truncate: int
) -> None:
    raw = bytearray(_SAMPLES[index].read_bytes())
    for at, junk in cuts:
        at %= len(raw) + 1
        raw[at : at + len(junk)] = junk
    report = parse_bounce(bytes(raw[: max(truncate % (len(raw) + 1), len(raw) // 2)]))
    assert isinstance(report, BounceReport)
    assert all(f.address == f.address.lower() for f in report.failures)
