"""TLS ports (docs/security.md): the same cases against redis-server 7.0.15 (Debian's is built with
TLS) and respd. Certificates are made at run time with openssl in a temporary directory: a CA, a
second CA (the "wrong" one), server and client certificates signed by each."""

import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from conftest import Server, free_port, respd_bin, start_redis, start_respd

OPENSSL = shutil.which("openssl")


def _run(*argv, cwd):
    subprocess.run(argv, cwd=cwd, check=True, capture_output=True, timeout=60)


def _make_ca(d, name):
    _run(OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", f"{name}.key", "-out", f"{name}.crt", "-subj", f"/CN={name}", "-days", "2", cwd=d)


def _make_cert(d, name, ca, ext):
    _run(OPENSSL, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=d)
    Path(d, f"{name}.ext").write_text(ext + "\n")
    _run(OPENSSL, "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
         "-CAcreateserial", "-out", f"{name}.crt", "-days", "2", "-extfile", f"{name}.ext", cwd=d)


SERVER_EXT = "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth"
CLIENT_EXT = "extendedKeyUsage=clientAuth"


@pytest.fixture(scope="module")
def certs():
    assert OPENSSL, "openssl is needed (apt-get install openssl; ci/test checks it)"
    d = tempfile.mkdtemp(prefix="respd-tls-")
    _make_ca(d, "ca")
    _make_ca(d, "ca2")
    _make_cert(d, "server", "ca", SERVER_EXT)
    _make_cert(d, "client", "ca", CLIENT_EXT)
    _make_cert(d, "server2", "ca2", SERVER_EXT)
    _make_cert(d, "client2", "ca2", CLIENT_EXT)
    yield Path(d)
    shutil.rmtree(d, ignore_errors=True)


def tls_args(certs, tls_port, **over):
    args = {"tls-port": str(tls_port), "tls-cert-file": str(certs / "server.crt"),
            "tls-key-file": str(certs / "server.key"), "tls-ca-cert-file": str(certs / "ca.crt")}
    args.update({k.replace("_", "-"): v for k, v in over.items()})
    out = []
    for k, v in args.items():
        out += [f"--{k}", v]
    return out


def start(kind, certs, *extra, **over):
    """A server of `kind` with a TLS port (`s.tls_port`) beside its plain one."""
    for attempt in range(5):
        tls_port = free_port()
        argv = tls_args(certs, tls_port, **over) + list(extra)
        if kind == "respd" and "port" not in over:
            # start_respd's `--port 0` would mean TLS only here (as Redis's port 0).
            argv += ["--port", str(free_port())]
        try:
            if kind == "respd":
                s = start_respd(*argv)
            elif over.get("port") == "0":
                # No plain port to wait on: the TLS one is the readiness check's.
                exe = shutil.which("redis-server") or "/usr/bin/redis-server"
                wd = tempfile.mkdtemp(prefix="redis-")
                s = Server("redis", [exe, "--bind", "127.0.0.1", "--save", "", "--dir", wd, *argv],
                           tls_port, wd, r"Ready to accept connections", own_workdir=True)
            else:
                s = start_redis(*argv)
        except Exception:
            if attempt == 4:
                raise
            continue
        s.tls_port = tls_port
        return s
    raise AssertionError("unreachable")


@pytest.fixture(params=["respd", "redis"])
def kind(request):
    return request.param


def client(s, certs, cert="client", ca="ca", **kw):
    args = {"host": "127.0.0.1", "port": s.tls_port, "ssl": True, "ssl_ca_certs": str(certs / f"{ca}.crt"),
            "socket_timeout": 5,
            # A refusal is the answer under test: no retries hiding it, no waits for them.
            "retry": Retry(NoBackoff(), 0)}
    if cert:
        args.update(ssl_certfile=str(certs / f"{cert}.crt"), ssl_keyfile=str(certs / f"{cert}.key"))
    args.update(kw)
    return redis.Redis(**args)


def refused(c):
    """Whether a client's first command fails on the TLS layer (the server refused it)."""
    try:
        c.ping()
    except (redis.ConnectionError, redis.TimeoutError, ssl.SSLError, OSError):
        return True
    finally:
        c.close()
    return False


def raw_tls(port, ca, cert=None, min_version=None, max_version=None, ciphers=None):
    """A plain `ssl` connection: its negotiated version and cipher, and whether PING answers."""
    ctx = ssl.create_default_context(cafile=str(ca))
    ctx.check_hostname = False
    if cert:
        ctx.load_cert_chain(str(cert) + ".crt", str(cert) + ".key")
    if min_version:
        ctx.minimum_version = min_version
    if max_version:
        ctx.maximum_version = max_version
    if ciphers:
        ctx.set_ciphers(ciphers)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw) as s:
            s.sendall(b"PING\r\n")
            reply = s.recv(64)
            return s.version(), s.cipher()[0], reply


def test_handshake_with_client_certificate(kind, certs):
    s = start(kind, certs)
    try:
        c = client(s, certs)
        assert c.ping()
        c.set("k", "over tls")
        # The plain port serves beside the TLS one, the same data.
        assert s.client().get("k") == b"over tls"
        value = os.urandom(16 << 20)
        c.set("big", value)
        assert c.get("big") == value
        assert s.client().strlen("big") == len(value)
    finally:
        s.stop()


def test_auth_clients_yes_refuses_a_client_without_certificate(kind, certs):
    s = start(kind, certs)
    try:
        assert refused(client(s, certs, cert=None))
        # A certificate from another CA is refused too.
        assert refused(client(s, certs, cert="client2"))
        assert client(s, certs).ping()
        assert s.alive()
    finally:
        s.stop()


def test_auth_clients_no_and_optional(kind, certs):
    s = start(kind, certs, tls_auth_clients="no")
    try:
        assert client(s, certs, cert=None).ping()
    finally:
        s.stop()
    s = start(kind, certs, tls_auth_clients="optional")
    try:
        assert client(s, certs, cert=None).ping()
        assert client(s, certs).ping()
        assert refused(client(s, certs, cert="client2"))
    finally:
        s.stop()


def test_client_checks_the_server_certificate(kind, certs):
    """redis-py's ssl_cert_reqs: the server's certificate checked against the client's CA."""
    s = start(kind, certs, tls_auth_clients="no")
    try:
        assert refused(client(s, certs, cert=None, ca="ca2", ssl_cert_reqs="required"))
        assert client(s, certs, cert=None, ca="ca2", ssl_cert_reqs="none").ping()
    finally:
        s.stop()


def test_protocols_and_ciphersuites(kind, certs):
    s = start(kind, certs, tls_protocols="TLSv1.2")
    try:
        version, _, reply = raw_tls(s.tls_port, certs / "ca.crt", certs / "client")
        assert (version, reply) == ("TLSv1.2", b"+PONG\r\n")
        with pytest.raises((ssl.SSLError, OSError)):
            raw_tls(s.tls_port, certs / "ca.crt", certs / "client", min_version=ssl.TLSVersion.TLSv1_3)
    finally:
        s.stop()
    s = start(kind, certs, tls_ciphersuites="TLS_CHACHA20_POLY1305_SHA256",
              tls_ciphers="ECDHE-ECDSA-AES128-GCM-SHA256")
    try:
        assert raw_tls(s.tls_port, certs / "ca.crt", certs / "client")[:2] == (
            "TLSv1.3", "TLS_CHACHA20_POLY1305_SHA256")
        v12 = raw_tls(s.tls_port, certs / "ca.crt", certs / "client", max_version=ssl.TLSVersion.TLSv1_2)
        assert v12[:2] == ("TLSv1.2", "ECDHE-ECDSA-AES128-GCM-SHA256")
    finally:
        s.stop()


def test_port_0_serves_tls_only(kind, certs):
    s = start(kind, certs, port="0")
    try:
        assert client(s, certs).ping()
        assert client(s, certs).config_get("port") == {"port": "0"}
        if kind == "respd":
            # One listener: the TLS one (respd logs one "ready" line per listener).
            assert s.log_text().count("ready to accept connections on") == 1
    finally:
        s.stop()


def test_config_set_reloads_the_certificate(kind, certs):
    s = start(kind, certs, tls_auth_clients="no")
    try:
        old = client(s, certs, cert=None)
        assert old.ping()
        admin = s.client()
        # A file that cannot be loaded is refused and nothing changes.
        with pytest.raises(redis.ResponseError, match="Unable to update TLS configuration"):
            admin.config_set("tls-cert-file", "/nonexistent/server.crt")
        assert admin.config_get("tls-cert-file")["tls-cert-file"] == str(certs / "server.crt")
        assert client(s, certs, cert=None).ping()
        admin.execute_command("CONFIG", "SET", "tls-cert-file", str(certs / "server2.crt"),
                              "tls-key-file", str(certs / "server2.key"))
        assert admin.config_get("tls-cert-file")["tls-cert-file"] == str(certs / "server2.crt")
        # New connections get the new certificate: trusted through ca2 only.
        assert client(s, certs, cert=None, ca="ca2").ping()
        assert refused(client(s, certs, cert=None, ca="ca"))
        # An open connection keeps its session.
        assert old.ping()
        # The CA for client certificates reloads too: ca2's clients now, ca's refused.
        admin.config_set("tls-ca-cert-file", str(certs / "ca2.crt"))
        admin.config_set("tls-auth-clients", "yes")
        assert client(s, certs, cert="client2", ca="ca2").ping()
        assert refused(client(s, certs, cert="client", ca="ca2"))
    finally:
        s.stop()


def test_garbage_instead_of_a_handshake(kind, certs):
    s = start(kind, certs)
    try:
        for junk in (b"PING\r\n", os.urandom(4096), b"\x16\x03\x01\xff\xff" + b"\0" * 100):
            with socket.create_connection(("127.0.0.1", s.tls_port), timeout=10) as raw:
                raw.sendall(junk)
                try:
                    got = raw.recv(4096)
                    # Either a TLS alert or the close; never a RESP reply.
                    assert not got.startswith(b"+") and not got.startswith(b"-ERR")
                except (ConnectionResetError, socket.timeout):
                    pass
        # A client that connects and says nothing does not hold the others up.
        idle = socket.create_connection(("127.0.0.1", s.tls_port), timeout=10)
        assert client(s, certs).ping()
        idle.close()
        assert s.alive() and s.client().ping()
    finally:
        s.stop()


def test_redis_cli_tls(kind, certs):
    s = start(kind, certs)
    try:
        out = subprocess.run(
            ["redis-cli", "--tls", "--cacert", str(certs / "ca.crt"), "--cert", str(certs / "client.crt"),
             "--key", str(certs / "client.key"), "-h", "127.0.0.1", "-p", str(s.tls_port), "PING"],
            capture_output=True, text=True, timeout=30)
        assert out.stdout.strip() == "PONG", out.stderr
    finally:
        s.stop()


@pytest.mark.parametrize("missing", ["tls-cert-file", "tls-key-file", "tls-ca-cert-file"])
def test_tls_port_without_certificate_is_refused_at_start(kind, certs, missing):
    exe = respd_bin() if kind == "respd" else (shutil.which("redis-server") or "/usr/bin/redis-server")
    args = tls_args(certs, free_port())
    i = args.index(f"--{missing}")
    del args[i:i + 2]
    wd = tempfile.mkdtemp(prefix=f"{kind}-tls-")
    try:
        p = subprocess.run([exe, "--port", str(free_port()), "--bind", "127.0.0.1", "--save", "", *args],
                           cwd=wd, capture_output=True, text=True, timeout=30)
    finally:
        shutil.rmtree(wd, ignore_errors=True)
    assert p.returncode == 1
    assert "Failed to configure TLS" in p.stdout + p.stderr


def test_respd_refuses_what_rustls_cannot_do(certs):
    """respd-only: OpenSSL cipher keywords and TLSv1.1 are refused by name."""
    s = start("respd", certs)
    try:
        c = s.client()
        with pytest.raises(redis.ResponseError, match="Unable to update TLS configuration"):
            c.config_set("tls-ciphers", "HIGH:!aNULL")
        with pytest.raises(redis.ResponseError, match="Unable to update TLS configuration"):
            c.config_set("tls-protocols", "TLSv1.1")
        assert c.config_get("tls-ciphers")["tls-ciphers"] == ""
        assert "respd does not support 'HIGH'" in s.log_text()
        assert client(s, certs).ping()
    finally:
        s.stop()


# --- tls-key-file-pass: encrypted private keys, made by openssl here in each form it writes.
PASS = "s3cret pass"
# name -> (the unencrypted key it is made from, openssl's arguments after `-in KEY -out OUT`)
ENCRYPTED_FORMS = {
    # OpenSSL 3's default: PKCS#8, PBES2, PBKDF2-HMAC-SHA256, AES-256-CBC.
    "ec-pkcs8-aes256": ("server", ["pkey", "-aes256"]),
    "rsa-pkcs8-aes256": ("rsa", ["pkey", "-aes256"]),
    "ec-pkcs8-aes128-sha1": ("server", ["pkcs8", "-topk8", "-v2", "aes128", "-v2prf", "hmacWithSHA1"]),
    "ec-pkcs8-aes192": ("server", ["pkcs8", "-topk8", "-v2", "aes192"]),
    "ec-pkcs8-scrypt": ("server", ["pkcs8", "-topk8", "-scrypt"]),
    "rsa-pkcs8-des3": ("rsa", ["pkcs8", "-topk8", "-v2", "des3"]),
    # The legacy PEM: Proc-Type: 4,ENCRYPTED, DEK-Info (EVP_BytesToKey with MD5).
    "rsa-legacy-aes256": ("rsa", ["rsa", "-aes256", "-traditional"]),
    "rsa-legacy-des3": ("rsa", ["rsa", "-des3", "-traditional"]),
    "ec-legacy-aes128": ("server", ["ec", "-aes128"]),
}


def _encrypt(d, src, argv, out, password=PASS):
    _run(OPENSSL, argv[0], "-in", f"{src}.key", "-out", out, *argv[1:], "-passout", f"pass:{password}",
         cwd=d)
    return Path(d, out)


@pytest.fixture(scope="module")
def enc(certs):
    """An RSA server certificate beside the EC one, and every encrypted form of their keys."""
    d = str(certs)
    _run(OPENSSL, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "rsa.key", "-out", "rsa.csr",
         "-subj", "/CN=rsa", cwd=d)
    Path(d, "rsa.ext").write_text(SERVER_EXT + "\n")
    _run(OPENSSL, "x509", "-req", "-in", "rsa.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
         "-out", "rsa.crt", "-days", "2", "-extfile", "rsa.ext", cwd=d)
    for name, (src, argv) in ENCRYPTED_FORMS.items():
        _encrypt(d, src, argv, f"{name}.key")
    # server2's key (another CA's certificate) encrypted, for CONFIG SET reloads.
    _encrypt(d, "server2", ["pkey", "-aes256"], "server2-enc.key", password="other pass")
    return certs


def _begin(path):
    return path.read_text().splitlines()[0]


@pytest.mark.parametrize("form", list(ENCRYPTED_FORMS))
def test_encrypted_key_is_read_with_its_password(kind, enc, form):
    key = enc / f"{form}.key"
    src = ENCRYPTED_FORMS[form][0]
    # The file is the form it claims to be.
    text = key.read_text()
    assert ("Proc-Type: 4,ENCRYPTED" in text) == ("legacy" in form)
    assert (_begin(key) == "-----BEGIN ENCRYPTED PRIVATE KEY-----") == ("pkcs8" in form)
    s = start(kind, enc, tls_auth_clients="no", tls_cert_file=str(enc / f"{src}.crt"),
              tls_key_file=str(key), tls_key_file_pass=PASS)
    try:
        c = client(s, enc, cert=None)
        assert c.set("k", "v") and c.get("k") == b"v"
        c.close()
    finally:
        s.stop()


def test_encrypted_key_with_redis_cli(kind, enc):
    s = start(kind, enc, tls_key_file=str(enc / "ec-pkcs8-aes256.key"), tls_key_file_pass=PASS)
    try:
        out = subprocess.run(
            ["redis-cli", "--tls", "--cacert", str(enc / "ca.crt"), "--cert", str(enc / "client.crt"),
             "--key", str(enc / "client.key"), "-h", "127.0.0.1", "-p", str(s.tls_port), "PING"],
            capture_output=True, text=True, timeout=30)
        assert out.stdout.strip() == "PONG", out.stderr
    finally:
        s.stop()


def _start_fails(kind, argv):
    exe = respd_bin() if kind == "respd" else (shutil.which("redis-server") or "/usr/bin/redis-server")
    wd = tempfile.mkdtemp(prefix=f"{kind}-tls-")
    try:
        p = subprocess.run([exe, "--port", str(free_port()), "--bind", "127.0.0.1", "--save", "", *argv],
                           cwd=wd, capture_output=True, text=True, timeout=30)
    finally:
        shutil.rmtree(wd, ignore_errors=True)
    return p.returncode, p.stdout + p.stderr


@pytest.mark.parametrize("form", ["ec-pkcs8-aes256", "rsa-legacy-aes256"])
@pytest.mark.parametrize("password", [None, "wrong"])
def test_wrong_or_missing_password_stops_the_start(kind, enc, form, password):
    key = enc / f"{form}.key"
    src = ENCRYPTED_FORMS[form][0]
    argv = tls_args(enc, free_port(), tls_auth_clients="no", tls_cert_file=str(enc / f"{src}.crt"),
                    tls_key_file=str(key))
    if password is not None:
        argv += ["--tls-key-file-pass", password]
    code, out = _start_fails(kind, argv)
    # Both log the file that failed, as Redis's "Failed to load private key: FILE: reason".
    assert code == 1, out
    assert "Failed to configure TLS" in out
    assert f"Failed to load private key: {key}" in out
    if kind == "respd":
        assert ("bad decrypt" if password else "no password is set (tls-key-file-pass)") in out, out


def test_config_set_reloads_an_encrypted_key(kind, enc):
    s = start(kind, enc, tls_auth_clients="no")
    try:
        admin = s.client()

        def settings():
            got = admin.config_get("tls-*")
            return got["tls-cert-file"], got["tls-key-file"], got["tls-key-file-pass"]

        before = settings()
        assert before == (str(enc / "server.crt"), str(enc / "server.key"), "")
        enc2 = str(enc / "server2-enc.key")
        # No password, then a wrong one: refused, every value as before, the old key still served.
        for extra in ([], ["tls-key-file-pass", "wrong"]):
            with pytest.raises(redis.ResponseError, match="Unable to update TLS configuration"):
                admin.execute_command("CONFIG", "SET", "tls-cert-file", str(enc / "server2.crt"),
                                      "tls-key-file", enc2, *extra)
            assert settings() == before
            assert client(s, enc, cert=None).ping()
        admin.execute_command("CONFIG", "SET", "tls-cert-file", str(enc / "server2.crt"),
                              "tls-key-file", enc2, "tls-key-file-pass", "other pass")
        assert settings() == (str(enc / "server2.crt"), enc2, "other pass")
        # New connections get the new certificate: trusted through ca2 only.
        assert client(s, enc, cert=None, ca="ca2").ping()
        assert refused(client(s, enc, cert=None, ca="ca"))
        # Changing the password alone reloads the key with it: a wrong one is refused and reverted.
        with pytest.raises(redis.ResponseError, match="Unable to update TLS configuration"):
            admin.config_set("tls-key-file-pass", "wrong")
        assert settings()[2] == "other pass"
        # Another key, encrypted with the same password as before: only the key file changes.
        admin.execute_command("CONFIG", "SET", "tls-cert-file", str(enc / "rsa.crt"),
                              "tls-key-file", str(enc / "rsa-pkcs8-aes256.key"), "tls-key-file-pass", PASS)
        assert client(s, enc, cert=None, ca="ca").ping()
        assert s.alive()
    finally:
        s.stop()


def test_unsupported_legacy_cipher_is_refused_by_name(enc):
    """respd-only: a legacy PEM cipher outside AES-CBC and DES-EDE3-CBC is named in the log."""
    key = _encrypt(str(enc), "rsa", ["rsa", "-camellia256", "-traditional"], "rsa-camellia.key")
    s = start("respd", enc, tls_auth_clients="no")
    try:
        c = s.client()
        with pytest.raises(redis.ResponseError, match="Unable to update TLS configuration"):
            c.execute_command("CONFIG", "SET", "tls-cert-file", str(enc / "rsa.crt"), "tls-key-file", str(key),
                              "tls-key-file-pass", PASS)
        assert "CAMELLIA-256-CBC is not supported" in s.log_text()
        assert client(s, enc, cert=None).ping()
    finally:
        s.stop()


def test_password_with_a_plain_key_is_ignored(kind, enc):
    """OpenSSL asks for the password only for an encrypted key; a plain one loads whatever it is."""
    s = start(kind, enc, tls_auth_clients="no", tls_key_file_pass="unused")
    try:
        assert client(s, enc, cert=None).ping()
        s.client().config_set("tls-key-file-pass", "other")
        assert client(s, enc, cert=None).ping()
    finally:
        s.stop()
