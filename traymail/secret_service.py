"""Read one password from the Secret Service (freedesktop.org Secret Service
API) with the four calls a console check needs, over ``jeepney`` (the D-Bus
library ``secretstorage`` itself is built on).

The item is the one keyring's Secret Service backend stores (attributes
``service`` and ``username``) in the default collection, as keyring reads
it. Whatever this cannot decide alone -- no session bus, no service, no
default collection, the item missing or locked (keyring prompts to unlock),
the service refusing the ``plain`` transfer -- is ``None``: then keyring's
own backend (``secretstorage``, encrypted session) decides and reports.

Transfer algorithm: ``plain``. The spec (§7 "Transfer of Secrets") says
the optional encryption in transit only keeps secrets out of swap and
caches, not from anyone on the bus, and calls it "of questionable value"
for applications that cannot keep their own memory from being paged out,
naming Python apps. Each check that negotiates the DH session pays
~30 ms of CPU for it (importing ``cryptography``, two 1024-bit modular
exponentiations). The session bus is the user's own (only the user's
processes connect), and they could ask the service for the item anyway.
KWallet offers only the DH algorithm: there this returns None and keyring's
backend reads the password, encrypted.
"""

from __future__ import annotations

from jeepney import DBusAddress, new_method_call
from jeepney.io.blocking import open_dbus_connection
from jeepney.wrappers import unwrap_msg

__all__ = ["lookup", "TIMEOUT"]

BUS_NAME = "org.freedesktop.secrets"
_SERVICE = DBusAddress("/org/freedesktop/secrets", bus_name=BUS_NAME,
                       interface="org.freedesktop.Secret.Service")
#: seconds for each call (a wedged daemon must not hang a check)
TIMEOUT = 10.0


def lookup(attributes: dict[str, str], timeout: float = TIMEOUT) -> str | None:
    """The secret of the first unlocked item in the default collection with
    these attributes, or None when this cannot tell (see the module text)."""
    try:
        conn = open_dbus_connection(bus="SESSION")
    except Exception:  # no session bus (a cron job without one, ...)
        return None
    try:
        def call(address: DBusAddress, method: str, signature: str | None = None,
                 body: tuple[object, ...] = ()) -> tuple[object, ...]:
            reply = conn.send_and_get_reply(new_method_call(address, method, signature, body),
                                            timeout=timeout)
            result: tuple[object, ...] = unwrap_msg(reply)
            return result

        (collection,) = call(_SERVICE, "ReadAlias", "s", ("default",))
        if not isinstance(collection, str) or collection == "/":
            return None
        unlocked, _locked = call(_SERVICE, "SearchItems", "a{ss}", (attributes,))
        # (locked ones are keyring's: it prompts to unlock them)
        items = [p for p in unlocked if p.startswith(collection + "/")]  # type: ignore[attr-defined]
        if not items:
            return None
        _output, session = call(_SERVICE, "OpenSession", "sv", ("plain", ("s", "")))
        item = DBusAddress(items[0], bus_name=BUS_NAME, interface="org.freedesktop.Secret.Item")
        (secret,) = call(item, "GetSecret", "o", (session,))
        # (session, parameters, value, content type); the session ends with
        # the connection (spec §6 "Sessions": closed when the client disconnects)
        value = secret[2] if isinstance(secret, tuple) and len(secret) == 4 else None
        if not isinstance(value, bytes):
            return None
        return value.decode("utf-8")
    except Exception:  # D-Bus errors, NotSupported, timeouts, odd replies: keyring decides
        return None
    finally:
        conn.close()
