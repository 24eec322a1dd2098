//go:build !unix

package netio

// msgTrunc: this platform's per-packet read does not report truncation
// through the message flags.
const msgTrunc = 0
