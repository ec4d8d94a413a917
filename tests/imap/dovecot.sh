# tests/imap/dovecot.sh — a throwaway Dovecot for the IMAP tests
# (../shared/TESTING.md), sourced by an integration script after
# tests/integration/lib.sh and with PY set to Debian's python3.  Sets D
# (its folder under $T), PORT (IMAP, STARTTLS) and PORTS (implicit TLS),
# exports IMAP_PORT, IMAP_USER and IMAP_PASS for tests/imap/imapctl.py,
# makes a test CA ($D/ca.pem), a server certificate for 127.0.0.1 and
# localhost signed by it, and a second CA that did not sign it
# ($D/other.pem); defines dovecot_conf SSL(yes|no) LISTEN [CAPABILITY],
# dovecot_start, dovecot_stop and port_open, and stops Dovecot on exit.
# Starts nothing: the caller writes a configuration and starts it.
chmod 711 "$T"
D=$T/dovecot
mkdir -p "$D/mail" "$D/run" "$D/state"
chown -R dovecot:dovecot "$D/mail"
freeport() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(freeport)
PORTS=$(freeport)
export IMAP_PORT=$PORT IMAP_USER=staff IMAP_PASS=secret-Pw-4711

# A test CA and a server certificate for 127.0.0.1 and localhost; a second CA
# that did not sign it.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=Test IMAP CA" \
	-keyout "$D/ca.key" -out "$D/ca.pem" 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=Other CA" \
	-keyout "$D/other.key" -out "$D/other.pem" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
	-keyout "$D/server.key" -out "$D/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$D/ext.cnf"
openssl x509 -req -in "$D/server.csr" -CA "$D/ca.pem" -CAkey "$D/ca.key" -CAcreateserial -days 2 \
	-extfile "$D/ext.cnf" -out "$D/server.pem" 2>/dev/null
check "test certificates made" test -s "$D/server.pem"

# dovecot_conf SSL(yes|no) LISTEN [CAPABILITY]
dovecot_conf() {
	{
		echo "base_dir = $D/run"
		echo "state_dir = $D/state"
		echo "log_path = $D/dovecot.log"
		echo "protocols = imap"
		echo "listen = $2"
		echo "ssl = $1"
		if [ "$1" = yes ]; then
			echo "ssl_cert = <$D/server.pem"
			echo "ssl_key = <$D/server.key"
		fi
		echo "disable_plaintext_auth = no"
		echo "mail_location = maildir:$D/mail/%u"
		echo "passdb {"
		echo "  driver = static"
		echo "  args = password=$IMAP_PASS"
		echo "}"
		echo "userdb {"
		echo "  driver = static"
		echo "  args = uid=dovecot gid=dovecot home=$D/mail/%u"
		echo "}"
		echo "service imap-login {"
		echo "  inet_listener imap {"
		echo "    port = $PORT"
		echo "  }"
		echo "  inet_listener imaps {"
		if [ "$1" = yes ]; then echo "    port = $PORTS"; echo "    ssl = yes"; else echo "    port = 0"; fi
		echo "  }"
		echo "}"
		[ -n "${3:-}" ] && echo "imap_capability = $3"
		# Debian's dovecot user has a system uid, below the default 500.
		echo "first_valid_uid = 1"
		echo "shutdown_clients = yes"
		echo "default_internal_user = dovecot"
		echo "default_login_user = dovenull"
	} >"$D/dovecot.conf"
}
port_open() { $PY -c "import socket,sys; socket.create_connection(('127.0.0.1',$PORT),1)"; }
dovecot_start() { dovecot -c "$D/dovecot.conf" && wait_for 10 port_open; }
dovecot_stop() {
	# A stopped master leaves logged-in sessions running: kick them too,
	# as a server restart would.
	doveadm -c "$D/dovecot.conf" kick "$IMAP_USER" >/dev/null 2>&1
	doveadm -c "$D/dovecot.conf" stop >/dev/null 2>&1
	n=50; while [ $n -gt 0 ] && port_open 2>/dev/null; do sleep 0.1; n=$((n - 1)); done
}
at_exit "doveadm -c '$D/dovecot.conf' stop"
