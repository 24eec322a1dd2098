package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestServe starts `loadgen serve` in-process (plain and TLS, regular and
// token mode), subscribes over real HTTP, and stops it with an interrupt.
func TestServe(t *testing.T) {
	cert, key := selfSigned(t)
	tests := []struct {
		name   string
		args   []string
		vars   map[string]string
		scheme string
		query  string
		status int
	}{
		{"plain", nil, nil, "http", "", http.StatusOK},
		{"tls", []string{"--tls-cert", cert, "--tls-key", key}, nil, "https", "", http.StatusOK},
		{"token mode refuses a bad token", []string{"--token-key-env", "GWKEY", "--realm", "realm-test"},
			map[string]string{"GWKEY": "0123456789abcdef"}, "http", "?tokenrealm=realm-test", http.StatusForbidden},
		{"token mode refuses an unknown realm", []string{"--token-key-env", "GWKEY", "--realm", "realm-test"},
			map[string]string{"GWKEY": "0123456789abcdef"}, "http", "?tokenrealm=other", http.StatusForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sv := startServe(t, tc.args, tc.vars)
			if sv.scheme != tc.scheme {
				t.Errorf("scheme %s, want %s", sv.scheme, tc.scheme)
			}
			user := "callee@example.com"
			if tc.query != "" {
				user = "00ff"
			}
			resp := sv.subscribe(t, user, tc.query)
			if resp.StatusCode != tc.status {
				t.Errorf("subscribe: %d, want %d", resp.StatusCode, tc.status)
			}
			if resp.Header.Get("Access-Control-Allow-Origin") == "" {
				t.Errorf("subscribe response without CORS headers")
			}
			if code := sv.interrupt(t); code != exitOK {
				t.Errorf("serve exited with %d after an interrupt: %s", code, sv.stderr)
			}
		})
	}
}

// served is one in-process `loadgen serve`.
type served struct {
	scheme, addr   string
	stdout, stderr *syncBuffer
	interrupts     chan os.Signal
	done           chan int
	client         *http.Client
}

// startServe runs `loadgen serve --listen 127.0.0.1:0 args...` in-process
// and waits for its listening line.
func startServe(t *testing.T, args []string, vars map[string]string) *served {
	t.Helper()
	e, stdout, stderr := testEnv(vars)
	sv := &served{stdout: stdout, stderr: stderr, interrupts: make(chan os.Signal, 1), done: make(chan int, 1)}
	e.interrupts = sv.interrupts
	ctx, cancel := context.WithTimeout(context.Background(), runLimit)
	t.Cleanup(cancel)
	go func() { sv.done <- runMain(ctx, e, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)) }()
	re := regexp.MustCompile(`^gateway listening on (https?)://(127\.0\.0\.1:[0-9]+)\n$`)
	var m []string
	for deadline := time.Now().Add(20 * time.Second); m == nil; {
		m = re.FindStringSubmatch(stdout.String())
		if m != nil {
			break
		}
		select {
		case code := <-sv.done:
			t.Fatalf("serve exited with %d: %s", code, stderr)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no listening line: stdout %q", stdout)
		}
	}
	sv.scheme, sv.addr = m[1], m[2]
	sv.client = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // the test's own self-signed certificate
	}}
	t.Cleanup(sv.client.CloseIdleConnections)
	return sv
}

// subscribe posts the SDK's subscription request for user.
func (sv *served) subscribe(t *testing.T, user, query string) *http.Response {
	t.Helper()
	body := `{"subscribeRequest":{"expires":3600,"service":["callMe"],"localization":"English_US","useTurn":true,"notificationType":"WebSocket","supported":["RingingFeedback"],"forceLogOut":"false"}}`
	resp, err := sv.client.Post(sv.scheme+"://"+sv.addr+"/rest/version/1/anonymous/"+user+"/subscription"+query, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	return resp
}

// interrupt sends SIGINT and returns the exit code.
func (sv *served) interrupt(t *testing.T) int {
	t.Helper()
	sv.interrupts <- os.Interrupt
	select {
	case code := <-sv.done:
		return code
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop after an interrupt")
	}
	return -1
}

// TestServeLogLevel checks --log-level: structured text logs on stderr,
// warnings and above by default, debug on request, bad levels refused.
func TestServeLogLevel(t *testing.T) {
	t.Run("debug", func(t *testing.T) {
		sv := startServe(t, []string{"--log-level", "debug"}, nil)
		sv.subscribe(t, "callee@example.com", "")
		if code := sv.interrupt(t); code != exitOK {
			t.Fatalf("exit %d: %s", code, sv.stderr)
		}
		for _, want := range []string{`level=DEBUG msg="subscription created"`, `level=INFO msg="gateway shutting down"`} {
			if !strings.Contains(sv.stderr.String(), want) {
				t.Errorf("stderr lacks %s:\n%s", want, sv.stderr)
			}
		}
	})
	t.Run("default warn", func(t *testing.T) {
		sv := startServe(t, nil, nil)
		sv.subscribe(t, "callee@example.com", "")
		if code := sv.interrupt(t); code != exitOK {
			t.Fatalf("exit %d: %s", code, sv.stderr)
		}
		if got := sv.stderr.String(); strings.Contains(got, "level=INFO") || strings.Contains(got, "level=DEBUG") {
			t.Errorf("info or debug records at the default level:\n%s", got)
		}
	})
	t.Run("bad level", func(t *testing.T) {
		e, _, stderr := testEnv(nil)
		if code := runMain(t.Context(), e, []string{"serve", "--listen", "127.0.0.1:0", "--log-level", "loud"}); code != exitUsage {
			t.Errorf("exit %d, want %d: %s", code, exitUsage, stderr)
		}
	})
}

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "loadgen test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestServeMetrics serves the gateway's metrics with --metrics-listen and
// reads them after a subscription.
func TestServeMetrics(t *testing.T) {
	sv := startServe(t, []string{"--metrics-listen", "127.0.0.1:0"}, nil)
	re := regexp.MustCompile(`gateway metrics on (http://127\.0\.0\.1:[0-9]+/metrics)\n`)
	var m []string
	for deadline := time.Now().Add(20 * time.Second); m == nil; time.Sleep(10 * time.Millisecond) {
		if m = re.FindStringSubmatch(sv.stderr.String()); m == nil && time.Now().After(deadline) {
			t.Fatalf("no metrics line on stderr: %q", sv.stderr)
		}
	}
	sv.subscribe(t, "callee@example.com", "")
	resp, err := sv.client.Get(m[1])
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
	}
	for _, want := range []string{"loadgen_gateway_subscriptions_open 1\n", "loadgen_gateway_websockets_open 0\n",
		`loadgen_gateway_calls_ended_total{reason="client_delete"} 0` + "\n", "loadgen_gateway_notifications_dropped_total 0\n"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q:\n%s", want, body)
		}
	}
	if code := sv.interrupt(t); code != exitOK {
		t.Errorf("exit %d: %s", code, sv.stderr)
	}
}
