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
			e, stdout, stderr := testEnv(tc.vars)
			interrupts := make(chan os.Signal, 1)
			e.interrupts = interrupts
			done := make(chan int, 1)
			ctx, cancel := context.WithTimeout(t.Context(), runLimit)
			defer cancel()
			go func() { done <- runMain(ctx, e, append([]string{"serve", "--listen", "127.0.0.1:0"}, tc.args...)) }()

			re := regexp.MustCompile(`^gateway listening on (https?)://(127\.0\.0\.1:[0-9]+)\n$`)
			var m []string
			for deadline := time.Now().Add(20 * time.Second); m == nil; {
				m = re.FindStringSubmatch(stdout.String())
				if m == nil {
					select {
					case code := <-done:
						t.Fatalf("serve exited with %d: %s", code, stderr)
					case <-time.After(10 * time.Millisecond):
					}
					if time.Now().After(deadline) {
						t.Fatalf("no listening line: stdout %q", stdout)
					}
				}
			}
			if m[1] != tc.scheme {
				t.Errorf("scheme %s, want %s", m[1], tc.scheme)
			}
			client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
				TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // the test's own self-signed certificate
			}}
			body := `{"subscribeRequest":{"expires":3600,"service":["callMe"],"localization":"English_US","useTurn":true,"notificationType":"WebSocket","supported":["RingingFeedback"],"forceLogOut":"false"}}`
			user := "callee@example.com"
			if tc.query != "" {
				user = "00ff"
			}
			resp, err := client.Post(m[1]+"://"+m[2]+"/rest/version/1/anonymous/"+user+"/subscription"+tc.query, "application/json", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&got)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("subscribe: %d %v, want %d", resp.StatusCode, got, tc.status)
			}
			if resp.Header.Get("Access-Control-Allow-Origin") == "" {
				t.Errorf("subscribe response without CORS headers")
			}
			interrupts <- os.Interrupt
			select {
			case code := <-done:
				if code != exitOK {
					t.Errorf("serve exited with %d after an interrupt: %s", code, stderr)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("serve did not stop after an interrupt")
			}
		})
	}
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
