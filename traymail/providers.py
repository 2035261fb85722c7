"""The built-in table of big mail providers: POP3 settings and what the user
must know (turn POP on, use an app password, OAuth2), with the help page.

Domains map to a provider directly; custom domains hosted by a provider are
recognised by their MX hosts (Google Workspace, Microsoft 365, ...).
Settings are the providers' published ones (links in each entry).
"""

from __future__ import annotations

from dataclasses import dataclass

from .i18n import N_

__all__ = ["Provider", "PROVIDERS", "by_domain", "by_mx"]


@dataclass(frozen=True)
class Provider:
    key: str
    name: str
    host: str | None         # None: the provider offers no POP3
    port: int = 995
    security: str = "ssl"    # "ssl" | "starttls" | "none"
    auth: str = "password"   # "password" | "oauth2"
    oauth2_provider: str | None = None  # "microsoft" | "google" (settings oauth2.provider)
    domains: tuple[str, ...] = ()
    mx_suffixes: tuple[str, ...] = ()   # MX host names ending so are this provider's
    notes: tuple[str, ...] = ()  # English (N_): the UI shows them through _()
    url: str | None = None   # the provider's help page for POP/app passwords

    @property
    def pop(self) -> bool:
        return self.host is not None


_GMAIL_NOTE = (N_("Gmail: turn on POP in Gmail settings (See all settings > Forwarding and "
               "POP/IMAP) and use an app password (needs 2-Step Verification); your normal "
               "password will not work."))
_MS_NOTE = (N_("Microsoft turned off passwords (basic authentication) for POP: traymail signs "
            "in through Microsoft's page (OAuth2). POP must be allowed for the mailbox."))

PROVIDERS: tuple[Provider, ...] = (
    Provider("gmail", "Gmail", "pop.gmail.com", domains=("gmail.com", "googlemail.com"),
             notes=(_GMAIL_NOTE,), url="https://support.google.com/mail/answer/7104828"),
    Provider("google-workspace", "Google Workspace", "pop.gmail.com", auth="oauth2",
             oauth2_provider="google",
             mx_suffixes=("aspmx.l.google.com", ".google.com", ".googlemail.com"),
             notes=(N_("Google Workspace: POP must be on in Gmail settings (and allowed by your "
                    "administrator); traymail signs in through Google's page (OAuth2)."),),
             url="https://support.google.com/mail/answer/7104828"),
    Provider("outlook", "Outlook.com", "outlook.office365.com", auth="oauth2",
             oauth2_provider="microsoft",
             domains=("outlook.com", "hotmail.com", "live.com", "msn.com", "passport.com",
                      "outlook.de", "outlook.fr", "outlook.es", "outlook.it", "outlook.jp",
                      "hotmail.co.uk", "hotmail.de", "hotmail.fr", "hotmail.it", "hotmail.es",
                      "live.co.uk", "live.de", "live.fr", "live.it", "live.nl", "live.ca",
                      "live.com.au", "windowslive.com"),
             notes=(_MS_NOTE, N_("Outlook.com: turn on POP in Settings > Mail > Forwarding and "
                    "IMAP (\"Let devices and apps use POP\").")),
             url="https://support.microsoft.com/en-us/office/"
                 "pop-imap-and-smtp-settings-for-outlook-com-d088b986-291d-42b8-9564-9c414e2aa040"),
    Provider("microsoft365", "Microsoft 365", "outlook.office365.com", auth="oauth2",
             oauth2_provider="microsoft", mx_suffixes=(".mail.protection.outlook.com",),
             notes=(_MS_NOTE, N_("Microsoft 365: your administrator must enable POP for your "
                    "mailbox.")),
             url="https://learn.microsoft.com/en-us/exchange/clients-and-mobile-in-exchange-"
                 "online/pop3-and-imap4/pop3-and-imap4"),
    Provider("yahoo", "Yahoo Mail", "pop.mail.yahoo.com",
             domains=("yahoo.com", "ymail.com", "rocketmail.com", "yahoo.co.uk", "yahoo.fr",
                      "yahoo.de", "yahoo.it", "yahoo.es", "yahoo.ca", "yahoo.com.au",
                      "yahoo.co.in", "yahoo.co.jp", "yahoo.com.br"),
             mx_suffixes=(".yahoodns.net",),
             notes=(N_("Yahoo: generate an app password (Account security > Generate app "
                    "password) and use it instead of your normal password."),),
             url="https://help.yahoo.com/kb/SLN15241.html"),
    Provider("aol", "AOL Mail", "pop.aol.com", domains=("aol.com", "aim.com", "aol.co.uk",
                                                        "love.com", "ygm.com", "games.com"),
             notes=(N_("AOL: generate an app password (Account security > Generate app "
                    "password) and use it instead of your normal password."),),
             url="https://help.aol.com/articles/Create-and-manage-app-password"),
    Provider("icloud", "iCloud Mail", None, domains=("icloud.com", "me.com", "mac.com"),
             mx_suffixes=(".mail.icloud.com",),
             notes=(N_("iCloud Mail has no POP3: Apple offers only IMAP, which traymail does not "
                    "speak. Forward your mail to a POP account, or use a mail app with IMAP."),),
             url="https://support.apple.com/en-us/102525"),
    Provider("yandex", "Yandex Mail", "pop.yandex.com",
             domains=("yandex.ru", "yandex.com", "ya.ru", "yandex.by", "yandex.kz",
                      "yandex.ua", "narod.ru"),
             mx_suffixes=("mx.yandex.net", "mx.yandex.ru"),
             notes=(N_("Yandex: allow access by mail clients (Settings > Email clients > POP3) "
                    "and use an app password."),),
             url="https://yandex.com/support/mail/mail-clients/others.html"),
    Provider("mailru", "Mail.ru", "pop.mail.ru",
             domains=("mail.ru", "inbox.ru", "list.ru", "bk.ru", "internet.ru", "mail.ua"),
             mx_suffixes=("mxs.mail.ru",),
             notes=(N_("Mail.ru: create a password for external applications and use it "
                    "instead of your normal password."),),
             url="https://help.mail.ru/mail/security/protection/external"),
    Provider("gmx-net", "GMX", "pop.gmx.net", domains=("gmx.net", "gmx.de", "gmx.at",
                                                      "gmx.ch", "gmx.li"),
             notes=(N_("GMX: turn on POP3/IMAP access in the GMX settings (E-Mail > "
                    "POP3/IMAP) first."),),
             url="https://hilfe.gmx.net/pop-imap/einschalten.html"),
    Provider("gmx-com", "GMX", "pop.gmx.com", domains=("gmx.com", "gmx.us", "gmx.co.uk",
                                                      "gmx.fr", "gmx.es", "gmx.it"),
             notes=(N_("GMX: turn on POP3/IMAP access in the GMX settings (E-mail > POP3 & "
                    "IMAP) first."),),
             url="https://support.gmx.com/pop-imap/toggle.html"),
    Provider("webde", "WEB.DE", "pop3.web.de", domains=("web.de",),
             notes=(N_("WEB.DE: turn on POP3/IMAP access in the WEB.DE settings (E-Mail > "
                    "POP3/IMAP) first."),),
             url="https://hilfe.web.de/pop-imap/einschalten.html"),
    Provider("zoho", "Zoho Mail", "pop.zoho.com", domains=("zoho.com", "zohomail.com"),
             mx_suffixes=("mx.zoho.com", "mx2.zoho.com", "mx3.zoho.com"),
             notes=(N_("Zoho: turn on POP access (Settings > Mail Accounts > POP/IMAP Access); "
                    "with two-factor authentication use an app-specific password."),),
             url="https://www.zoho.com/mail/help/pop-access.html"),
    Provider("zoho-eu", "Zoho Mail (EU)", "pop.zoho.eu", domains=("zoho.eu", "zohomail.eu"),
             mx_suffixes=("mx.zoho.eu", "mx2.zoho.eu", "mx3.zoho.eu"),
             notes=(N_("Zoho: turn on POP access (Settings > Mail Accounts > POP/IMAP Access); "
                    "with two-factor authentication use an app-specific password."),),
             url="https://www.zoho.com/mail/help/pop-access.html"),
    Provider("fastmail", "Fastmail", "pop.fastmail.com",
             domains=("fastmail.com", "fastmail.fm", "fastmail.net", "fastmail.org",
                      "fastmail.us", "messagingengine.com"),
             mx_suffixes=(".messagingengine.com",),
             notes=(N_("Fastmail: create an app password (Settings > Privacy & Security > "
                    "Integrations > App passwords) with POP access."),),
             url="https://www.fastmail.help/hc/en-us/articles/"
                 "1500000278342-Server-names-and-ports"),
)

_BY_DOMAIN = {d: p for p in PROVIDERS for d in p.domains}


def by_domain(domain: str) -> Provider | None:
    return _BY_DOMAIN.get(domain.lower().rstrip("."))


def by_mx(mx_host: str) -> Provider | None:
    """The provider whose mail exchangers these are (custom domains)."""
    host = mx_host.lower().rstrip(".")
    for p in PROVIDERS:
        for suffix in p.mx_suffixes:
            if host == suffix.lstrip(".") or host.endswith(suffix if suffix.startswith(".")
                                                           else "." + suffix):
                return p
    return None
