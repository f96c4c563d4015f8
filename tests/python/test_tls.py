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
    """respd-only: OpenSSL cipher keywords, TLSv1.1 and encrypted keys are refused by name."""
    s = start("respd", certs)
    try:
        c = s.client()
        with pytest.raises(redis.ResponseError, match="Unable to update TLS configuration"):
            c.config_set("tls-ciphers", "HIGH:!aNULL")
        with pytest.raises(redis.ResponseError, match="Unable to update TLS configuration"):
            c.config_set("tls-protocols", "TLSv1.1")
        with pytest.raises(redis.ResponseError, match="tls-key-file-pass"):
            c.config_set("tls-key-file-pass", "secret")
        assert c.config_get("tls-ciphers")["tls-ciphers"] == ""
        assert "respd does not support 'HIGH'" in s.log_text()
        assert client(s, certs).ping()
    finally:
        s.stop()
