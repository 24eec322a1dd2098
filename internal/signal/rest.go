package signal

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"
)

// restRequest is one REST exchange.
type restRequest struct {
	step       Step
	method     string
	url        string // full URL, query included
	body       any    // nil: no body
	timeout    time.Duration
	ignoreBody bool // DELETE callSessions: any 2xx body is fine (§3.6)
}

// restResponse is a successful (2xx) answer. body is nil for 204 and for
// ignored bodies, otherwise valid JSON.
type restResponse struct {
	status int
	body   []byte
}

// encodeJSON marshals v without HTML escaping (so "Name<sip:…>" goes out as
// the SDK's JSON.stringify writes it) and without a trailing newline.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// do sends r with the §3.3 headers and applies the §3.6 response rules.
func (c *Client) do(ctx context.Context, r restRequest) (restResponse, error) {
	if err := ctx.Err(); err != nil {
		return restResponse{}, transportError(r.step, ctx, r.timeout, err)
	}
	var rd io.Reader
	if r.body != nil {
		b, err := encodeJSON(r.body)
		if err != nil {
			return restResponse{}, usageError(r.step, "encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	rctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, r.method, r.url, rd)
	if err != nil {
		return restResponse{}, usageError(r.step, "build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-Cpaas-Agent", c.agent)
	resp, err := c.http.Do(req)
	if err != nil {
		return restResponse{}, transportError(r.step, ctx, r.timeout, err)
	}
	// The body is read (bounded) below; closing it only releases the connection.
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBodyBytes+1))
	if err != nil {
		return restResponse{}, transportError(r.step, ctx, r.timeout, err)
	}
	if len(body) > MaxBodyBytes {
		if resp.StatusCode/100 == 2 {
			return restResponse{}, badResponse(r.step, resp.StatusCode, "body larger than %d bytes", MaxBodyBytes)
		}
		body = body[:MaxBodyBytes]
	}
	if resp.StatusCode/100 != 2 {
		return restResponse{}, statusError(r.step, resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if resp.StatusCode == http.StatusNoContent || r.ignoreBody {
		return restResponse{status: resp.StatusCode}, nil
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return restResponse{}, badResponse(r.step, resp.StatusCode, "empty body (only 204 may have none)")
	}
	if !json.Valid(body) {
		return restResponse{}, badResponse(r.step, resp.StatusCode, "non-JSON body (Content-Type %q): %s",
			resp.Header.Get("Content-Type"), snippet(body))
	}
	return restResponse{status: resp.StatusCode, body: body}, nil
}

// restURL returns restBase + path + the tokenrealm query (token mode).
func (c *Client) restURL(path string) string {
	if c.query == "" {
		return c.restBase + path
	}
	if strings.Contains(path, "?") {
		return c.restBase + path + "&" + c.query[1:]
	}
	return c.restBase + path + c.query
}

// anonymousPath is "/rest/version/1/anonymous/{U}" (§3.1).
func anonymousPath(user string) string {
	return "/rest/version/1/anonymous/" + escapeSegment(user)
}

// escapeSegment percent-encodes s for use as one path segment: RFC 3986
// pchar characters (unreserved, sub-delims, ':' and '@') stay literal, as
// in the SDK's URLs (e.g. "callee@example.com"); everything else,
// including '/', '?', '#', '%', space and non-ASCII bytes, is encoded.
func escapeSegment(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if isPchar(ch) {
			b.WriteByte(ch)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[ch>>4])
		b.WriteByte(hex[ch&15])
	}
	return b.String()
}

func isPchar(ch byte) bool {
	switch {
	case 'a' <= ch && ch <= 'z', 'A' <= ch && ch <= 'Z', '0' <= ch && ch <= '9':
		return true
	}
	return strings.IndexByte("-._~!$&'()*+,;=:@", ch) >= 0
}
